// The npx adapter. `npx -y @scope/server` (npm's npx-cli.js) fetches a
// package into npm's cache and runs its bin through `sh -c`. In the jail its
// cache is ${PROFILE_STATE}/npm, private to the profile, so one server cannot
// change the packages another one runs; with network "none" it runs offline
// from that cache, filled beforehand outside the jail.
#include "mcpjail/plan/runtime.hpp"

namespace mcpjail::planning {

namespace {

std::string base_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }

// The package npx is asked to run, for the note on filling the cache.
std::string package_spec(const std::vector<std::string>& command) {
  std::string spec;
  for (std::size_t i = 1; i < command.size(); ++i) {
    const std::string& a = command[i];
    if (a == "--") continue;
    if (a == "-p" || a == "--package") {
      if (i + 1 < command.size()) spec = command[++i];
      continue;
    }
    if (a.starts_with("--package=")) {
      spec = a.substr(10);
      continue;
    }
    if (a.starts_with("-")) continue;
    if (spec.empty()) spec = a;
    break;
  }
  return spec.empty() ? "PACKAGE" : spec;
}

class Npx final : public Runtime {
 public:
  std::optional<RuntimeBinds> detect(const RuntimeQuery& q) const override {
    if (q.command.empty()) return std::nullopt;
    const std::string b = base_of(q.command[0]);
    if (b != "npx" && b != "npx-cli.js") return std::nullopt;

    RuntimeBinds r;
    r.runtime = "npx";
    r.state_reason = "npx needs a package cache private to the profile";
    const std::string cache = q.state_dir + "/npm";
    r.binds.push_back({cache, true, "npm package cache", "the command is npx"});
    // npx installs each package into _npx/<hash>/node_modules and runs its
    // bin from there: Landlock needs the directory to exist at launch.
    r.state_dirs.push_back(cache + "/_npx");

    // npm reads its settings from npm_config_* in any letter case: only these reach it.
    r.env_drop_prefixes = {"npm_config_"};
    r.env = {
        {"npm_config_cache", cache},
        {"npm_config_update_notifier", "false"},  // no registry request of its own
        {"npm_config_fund", "false"},
        {"npm_config_audit", "false"},
        {"npm_config_yes", "true"},  // never prompt: stdin is the MCP pipe
    };
    if (q.network == NetMode::None) r.env["npm_config_offline"] = "true";
    else r.env["npm_config_prefer_offline"] = "true";

    // npm runs the package's bin with `sh -c`; the bin is a script inside the
    // profile's cache (node and env come with npx itself).
    r.exec_programs.push_back({"sh", "npx runs packages through sh"});
    r.exec_dirs.push_back(cache + "/_npx");

    // How to fill the cache, for `check`.
    std::string n = "npx: the package cache is " + cache + ", private to this profile; " +
                    (q.network == NetMode::None ? "npx runs offline from it (network none), so fill it beforehand, "
                                                  "outside the jail and without install scripts: "
                                                : "npx prefers it to the registry; to fill it beforehand: ") +
                    "npm_config_cache=" + cache + " npm exec --yes --ignore-scripts --package=" +
                    package_spec(q.command) + " -- true";
    if (q.id.root_mode)
      n += "; then chown -R " + std::to_string(q.id.uid) + ":" + std::to_string(q.id.gid) + " " + q.state_dir +
           " (the server runs as uid " + std::to_string(q.id.uid) + ", and npm writes its cache)";
    r.notes.push_back(std::move(n));
    return r;
  }
};

}  // namespace

const Runtime& npx_runtime() {
  static const Npx npx;
  return npx;
}

}  // namespace mcpjail::planning
