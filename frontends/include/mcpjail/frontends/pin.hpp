// `mcp-jail pin`: records sha256 pins of a server's files in its profile's
// [pin] section (the hashes and their check are the core's, mcpjail/pin.hpp).
#pragma once
#include <string>
#include <string_view>

#include "mcpjail/pin.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail::cli {
struct Arguments;
}

namespace mcpjail::pin {

// The [pin] section text for `pins`; `comment` becomes a comment line below
// the header.
std::string render_section(const Pins& pins, const std::string& comment);

// `text` with every [pin] / [pin.*] / [[pin.*]] table replaced by `section`
// (at the place of the first), or `section` appended. Everything else stays
// byte-identical.
std::string replace_section(std::string_view text, std::string_view section);

// `mcp-jail pin`: plans the command under the profile, hashes its files and
// rewrites the profile's [pin] section (or prints it, --print). Returns the
// exit status.
int pin_command(const cli::Arguments& args);

}  // namespace mcpjail::pin
