// An empty table of prebuilt seccomp programs: what seccomp_prebuild itself
// links (it builds the real table, see seccomp_prebuild.cc).
#include "mcpjail/seccomp.hpp"

namespace mcpjail::seccomp {
const PrebuiltProgram kPrebuilt[1] = {};
const std::size_t kPrebuiltCount = 0;
const unsigned kPrebuiltLibseccomp[3] = {0, 0, 0};
}  // namespace mcpjail::seccomp
