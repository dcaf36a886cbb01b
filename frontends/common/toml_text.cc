#include "mcpjail/frontends/toml_text.hpp"

#include <cstdio>

namespace mcpjail::toml_text {

std::string quote(std::string_view s, bool dollar) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else if (ch == '$' && dollar) {
      out += "$$";
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace mcpjail::toml_text
