// Planning of exec trees (launcher/plan_exec.cc): writable mounts are
// noexec except the trees of [filesystem] exec; the audit's held_back count.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mcpjail/audit.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/profile.hpp"
#include "../support/plan_world.hpp"
#include "../support/scratch.hpp"

using namespace mcpjail;
namespace fs = std::filesystem;

namespace {

struct ExecWorld : support::ScratchDir {
  ExecWorld() : ScratchDir("exec") {
    dirs({"ws/venv/bin", "ws/src", "ro"});
    fs::create_directory_symlink(d / "ws/src", d / "ws/link");
  }
  Plan plan(const std::string& fs_extra) const {
    Invocation i = support::invocation_as_me(p("home"), p("ws"));
    i.load.vars["WORKSPACE"] = p("ws");
    i.load.vars["RO"] = p("ro");
    i.host_env = {{"PATH", "/usr/bin:/bin"}};
    i.command = {"/bin/true"};
    const std::string text = "version = 1\nextends = \"base\"\n[filesystem]\nwrite = [\"${WORKSPACE}\"]\nread = [\"${RO}\"]\n" + fs_extra;
    return make_plan(load_profile_text(text, "t.toml", d.string(), i.load), i);
  }
};

bool landlock_exec(const Plan& p, const std::string& path) {
  for (const auto& r : p.landlock.rules)
    if (r.path == path && r.exec) return true;
  return false;
}

}  // namespace

TEST_CASE("exec trees: writable mounts are noexec unless listed, a listed tree is bound again after its parent") {
  ExecWorld w;
  const auto plain = w.plan("");
  REQUIRE(support::mount_at(plain, w.p("ws")));
  CHECK_FALSE(support::mount_at(plain, w.p("ws"))->exec);
  CHECK_FALSE(support::mount_at(plain, "/tmp")->exec);
  CHECK_FALSE(landlock_exec(plain, w.p("ws")));

  const auto plan = w.plan("exec = [\"${WORKSPACE}/venv\", \"/tmp\", \"${RO}\"]\n");
  const auto* venv = support::mount_at(plan, w.p("ws/venv"));
  REQUIRE(venv);
  CHECK(venv->kind == MountKind::Bind);
  CHECK(venv->writable);
  CHECK(venv->exec);
  CHECK(venv->source == fs::canonical(w.p("ws/venv")).string());
  CHECK_THAT(venv->why, Catch::Contains("filesystem.exec"));
  CHECK_FALSE(support::mount_at(plan, w.p("ws"))->exec);  // the rest of the workspace stays noexec
  CHECK(support::mount_at(plan, "/tmp")->exec);           // a tmpfs listed whole
  CHECK_FALSE(support::mount_at(plan, w.p("ro"))->exec);  // read-only binds are not noexec anyway
  // after the workspace, before the generated files
  std::size_t ws = 0, v = 0, proc = 0;
  for (std::size_t i = 0; i < plan.mounts.size(); ++i) {
    if (plan.mounts[i].target == w.p("ws")) ws = i;
    if (plan.mounts[i].target == w.p("ws/venv")) v = i;
    if (plan.mounts[i].kind == MountKind::Proc) proc = i;
  }
  CHECK(ws < v);
  CHECK(v < proc);
  // Landlock agrees
  CHECK(landlock_exec(plan, w.p("ws/venv")));
  CHECK(landlock_exec(plan, "/tmp"));
  CHECK(landlock_exec(plan, w.p("ro")));
  CHECK_FALSE(landlock_exec(plan, w.p("ws")));
}

TEST_CASE("exec trees: missing, symlinked, invisible or inside a tmpfs is an error, optional is skipped") {
  ExecWorld w;
  CHECK_THROWS_WITH(w.plan("exec = [\"${WORKSPACE}/nope\"]\n"), Catch::Contains("does not exist"));
  CHECK_NOTHROW(w.plan("exec = [\"-${WORKSPACE}/nope\"]\n"));
  CHECK_THROWS_WITH(w.plan("exec = [\"${WORKSPACE}/link\"]\n"), Catch::Contains("symlink"));
  CHECK_THROWS_WITH(w.plan("exec = [\"/opt/nowhere\"]\n"), Catch::Contains("not visible"));
  CHECK_THROWS_WITH(w.plan("exec = [\"/tmp/x\"]\n"), Catch::Contains("inside the tmpfs"));
}

TEST_CASE("audit: the exit event counts the events held back, by kind") {
  char tmpl[] = "/tmp/mcpjail-audit-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    Audit a(tmpl, "t");
    a.hold_back("fs_denied", {{"path", "/x"}});
    a.hold_back("fs_denied", {{"path", "/y"}});
    a.hold_back("exec", {{"path", "/z"}, {"allowed", false}});
    a.event("exit", {{"status", 0}});
    CHECK_THAT(a.summary(), Catch::Contains("2 writes"));
  }
  std::ifstream in(tmpl);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  ::unlink(tmpl);
  const auto j = nlohmann::json::parse(last);
  CHECK(j["event"] == "exit");
  CHECK(j["held_back"]["fs_denied"] == 2);
  CHECK(j["held_back"]["exec"] == 1);
}
