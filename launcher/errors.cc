#include <cstring>

#include "mcpjail/errors.hpp"

namespace mcpjail {

std::string errno_text(const std::string& what, int err) { return what + ": " + std::strerror(err); }

}  // namespace mcpjail
