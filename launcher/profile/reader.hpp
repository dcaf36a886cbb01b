// Reading one profile file: the Reader that the keys of the schema
// (schema.cc) use to take their values apart, and the codecs and key
// builders the schema is written with.
//
// Every error names file:line:column (the value at fault, or its key) and
// what is allowed. The Reader collects them; the loader reports all of one
// file together (launcher/profile.cc).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <toml.hpp>
#include <type_traits>
#include <utility>
#include <vector>

#include "mcpjail/profile.hpp"
#include "mcpjail/profile_schema.hpp"

namespace mcpjail::profile_schema {

using TV = toml::basic_value<toml::discard_comments, std::map, std::vector>;
using Table = TV::table_type;

// The name toml11 is given for a profile's text. toml11 copies it into
// every region it makes while parsing (thousands for one profile): a name
// that fits std::string's small buffer costs no allocation there, a path
// does (the parse took half again as long with "<builtin>/base.toml").
// loc_of() gives the name of the innermost DisplayName instead.
inline constexpr const char* kTomlSourceName = "profile";
class DisplayName {
 public:
  explicit DisplayName(const std::string& name);
  ~DisplayName();
  DisplayName(const DisplayName&) = delete;
  DisplayName& operator=(const DisplayName&) = delete;

 private:
  const std::string* outer_;
};

SourceLoc loc_of(const TV& v);
// toml11 locates a value, not its key; this points at the key when it is on
// the same line before the value, which is where a reader looks.
SourceLoc key_loc(const std::string& key, const TV& v);
const char* type_name(const TV& v);  // "a string", "an array", ...

// What one file sets, before it is laid over what it extends.
struct Layer {
  Profile p;
  std::set<const Key*> set;  // the keys this file sets (with a valid value)
  std::optional<std::string> extends;
  SourceLoc extends_loc;
  bool sets(const Key& k) const { return set.count(&k) > 0; }
};

class Reader {
 public:
  explicit Reader(std::string display) : display_(std::move(display)) {}
  virtual ~Reader() = default;
  const std::string& display() const { return display_; }

  void error(const SourceLoc& loc, std::string message) { diags_.push_back({loc, std::move(message)}); }
  std::vector<Diagnostic>& diagnostics() { return diags_; }

  // The key being read: `section` is "" at the top level, or a dotted path
  // for the tables inside arrays ("pin.files").
  void at(const std::string& section, const std::string& key, const TV& value) {
    section_ = section;
    key_ = key;
    value_ = &value;
  }
  const TV& value() const { return *value_; }
  SourceLoc loc() const { return loc_of(*value_); }
  SourceLoc key_loc() const { return profile_schema::key_loc(key_, *value_); }
  std::string what() const;  // "'limits.memory'", "'name'"

  // The value of the current key as a string, a boolean, an array of strings
  // (each with its location) or of paths; nothing after reporting why not.
  std::optional<std::string> string();
  std::optional<bool> boolean();
  std::vector<std::pair<std::string, SourceLoc>> strings();
  // Path lists accept "path", "-path" (optional) and { path = "...", optional = true }.
  std::vector<PathRule> paths();

  // Reports the keys of `t` that are not in `allowed`.
  void check_keys(const Table& t, const std::string& section, const std::vector<std::string>& allowed);

  // Expands ${NAME}, $$ and (for paths) a leading ~. Nothing after an error.
  std::optional<std::string> expand(const std::string& in, const SourceLoc& loc, bool tilde);
  // Expands and normalizes an absolute path.
  std::optional<std::string> expand_path(const std::string& raw, const SourceLoc& loc);

 protected:
  // The value of ${name}, or nothing after reporting why there is none.
  virtual std::optional<std::string> lookup(const std::string& name, const SourceLoc& loc) = 0;

 private:
  std::string display_;
  std::vector<Diagnostic> diags_;
  std::string section_, key_;
  const TV* value_ = nullptr;
};

// ---- Codecs: how a TOML value becomes a member's value -----------------------

template <class T>
struct Codec {
  std::string type;                                    // as mcp-jail-profile(5) writes it
  std::function<std::optional<T>(Reader&)> parse;      // the current value; reports why not
  std::function<std::string(const T&)> text;
};

Codec<std::string> a_string();
Codec<bool> a_boolean();
Codec<std::string> a_path();                         // expanded, absolute, normalized
Codec<std::uint64_t> a_size();                       // "512MiB" or bytes
Codec<std::uint64_t> a_count(std::uint64_t min, std::uint64_t max);
Codec<std::chrono::milliseconds> a_duration();       // "1h30m"

// "a", "b" or "c".
std::string alternatives(const std::vector<std::string>& names);

// A string that must be one of `values` (as written, and the member's value
// for it). `say_value`: the error repeats the value it refuses.
template <class T>
Codec<T> one_of(std::vector<std::pair<std::string, T>> values, bool say_value = false) {
  std::vector<std::string> names;
  for (const auto& v : values) names.push_back(v.first);
  const std::string list = alternatives(names);
  Codec<T> c;
  c.type = list;
  c.parse = [values, list, say_value](Reader& r) -> std::optional<T> {
    auto s = r.string();
    if (!s) return std::nullopt;
    for (const auto& [name, v] : values)
      if (*s == name) return v;
    r.error(r.loc(), r.what() + " must be " + list + (say_value ? ", not \"" + *s + "\"" : ""));
    return std::nullopt;
  };
  c.text = [values](const T& t) {
    for (const auto& [name, v] : values)
      if (v == t) return name;
    return std::string("?");
  };
  return c;
}

// ---- Key builders -------------------------------------------------------------

// A member of Profile, named by the path of member pointers that reaches it:
// Field<&Profile::limits, &Profile::Limits::memory> (a fold over .*).
template <auto... Path>
struct Field {
  static auto& in(Profile& p) { return (p .* ... .* Path); }
  static const auto& in(const Profile& p) { return (p .* ... .* Path); }
};
struct NoLoc {};
// 0: no location member; 1: a SourceLoc; 2: a vector<SourceLoc>.
template <class Loc>
constexpr int loc_kind() {
  if constexpr (std::is_same_v<Loc, NoLoc>) return 0;
  else if constexpr (std::is_same_v<std::remove_cvref_t<decltype(Loc::in(std::declval<Profile&>()))>, SourceLoc>)
    return 1;
  else return 2;
}
enum class LocOf { Value, FirstKey };  // where a scalar's SourceLoc member points

template <class Loc>
void note_loc(Profile& p, const Reader& r, LocOf what) {
  if constexpr (loc_kind<Loc>() == 1) {
    SourceLoc& loc = Loc::in(p);
    if (what == LocOf::Value) loc = r.loc();
    else if (loc.line == 0) loc = r.key_loc();
  }
}

template <class T>
std::vector<std::string> text_of(const Codec<T>& c, const T& v) {
  return {c.text(v)};
}
template <class T>
std::vector<std::string> text_of(const Codec<T>& c, const std::optional<T>& v) {
  if (!v) return {};
  return {c.text(*v)};
}

// One value; a file that sets it replaces the inherited one (Merge::Override,
// or Merge::Own with a fallback). `Loc`, when given, is a SourceLoc member
// set to the value's location, or with LocOf::FirstKey to the key of the
// first of the keys sharing it that the file sets.
template <class F, class Loc = NoLoc, class T>
Key scalar(std::string name, Codec<T> codec, LocOf loc_of_what = LocOf::Value) {
  Key k;
  k.name = std::move(name);
  k.type = codec.type;
  k.read = [codec, loc_of_what](Reader& r, Layer& L) {
    auto v = codec.parse(r);
    if (!v) return false;
    F::in(L.p) = std::move(*v);
    note_loc<Loc>(L.p, r, loc_of_what);
    return true;
  };
  k.apply = [](Profile& into, const Profile& from) {
    F::in(into) = F::in(from);
    if constexpr (!std::is_same_v<Loc, NoLoc>) Loc::in(into) = Loc::in(from);
  };
  k.text = [codec](const Profile& p) { return text_of(codec, F::in(p)); };
  return k;
}

// A list, read by `entry` one string at a time (it reports what it refuses
// and returns false). Merge::Append or Merge::AppendOnce. `Loc`, when given,
// is a vector<SourceLoc> member (one per entry) or a SourceLoc member (the
// first entry's).
template <class F, class Loc = NoLoc>
Key list(std::string name, std::string type, Merge merge,
         std::function<bool(Reader&, const std::string&, const SourceLoc&)> entry) {
  Key k;
  k.name = std::move(name);
  k.type = std::move(type);
  k.merge = merge;
  k.read = [entry](Reader& r, Layer& L) {
    auto& to = F::in(L.p);
    for (auto& [s, loc] : r.strings()) {
      if (entry && !entry(r, s, loc)) continue;
      if constexpr (loc_kind<Loc>() == 1) {
        if (to.empty()) Loc::in(L.p) = loc;
      } else if constexpr (loc_kind<Loc>() == 2) {
        Loc::in(L.p).push_back(loc);
      }
      to.push_back(s);
    }
    return true;
  };
  k.apply = [merge](Profile& into, const Profile& from) {
    auto& to = F::in(into);
    const auto& add = F::in(from);
    for (std::size_t i = 0; i < add.size(); ++i) {
      if (merge == Merge::AppendOnce && std::find(to.begin(), to.end(), add[i]) != to.end()) continue;
      if constexpr (loc_kind<Loc>() == 1) {
        if (to.empty()) Loc::in(into) = Loc::in(from);
      } else if constexpr (loc_kind<Loc>() == 2) {
        Loc::in(into).push_back(Loc::in(from)[i]);
      }
      to.push_back(add[i]);
    }
  };
  k.text = [](const Profile& p) { return F::in(p); };
  return k;
}

// A list of paths (Merge::Append). `no_optional`: the error for an entry
// marked optional, where that has no meaning.
template <class F>
Key path_list(std::string name, std::string no_optional = "") {
  Key k;
  k.name = std::move(name);
  k.type = "Array of paths";
  k.merge = Merge::Append;
  k.read = [no_optional](Reader& r, Layer& L) {
    auto& to = F::in(L.p);
    for (auto& rule : r.paths()) {
      if (rule.optional && !no_optional.empty()) r.error(rule.loc, no_optional);
      to.push_back(std::move(rule));
    }
    return true;
  };
  k.apply = [](Profile& into, const Profile& from) {
    F::in(into).insert(F::in(into).end(), F::in(from).begin(), F::in(from).end());
  };
  k.text = [](const Profile& p) {
    std::vector<std::string> out;
    for (const auto& rule : F::in(p)) out.push_back((rule.optional ? "-" : "") + rule.path);
    return out;
  };
  return k;
}

}  // namespace mcpjail::profile_schema
