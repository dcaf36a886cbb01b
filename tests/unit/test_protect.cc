// Protected names (mcpjail/protect.hpp): the names a profile lists, how
// `unprotect` drops them through `extends`, and what the planner makes of a
// write path (read-only binds for what exists, refusals for what does not,
// nested repositories, home directories).
#include "mcpjail/protect.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "../support/plan_world.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/profile.hpp"

using namespace mcpjail;

namespace {

const ProtectedPath* find(const Plan& p, const std::string& path) {
  for (const auto& e : p.protect)
    if (e.path == path) return &e;
  return nullptr;
}

// The entry of `path`; fails the test when the plan has none.
const ProtectedPath& require_entry(const Plan& p, const std::string& path) {
  const ProtectedPath* e = find(p, path);
  REQUIRE(e);
  return *e;
}

const MountStep* bind_at(const Plan& p, const std::string& target) {
  for (const auto& m : p.mounts)
    if (m.kind == MountKind::Bind && m.target == target) return &m;
  return nullptr;
}

const std::string kProfile = "version = 1\nextends = \"base\"\n[filesystem]\nwrite = [\"${WORKSPACE}\"]\n";

}  // namespace

TEST_CASE("protect: names are relative paths without . or .. components") {
  std::string why;
  for (const char* ok : {".envrc", ".git/hooks", ".config/fish/config.fish", "a b/c", "**/.git"}) CHECK(protect::valid_name(ok, &why));
  // "**/" takes one name and only at the start.
  for (const char* bad : {"**/", "**/a/b", "a/**/b", "**", "**/..", "**/**"}) {
    INFO(bad);
    CHECK_FALSE(protect::valid_name(bad, &why));
  }
  CHECK(protect::anywhere_name("**/.git") == ".git");
  CHECK(protect::anywhere_name(".git/hooks").empty());
  for (const char* bad : {"", "/etc/passwd", "a//b", "a/", "../x", ".git/../x", ".", "a/./b", "1/2/3/4/5/6/7/8/9"}) {
    INFO(bad);
    CHECK_FALSE(protect::valid_name(bad, &why));
    CHECK(!why.empty());
  }
}

TEST_CASE("protect: unprotect drops names, \"*\" all of them, and .git/ names apply to nested repositories") {
  const std::vector<std::string> listed = {".git/hooks", ".git/config", ".envrc", ".envrc", ".vscode"};
  CHECK(protect::effective(listed, {}) == std::vector<std::string>{".git/hooks", ".git/config", ".envrc", ".vscode"});
  CHECK(protect::effective(listed, {".envrc", ".not-listed"}) ==
        std::vector<std::string>{".git/hooks", ".git/config", ".vscode"});
  CHECK(protect::effective(listed, {"*"}).empty());
  CHECK(protect::git_dir_names(listed) == std::vector<std::string>{"hooks", "config"});
  CHECK(protect::skip_in_walk("node_modules"));
  CHECK(protect::skip_in_walk(".git"));
  CHECK_FALSE(protect::skip_in_walk("src"));
}

TEST_CASE("protect: base lists the names, an extending profile adds and drops them") {
  LoadOptions o;
  o.home = "/home/alice";
  o.vars["WORKSPACE"] = "/home/alice/ws";
  const Profile base = load_profile("base", o);
  for (const char* n : {".git/hooks", ".git/config", ".gitmodules", ".envrc", ".mcp.json", ".vscode", ".idea", ".claude",
                        ".cursor"})
    CHECK(std::count(base.filesystem.protect.begin(), base.filesystem.protect.end(), n) == 1);
  for (const char* n : {".bashrc", ".profile", ".zshrc", ".config/autostart", ".local/bin"})
    CHECK(std::count(base.filesystem.protect_home.begin(), base.filesystem.protect_home.end(), n) == 1);
  const Profile fsp = load_profile("filesystem", o);
  CHECK(fsp.filesystem.protect == base.filesystem.protect);  // inherited

  const Profile ext = load_profile_text(
      "version = 1\nextends = \"base\"\n[filesystem]\nprotect = [\".tool-versions\", \".envrc\"]\nunprotect = [\".vscode\"]\n",
      "t.toml", "", o);
  const auto eff = protect::effective(ext.filesystem.protect, ext.filesystem.unprotect);
  CHECK(std::count(eff.begin(), eff.end(), ".tool-versions") == 1);
  CHECK(std::count(eff.begin(), eff.end(), ".envrc") == 1);
  CHECK(std::count(eff.begin(), eff.end(), ".vscode") == 0);

  CHECK_THROWS_WITH(load_profile_text("version = 1\n[filesystem]\nprotect = [\"/abs\"]\n", "t.toml", "", o),
                    Catch::Contains("t.toml:3:") && Catch::Contains("relative"));
  CHECK_THROWS_WITH(load_profile_text("version = 1\n[filesystem]\nunprotect = [\"a/../b\"]\n", "t.toml", "", o),
                    Catch::Contains("\"..\""));
}

TEST_CASE("protect: the planner binds what exists read-only and refuses what does not") {
  World w;
  w.dirs({"ws/.git/hooks", "ws/a/b/.git/hooks",
          "ws/node_modules/pkg/.git",  // not walked
          "ws/1/2/3/4/5/.git"});       // deeper than the bound
  w.files({{"ws/.git/config", "[core]\n"}, {"ws/.envrc", "x"}, {"ws/a/b/.git/config", ""}});
  const Plan p = w.plan(kProfile);
  const std::string ws = w.p("ws");

  CHECK(require_entry(p, ws + "/.git/config").state == ProtectedPath::State::Bound);
  const auto* m = bind_at(p, ws + "/.git/config");
  REQUIRE(m);
  CHECK_FALSE(m->writable);
  CHECK_FALSE(m->is_dir);
  CHECK(bind_at(p, ws + "/.git/hooks"));
  CHECK(bind_at(p, ws + "/.envrc"));
  // .git itself becomes a mount point (writable), so it cannot be swapped.
  const auto* gitdir = bind_at(p, ws + "/.git");
  REQUIRE(gitdir);
  CHECK(gitdir->writable);

  const ProtectedPath& mcp = require_entry(p, ws + "/.mcp.json");
  CHECK(mcp.state == ProtectedPath::State::Absent);
  CHECK(mcp.refuse == ws + "/.mcp.json");
  struct stat st {};
  REQUIRE(::stat(ws.c_str(), &st) == 0);
  CHECK(mcp.parent_dev == st.st_dev);
  CHECK(mcp.parent_ino == st.st_ino);
  CHECK_FALSE(bind_at(p, ws + "/.mcp.json"));  // nothing is created for it

  // Nested: found within the depth bound, not in node_modules.
  CHECK(find(p, ws + "/a/b/.git/hooks"));
  CHECK(find(p, ws + "/a/b/.git/config"));
  CHECK_FALSE(find(p, ws + "/node_modules/pkg/.git/config"));
  CHECK_FALSE(find(p, ws + "/1/2/3/4/5/.git/config"));
  CHECK(p.protect_scan.repos == 1);
  CHECK(render_plan(p).find("refused   " + ws + "/.mcp.json") != std::string::npos);
  // Landlock needs no rule of its own for them: the write rule above covers
  // it (the mount makes it read-only).
  for (const auto& r : p.landlock.rules) {
    INFO(r.path);
    CHECK_FALSE(path_is_under(r.path, ws + "/.git"));
  }
  CHECK(std::any_of(p.landlock.rules.begin(), p.landlock.rules.end(),
                    [&](const LandlockRule& r) { return r.path == ws && r.write; }));
}

TEST_CASE("protect: a missing directory on the way is what is refused, a .git file is bound") {
  World w;
  w.dir("ws/sub/.git");  // nested repository without hooks
  w.dir("ws/lnk");
  w.file("ws/lnk/.git", "gitdir: ../.git/modules/lnk\n");
  const Plan p = w.plan(kProfile);
  const std::string ws = w.p("ws");
  const ProtectedPath& hooks = require_entry(p, ws + "/.git/hooks");
  CHECK(hooks.state == ProtectedPath::State::Absent);
  CHECK(hooks.refuse == ws + "/.git");  // no .git at all: .git cannot be created
  CHECK(require_entry(p, ws + "/sub/.git/hooks").refuse == ws + "/sub/.git/hooks");
  CHECK(require_entry(p, ws + "/lnk/.git").state == ProtectedPath::State::Bound);
}

TEST_CASE("protect: the git directories of submodules are protected too") {
  World w;
  w.dirs({"ws/.git/modules/lib/hooks", "ws/lib"});
  w.files({{"ws/.git/modules/lib/HEAD", "ref: refs/heads/main\n"},
           {"ws/.git/modules/lib/config", ""},
           {"ws/lib/.git", "gitdir: ../.git/modules/lib\n"}});
  const Plan p = w.plan(kProfile);
  const std::string ws = w.p("ws");
  CHECK(require_entry(p, ws + "/.git/modules/lib/hooks").state == ProtectedPath::State::Bound);
  CHECK(bind_at(p, ws + "/.git/modules/lib/config"));
  CHECK(bind_at(p, ws + "/lib/.git"));
}

TEST_CASE("protect: home directories get the start-up files, unprotect \"*\" plans nothing") {
  World w;
  w.file("home/alice/.bashrc", "");
  const Plan p = w.plan("version = 1\nextends = \"base\"\n[filesystem]\nwrite = [\"" + w.p("home/alice") + "\"]\n");
  CHECK(find(p, w.p("home/alice/.bashrc")));
  CHECK(find(p, w.p("home/alice/.local/bin")));
  const Plan ws = w.plan(kProfile);  // not a home: no start-up files
  CHECK_FALSE(find(ws, w.p("ws/.bashrc")));
  w.file("ws/.zshrc", "");  // looks like one now
  CHECK(find(w.plan(kProfile), w.p("ws/.bashrc")));
  const Plan none = w.plan(kProfile + "unprotect = [\"*\"]\n");
  CHECK(none.protect.empty());
  CHECK_FALSE(bind_at(none, w.p("ws/.zshrc")));
}
