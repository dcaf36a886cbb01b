// Env pass: exactly what the server's environment holds. [env] pass from the
// launcher's environment, then the jail's HOME and PATH, then what runtime
// adapters set, then [env] set, then --env (the launch's own choice, last).
#include <cctype>

#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

std::string server_home(const Profile& profile) {
  if (profile.env.home == Profile::Env::Home::State && !profile.state_dir.empty()) return profile.state_dir + "/home";
  return kPrivateHome;
}

EnvPlan plan_env(Context& c, const std::vector<RuntimeBinds>& runtimes) {
  const Invocation& inv = c.inv;
  std::map<std::string, std::string> env;
  for (const auto& name : c.profile.env.pass) {
    if (name.ends_with('*')) {
      const std::string prefix = name.substr(0, name.size() - 1);
      for (const auto& [k, v] : inv.host_env)
        if (k.starts_with(prefix)) env[k] = v;
    } else if (auto it = inv.host_env.find(name); it != inv.host_env.end()) {
      env[name] = it->second;
    }
  }
  // HOME is the jail's own (server_home()): the launcher's would name a
  // directory the jail does not have, or root's. PATH: a root launch never
  // hands the server root's PATH; a rootless one passes the user's when
  // [env] pass lists it. Either way [env] set and --env may choose.
  env["HOME"] = server_home(c.profile);
  if (inv.euid == 0 || !env.count("PATH")) env["PATH"] = kServerPath;
  for (const auto& r : runtimes) {
    for (const auto& prefix : r.env_drop_prefixes)
      for (auto it = env.begin(); it != env.end();)
        it = lower(it->first).starts_with(lower(prefix)) ? env.erase(it) : std::next(it);
    for (const auto& [k, v] : r.env) env[k] = v;
  }
  for (const auto& [k, v] : c.profile.env.set) env[k] = v;
  // --env, last. NAME alone passes the launcher's value and changes nothing
  // when it has none.
  EnvPlan out;
  for (const auto& a : inv.env_args) {
    std::erase(out.cli_unset, a.name);
    if (a.value) {
      env[a.name] = *a.value;
      out.cli[a.name] = false;
    } else if (auto it = inv.host_env.find(a.name); it != inv.host_env.end()) {
      env[a.name] = it->second;
      out.cli[a.name] = true;
    } else if (!out.cli.count(a.name)) {
      out.cli_unset.push_back(a.name);
    }
  }
  for (const auto& [k, v] : env) out.env.push_back(k + "=" + v);
  for (const auto& [k, v] : inv.host_env)  // std::map: sorted
    if (!env.count(k)) out.dropped.push_back(k);
  return out;
}

}  // namespace mcpjail::planning
