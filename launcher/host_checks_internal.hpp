// What the two halves of the host checks share: host_checks.cc (the
// verdicts, pure) and host_inputs.cc (the readers that capture their inputs
// from this host).
#pragma once
#include <pwd.h>
#include <sys/types.h>

#include <sstream>
#include <string>
#include <vector>

namespace mcpjail::host::detail {

// The whitespace-separated words of `s`.
inline std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// `s` without trailing newlines, blanks and NULs (as /proc and /sys files
// end) and without leading blanks.
inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\0')) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) ++b;
  return s.substr(b);
}

}  // namespace mcpjail::host::detail
