// rlimits, applied in the jail before the server starts (inherited by all its
// processes). Memory is limited by the cgroup, never by RLIMIT_AS: Node
// reserves large virtual ranges and breaks under it.
#include <sys/resource.h>

#include <cerrno>
#include <string>

#include "mcpjail/limits.hpp"

namespace mcpjail::limits {

namespace {
void set(int resource, rlim_t value, const char* name) {
  rlimit cur{};
  if (::getrlimit(resource, &cur) != 0) throw LaunchError("limits", errno_text(std::string("getrlimit ") + name, errno));
  if (value > cur.rlim_max)
    throw LaunchError("limits", std::string(name) + " = " + std::to_string(value) + " is above the hard limit this "
                                "process inherited (" + std::to_string(cur.rlim_max) + "); lower it in [limits] or raise the hard limit");
  const rlimit want{value, value};
  if (::setrlimit(resource, &want) != 0) throw LaunchError("limits", errno_text(std::string("setrlimit ") + name, errno));
}
}  // namespace

void apply_rlimits(const LimitsPlan& plan) {
  set(RLIMIT_CORE, 0, "core dumps (RLIMIT_CORE)");
  if (plan.nofile) set(RLIMIT_NOFILE, plan.nofile, "nofile (RLIMIT_NOFILE)");
  if (plan.file_size) set(RLIMIT_FSIZE, plan.file_size, "file_size (RLIMIT_FSIZE)");
}

}  // namespace mcpjail::limits
