// What the two halves of the host checks share: host_checks.cc (the
// verdicts, pure) and host_inputs.cc (the readers that capture their inputs
// from this host).
#pragma once
#include <pwd.h>
#include <sys/types.h>

#include <sstream>
#include <string>
#include <vector>

#include "mcpjail/text.hpp"

namespace mcpjail::host::detail {

// The whitespace-separated words of `s`.
inline std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

using mcpjail::trim;

}  // namespace mcpjail::host::detail
