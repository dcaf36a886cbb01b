// The supervisor's side of the watch, without a jail: which paths the plan
// lets the server write, the rate limit, the exit summary, env_dropped.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "../support/plan_world.hpp"
#include "mcpjail/audit.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/watch.hpp"

using namespace mcpjail;
namespace fs = std::filesystem;

namespace {

// The planning tests' world with what the watch's profile names: shared
// build scripts and secrets in the workspace, a data directory, a variable
// of the launcher's that the profile sets for the server, and a home that is
// nowhere (the world itself is below /tmp, a tmpfs in the jail).
struct WatchWorld : World {
  WatchWorld() {
    dir("ws/build-scripts");
    dir("ws/secrets");
    dir("data");
  }
  Plan plan(const std::string& text) const {
    Invocation i = inv();
    i.load.home = i.host_env["HOME"] = "/nonexistent-home";
    i.load.vars["DATA"] = p("data");
    i.host_env["NODE_ENV"] = "dev";
    return World::plan(text, i);
  }
};

const char* kWatchProfile = R"(version = 1
extends = "base"
[env]
set = { NODE_ENV = "production" }
[filesystem]
write = ["${WORKSPACE}"]
read = ["${WORKSPACE}/build-scripts", "${DATA}"]
hide = ["${WORKSPACE}/.env", "${WORKSPACE}/secrets"]
)";

}  // namespace

TEST_CASE("watch: the plan's mounts say where the server may write") {
  WatchWorld w;
  const Plan plan = w.plan(kWatchProfile);
  const watch::WriteMap map(plan);
  using V = watch::Verdict;
  // Writable: the write path, the tmpfs, the harmless /dev nodes.
  for (const std::string& p : {w.p("ws"), w.p("ws/new.txt"), w.p("ws/a/b/c"), std::string("/tmp/x"),
                              std::string("/dev/null"), std::string("/dev/shm/x"), std::string("/dev/pts/0"),
                              std::string("/dev/tty"), std::string("/mcp-jail/home/.bashrc")}) {
    INFO(p);
    CHECK(map.judge(p) == V::Writable);
  }
  // Not writable: the read-only root, read-only binds (also inside the
  // writable tree), hidden paths, /proc, the rest of /dev, generated files,
  // places the jail does not have at all.
  for (const std::string& p :
       {std::string("/etc/cron.d/x"), std::string("/usr/local/bin/x"), std::string("/var/spool/cron/crontabs/u"),
        std::string("/x"), std::string("/"), w.p("ws/build-scripts/pre-build.sh"), w.p("ws/build-scripts"),
        w.p("data/x"), w.p("ws/.env"), w.p("ws/secrets/key.pem"), std::string("/proc/sys/kernel/core_pattern"),
        std::string("/dev/x"), std::string("/etc/passwd"), std::string("/etc/resolv.conf"),
        std::string("/nonexistent-home/.bashrc")}) {
    INFO(p);
    CHECK(map.judge(p) == V::NotWritable);
  }
  // Descriptors: what they point at decides.
  for (const std::string p : {"/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/2", "/proc/12/task/13/fd/4"}) {
    INFO(p);
    CHECK(map.judge(p) == V::Unjudged);
  }
}

TEST_CASE("watch: mount steps that are symlinks (merged /usr) are followed") {
  Plan plan;
  plan.mounts = {
      {.kind = MountKind::Bind, .target = "/usr", .source = "/usr"},
      {.kind = MountKind::Symlink, .target = "/bin", .source = "/usr/bin"},
      {.kind = MountKind::Symlink, .target = "/lib", .source = "usr/lib"},  // relative
      {.kind = MountKind::Bind, .target = "/ws", .source = "/ws", .writable = true},
      {.kind = MountKind::Symlink, .target = "/wslink", .source = "/ws"},
  };
  const watch::WriteMap map(plan);
  CHECK(map.judge("/bin/sh") == watch::Verdict::NotWritable);
  CHECK(map.judge("/lib/x.so") == watch::Verdict::NotWritable);
  CHECK(map.judge("/wslink/file") == watch::Verdict::Writable);
  CHECK(map.judge("/wslink") == watch::Verdict::NotWritable);  // the link itself, on the read-only root
}

TEST_CASE("watch: the rate limit folds repeats and holds back floods, and counts what it held back") {
  using C = watch::RateLimit::Clock;
  const auto t0 = C::now();
  watch::RateLimit r(10, 3, std::chrono::seconds(2));
  CHECK(r.admit("a", t0));
  CHECK_FALSE(r.admit("a", t0 + std::chrono::milliseconds(100)));  // a repeat within the window
  CHECK(r.admit("b", t0));
  CHECK(r.admit("c", t0));
  CHECK_FALSE(r.admit("d", t0));  // the burst of 3 is spent
  CHECK(r.take_suppressed() == 2);
  CHECK(r.take_suppressed() == 0);
  CHECK(r.admit("d", t0 + std::chrono::milliseconds(150)));  // refilled at 10 a second
  CHECK(r.admit("a", t0 + std::chrono::seconds(3)));           // the window has passed
}

TEST_CASE("summary: nothing when nothing was blocked, else counts and the first distinct items") {
  Audit quiet("none", "p");
  quiet.event("start", {{"env_dropped", {"X"}}});
  quiet.event("exec", {{"path", "/usr/bin/node"}, {"allowed", true}});
  quiet.event("exit", {{"status", 0}});
  CHECK(quiet.summary().empty());

  Audit a("none", "fs");
  a.event("deny", {{"syscall", "unshare"}, {"allowed", false}});
  a.event("deny", {{"syscall", "ptrace"}, {"allowed", false}});
  for (const char* p : {"/etc/cron.d/x", "/usr/local/bin/x", "/etc/cron.d/x", "/a", "/b"})
    a.event("fs_denied", {{"path", p}, {"access", "write"}});
  a.count("fs_denied", {{"path", "/c"}});  // held back by the rate limit: counted all the same
  a.event("exec", {{"path", "/bin/sh"}, {"allowed", false}});
  for (int i = 0; i < 3; ++i) a.event("net_block", {{"address", "198.18.1.66"}, {"port", 8080}, {"protocol", "tcp"}});
  a.event("net_block", {{"address", "2001:db8::1"}, {"port", 443}, {"protocol", "tcp"}});
  a.event("net_block", {{"address", "198.18.1.67"}, {"protocol", "icmp"}});
  a.count("dns_refused", {{"name", "c2.test"}});
  a.event("limit", {{"which", "memory"}});
  CHECK(a.summary() ==
        "mcp-jail: fs: blocked 2 syscalls (unshare, ptrace), 6 writes (/etc/cron.d/x, /usr/local/bin/x, /a, ...), "
        "1 exec (/bin/sh), 5 connections (198.18.1.66:8080, [2001:db8::1]:443, 198.18.1.67), 1 DNS query (c2.test), "
        "1 limit reached (memory) [launch " + a.launch_id() + "]");

  // What the jail named cannot put control bytes on the operator's terminal.
  Audit esc("none", "e");
  esc.event("fs_denied", {{"path", "/x\n\x1b]0;owned\x07mcp-jail: ok"}, {"access", "write"}});
  CHECK(esc.summary() == "mcp-jail: e: blocked 1 write (/x\\u000a\\u001b]0;owned\\u0007mcp-jail: ok) [launch " +
                             esc.launch_id() + "]");
  // Nor bidi or invisible format characters, nor bytes that are not UTF-8;
  // other characters pass unchanged.
  Audit bidi("none", "b");
  bidi.event("fs_denied", {{"path", "/etc/x\u202egnp.exe\u200b\u2066\xff\xc3\xa9\\"}, {"access", "write"}});
  CHECK(bidi.summary() == "mcp-jail: b: blocked 1 write (/etc/x\\u202egnp.exe\\u200b\\u2066\\xff\xc3\xa9\\\\) [launch " +
                              bidi.launch_id() + "]");
  CHECK(escape_for_terminal("\u200e\u200f\u202a\u2069\xc2\x85\x7f") == "\\u200e\\u200f\\u202a\\u2069\\u0085\\u007f");

  Audit l("none", "lg");
  l.event("deny", {{"syscall", "personality"}, {"allowed", true}});
  CHECK(l.summary() == "mcp-jail: lg: let through by seccomp action \"log\": 1 syscall (personality) [launch " +
                           l.launch_id() + "]");
}

TEST_CASE("plan: env_dropped names the launcher's variables the server does not get") {
  WatchWorld w;
  const Plan plan = w.plan(kWatchProfile);
  // NODE_ENV is set by the profile: the name reaches the server (with the profile's value).
  CHECK(plan.env_dropped == std::vector<std::string>{"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"});
}
