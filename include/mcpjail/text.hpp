// Small string helpers shared by the launcher and its front-ends: joining,
// shell quoting for command lines shown to a person, one-line messages.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mcpjail {

// The items with `sep` between them.
std::string join(const std::vector<std::string>& items, std::string_view sep);

// Whether `items` holds `item`.
bool contains(const std::vector<std::string>& items, std::string_view item);

// `word` as one word of a POSIX shell command line: as it is when it holds
// only characters no shell treats specially (letters, digits and
// _ - . / = : @ % + ,), else in single quotes with each ' written '\''.
// The empty word is ''. `sh -c "printf %s $(shell_quote(w))"` prints w.
std::string shell_quote(std::string_view word);

// The words quoted with shell_quote and joined by spaces: a command line a
// person can paste into a shell. A first word holding '=' is quoted too (a
// shell would take it for a variable assignment).
std::string shell_join(const std::vector<std::string>& words);

// `s` with control characters and DEL replaced by '?': safe in a one-line
// message.
std::string one_line(std::string s);

// `s` up to its first newline.
std::string first_line(std::string_view s);

// `s` without trailing newlines, carriage returns, blanks and NULs (as /proc
// and /sys files end) and without leading blanks.
std::string trim(std::string_view s);

}  // namespace mcpjail
