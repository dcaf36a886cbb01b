// What the command line and the launching process contribute to a plan.
#include <pwd.h>
#include <unistd.h>

#include "mcpjail/plan.hpp"
#include "mcpjail/state.hpp"

extern char** environ;

namespace mcpjail {

std::optional<EnvArg> parse_env_arg(const std::string& arg, std::string* why) {
  const auto eq = arg.find('=');
  EnvArg a;
  a.name = arg.substr(0, eq);
  if (eq != std::string::npos) a.value = arg.substr(eq + 1);
  if (!is_env_name(a.name)) {
    if (why)
      // The name only: what follows '=' may be a secret.
      *why = "wants NAME or NAME=VALUE, where NAME is a variable name (letters, digits, _; not starting with a "
             "digit), not \"" + a.name + "\"";
    return std::nullopt;
  }
  return a;
}

Invocation current_invocation() {
  Invocation inv;
  inv.uid = ::getuid();
  inv.euid = ::geteuid();
  inv.gid = ::getgid();
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    inv.host_env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (auto it = inv.host_env.find("HOME"); it != inv.host_env.end() && it->second.starts_with("/")) {
    inv.load.home = normalize_absolute(it->second, nullptr).value_or("");
  } else if (const passwd* pw = ::getpwuid(inv.uid)) {
    inv.load.home = pw->pw_dir;
  }
  inv.load.state_home = xdg_state_home(inv.host_env);
  char buf[4096];
  if (::getcwd(buf, sizeof buf)) inv.load.pwd = buf;
  else inv.load.pwd = "/";
  return inv;
}

}  // namespace mcpjail
