// Writing profile text: the front-ends that produce TOML (pin's section, the
// profiles wrap and learn write) quote through here.
#pragma once

#include <string>
#include <string_view>

namespace mcpjail::toml_text {

// A TOML basic string. `dollar`: '$' is doubled, for values a profile expands
// (paths and env values: `${NAME}` is a variable, `$$` a literal dollar).
std::string quote(std::string_view s, bool dollar);

}  // namespace mcpjail::toml_text
