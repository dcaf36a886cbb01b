// The profile schema: every key a profile may hold, in one table.
//
// For each key the table says its name, its type as mcp-jail-profile(5)
// writes it, how it is read and checked (with the error that says what is
// allowed), the Profile member it fills, and how a file that `extends`
// another combines with it. Loading, `extends`, the "unknown key ...;
// allowed: ..." errors and the unit test that holds the man page to the
// schema all walk this table (launcher/profile/schema.cc), so they cannot
// disagree.
//
// Adding a key: add a member to Profile (mcpjail/profile.hpp), one entry to
// its section in launcher/profile/schema.cc (a builder such as `scalar` or
// `list` with a codec such as `a_size()` or `a_count(1, 64)`), a paragraph to
// mcp-jail-profile(5), and examples to tests/unit/test_profile_schema.cc.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "mcpjail/profile.hpp"

namespace mcpjail::profile_schema {

class Reader;  // reads one file (launcher/profile/reader.hpp)
struct Layer;  // what one file sets

// How the value of an extending file combines with the inherited one.
enum class Merge {
  Override,    // a value the extending file sets replaces the inherited one
  Append,      // the extending file's entries follow the inherited ones
  AppendOnce,  // the same, but an entry already inherited is not added again
  ByName,      // a table merged name by name, the extending file winning
  Own,         // not inherited: each file's own value, else its default
  PerFile,     // not merged: every file states it for itself
};
const char* merge_name(Merge m);  // "override", "append", ...

// A key of the tables a key's array holds ([pin] files = [{ path, sha256 }]).
struct EntryKey {
  std::string name;
  bool required = false;
};

struct Key {
  std::string name;
  std::string type;  // as mcp-jail-profile(5) begins the key's paragraph: "Size", "Integer from 1 to 64"
  Merge merge = Merge::Override;
  // Reads the key's value (Reader::value()) into the layer's Profile; false
  // when it set nothing because the value is wrong (the Reader has the error).
  std::function<bool(Reader&, Layer&)> read;
  // Lays the value of `from` (a file that sets this key) over `into`.
  std::function<void(Profile& into, const Profile& from)> apply;
  // Merge::Own: the value of a file that does not set the key (`display` is
  // the file's name as shown in errors).
  std::function<void(Profile& p, const std::string& display)> fallback;
  // The member's value as text, one line per entry (tests, diagnostics).
  std::function<std::vector<std::string>(const Profile&)> text;
  std::string missing;            // non-empty: the key is required; the error when it is absent
  std::vector<EntryKey> entries;  // keys of the tables in this key's array
};

// A table of the profile; the top level is the section named "".
struct Section {
  std::string name;
  std::vector<Key> keys;
};

// Every section, the top level first, in the order files are read.
const std::vector<Section>& sections();

// The names a table may hold: its keys, and for the top level the sections
// as well ("allowed: ..." in errors).
std::vector<std::string> allowed_keys(const Section& s);

}  // namespace mcpjail::profile_schema
