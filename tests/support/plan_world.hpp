// The planning tests' world: a scratch tree (removed afterwards) with a home,
// a workspace, installed and project Node code, and the invocation of a user
// whose home and workspace these are; and a plan's mount step by its target.
// Shared by the planning unit tests.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "mcpjail/plan.hpp"
#include "scratch.hpp"

namespace support {

// The (first) mount step whose target is `target`, or null.
inline const mcpjail::MountStep* mount_at(const mcpjail::Plan& p, const std::string& target) {
  for (const auto& m : p.mounts)
    if (m.target == target) return &m;
  return nullptr;
}

}  // namespace support

struct World : support::ScratchDir {
  World() : ScratchDir("plan") {
    dir("home/alice/.ssh");
    file("home/alice/.ssh/id_rsa", "KEY");
    dir("ws/sub");
    file("ws/.env", "SECRET=1");
    dir("opt/app/node_modules/@scope/pkg/dist");
    dir("opt/app/node_modules/@scope/pkg/node_modules/dep");
    file("opt/app/node_modules/@scope/pkg/dist/index.js", "");
    dir("proj/src/deep");
    file("proj/package.json", "{}");
    file("proj/src/deep/server.js", "");
    file("home/alice/loose.js", "");
  }
  void file(const std::string& rel, const std::string& content) const { std::ofstream(d / rel) << content; }
  // Files (path, content) in directories that exist.
  void files(std::initializer_list<std::pair<std::string, std::string>> entries) const {
    for (const auto& [rel, content] : entries) file(rel, content);
  }

  // Alice running `command` from her workspace, ${WORKSPACE} set to it, with
  // secrets in her environment.
  mcpjail::Invocation inv(std::vector<std::string> command = {"/bin/true"}) const {
    mcpjail::Invocation i = support::invocation_as_me(p("home/alice"), p("ws"));
    i.load.vars["WORKSPACE"] = p("ws");
    i.host_env = {{"PATH", "/usr/bin:/bin"}, {"HOME", p("home/alice")}, {"LANG", "C.UTF-8"},
                  {"LC_ALL", "C"}, {"AWS_SECRET_ACCESS_KEY", "hunter2"}, {"GITHUB_TOKEN", "ghp_x"}};
    i.command = std::move(command);
    return i;
  }

  // The plan of profile `text` (as if read from t.toml in the tree).
  mcpjail::Plan plan(const std::string& text, const mcpjail::Invocation& i) const {
    const mcpjail::Profile pr = mcpjail::load_profile_text(text, "t.toml", d.string(), i.load);
    return mcpjail::make_plan(pr, i);
  }
  mcpjail::Plan plan(const std::string& text) const { return plan(text, inv()); }
};
