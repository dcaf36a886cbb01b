// Landlock layer, without the launcher and without mounts: the host's own
// files are plainly there, and only Landlock stands between them and the
// restricted child. Every probe runs in a forked child (a Landlock domain
// cannot be left) and reports failures back through a pipe.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "../support/process.hpp"
#include "../support/files.hpp"
#include "../support/skip.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/landlock.hpp"

namespace fs = std::filesystem;
using mcpjail::LandlockPlan;
using mcpjail::LandlockRule;
using mcpjail::LaunchError;
namespace ll = mcpjail::landlock;

namespace {

// Skips unless the kernel's Landlock ABI is at least `abi`.
#define REQUIRE_ABI(abi)                                                                                  \
  do {                                                                                                    \
    if (ll::abi_version() < (abi))                                                                        \
      SKIP_TEST("needs Landlock ABI " + std::to_string(abi) + ", kernel has " + std::to_string(ll::abi_version())); \
  } while (0)

struct TempTree {
  fs::path root;
  TempTree() {
    char tmpl[] = "/tmp/mcpjail-landlock-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    root = tmpl;
    fs::create_directories(root / "ro" / "sub");
    fs::create_directories(root / "rw");
    fs::create_directories(root / "outside");
    fs::create_directories(root / "bin");
    write(root / "ro" / "file.txt", "readable\n");
    write(root / "ro" / "sub" / "deep.txt", "deep\n");
    write(root / "outside" / "secret.txt", "secret\n");
    write(root / "rw" / "existing.txt", "0123456789\n");
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  static void write(const fs::path& p, const std::string& s) {
    std::ofstream(p) << s;
  }
  std::string operator/(const char* rel) const { return (root / rel).string(); }
};

// The child's report: one line per failed expectation.
class Probe {
 public:
  explicit Probe(int fd) : fd_(fd) {}
  void expect(bool ok, const std::string& what) {
    if (ok) return;
    std::string line = what + "\n";
    (void)!::write(fd_, line.data(), line.size());
  }
  // Expects the call to have failed with `err` (it returned -1).
  void expect_errno(long rc, int err, const std::string& what) {
    int e = errno;
    expect(rc == -1 && e == err, what + ": expected " + std::strerror(err) + ", got " +
                                     (rc == -1 ? std::string(std::strerror(e)) : "success"));
  }
  void expect_ok(long rc, const std::string& what) {
    int e = errno;
    expect(rc != -1, what + ": " + std::strerror(e));
  }

 private:
  int fd_;
};

// Runs `body` in a child with no_new_privs, after applying `plan` (unless
// `plan` is null). Returns the failures, or the exception text of apply().
std::string in_domain(const LandlockPlan* plan, const std::function<void(Probe&)>& body) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    Probe probe(p[1]);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      probe.expect(false, "PR_SET_NO_NEW_PRIVS failed");
      ::_exit(1);
    }
    if (plan) {
      try {
        ll::apply(*plan);
      } catch (const LaunchError& e) {
        probe.expect(false, "apply threw [" + e.layer() + "]: " + e.what());
        ::_exit(2);
      }
    }
    body(probe);
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out = support::drain(p[0]);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  if (!WIFEXITED(st)) out += "child died: status " + std::to_string(st) + "\n";
  return out;
}

// fork + execve from inside the domain: the exit status, or -errno when
// execve itself failed.
int run(const std::string& path, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {path};
  argv.insert(argv.end(), args.begin(), args.end());
  support::SpawnOptions o;
  o.in = o.out = support::Io::inherit();
  o.err = support::Io::null();
  int exec_errno = 0;
  pid_t pid;
  try {
    pid = support::spawn(argv, {"PATH=/usr/bin:/bin"}, o, &exec_errno);
  } catch (const std::exception&) {
    return -1000;
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (exec_errno) return -exec_errno;
  return support::decode_status(st);
}

LandlockPlan base_plan(const TempTree& t) {
  LandlockPlan plan;
  plan.rules = {
      {"/usr", false, false},
      {"/etc", false, false},
      {t / "ro", false, false},
      {t / "rw", true, false},
      {"/dev/null", true, false},
  };
  plan.exec_allow = {"/usr/bin/true"};
  // On kernels without every feature (ABI < 6) test what the kernel has;
  // the refusal itself is tested on its own below.
  plan.best_effort = ll::abi_version() < 6;
  return plan;
}

}  // namespace

TEST_CASE("the kernel reports a Landlock ABI", "[landlock]") {
  REQUIRE_ABI(1);
  int abi = ll::abi_version();
  INFO("Landlock ABI " << abi << ", errata 0x" << std::hex << ll::errata());
  CHECK(abi >= 1);
}

TEST_CASE("missing features per ABI", "[landlock]") {
  LandlockPlan plan;
  CHECK(ll::missing_features(plan, 7).empty());
  CHECK(ll::missing_features(plan, 6).empty());
  auto m5 = ll::missing_features(plan, 5);
  REQUIRE(m5.size() == 2);
  CHECK(m5[0].find("abstract unix socket") != std::string::npos);
  CHECK(m5[1].find("signal") != std::string::npos);
  auto m2 = ll::missing_features(plan, 2);
  CHECK(m2.size() == 4);  // truncate, ioctl_dev, two scopes; tcp is not asked for
  auto m0 = ll::missing_features(plan, 0);
  REQUIRE(m0.size() == 1);
  CHECK(m0[0].find("landlock") == 0);
}

TEST_CASE("exec closure: ELF interpreter, #! interpreters, env lookup", "[landlock]") {
  TempTree t;
  SECTION("a dynamically linked ELF brings its dynamic loader") {
    auto c = ll::exec_closure({"/usr/bin/true"}, "/usr/bin:/bin");
    REQUIRE(c.size() == 2);
    CHECK(c[0].path == "/usr/bin/true");
    CHECK(c[1].why == "ELF interpreter of /usr/bin/true");
    CHECK(fs::exists(c[1].path));
  }
  SECTION("#!/bin/sh brings the shell and its loader") {
    TempTree::write(t.root / "bin" / "script", "#!/bin/sh\nexit 0\n");
    auto c = ll::exec_closure({t / "bin/script"}, "/usr/bin:/bin");
    REQUIRE(c.size() == 3);
    CHECK(c[1].path == "/bin/sh");
    CHECK(c[2].why == "ELF interpreter of /bin/sh");
  }
  SECTION("#!/usr/bin/env -S PROG resolves PROG on PATH") {
    TempTree::write(t.root / "bin" / "script", "#!/usr/bin/env -S true --flag\n");
    auto c = ll::exec_closure({t / "bin/script"}, "relative:/usr/bin:/bin");
    std::vector<std::string> paths;
    for (auto& e : c) paths.push_back(e.path);
    CHECK(std::count(paths.begin(), paths.end(), "/usr/bin/env") == 1);
    CHECK(std::count(paths.begin(), paths.end(), "/usr/bin/true") == 1);
    CHECK(c.size() == 4);  // script, env, true, and one loader shared by env and true
  }
  SECTION("#!/usr/bin/env PROG --flag (without -S) is refused: the kernel passes one word") {
    TempTree::write(t.root / "bin" / "script", "#!/usr/bin/env true --flag\n");
    CHECK_THROWS_WITH(ll::exec_closure({t / "bin/script"}, "/usr/bin"), Catch::Contains("env -S"));
  }
  SECTION("a program missing from PATH, a missing file, an unknown format") {
    TempTree::write(t.root / "bin" / "script", "#!/usr/bin/env no-such-program-xyz\n");
    CHECK_THROWS_WITH(ll::exec_closure({t / "bin/script"}, "/usr/bin"), Catch::Contains("not found on PATH"));
    CHECK_THROWS_AS(ll::exec_closure({t / "bin/missing"}, "/usr/bin"), LaunchError);
    TempTree::write(t.root / "bin" / "data", "just text\n");
    CHECK_THROWS_WITH(ll::exec_closure({t / "bin/data"}, "/usr/bin"), Catch::Contains("neither an ELF"));
    CHECK_THROWS_WITH(ll::exec_closure({"relative/true"}, "/usr/bin"), Catch::Contains("not an absolute path"));
  }
}

TEST_CASE("reads: outside the rules EACCES although plainly there, inside allowed", "[landlock]") {
  REQUIRE_ABI(1);
  TempTree t;
  LandlockPlan plan = base_plan(t);
  std::string secret = t / "outside/secret.txt";
  // Positive control: without a domain the file is readable.
  CHECK(in_domain(nullptr, [&](Probe& p) { p.expect_ok(::open(secret.c_str(), O_RDONLY), "open secret"); }) == "");
  CHECK(in_domain(&plan, [&](Probe& p) {
          struct stat st {};
          p.expect_ok(::stat(secret.c_str(), &st), "stat secret (metadata is not hidden by Landlock)");
          p.expect_errno(::open(secret.c_str(), O_RDONLY), EACCES, "open outside file");
          p.expect_errno(::open((t / "outside").c_str(), O_RDONLY | O_DIRECTORY), EACCES, "list outside dir");
          p.expect_errno(::open("/root", O_RDONLY | O_DIRECTORY), EACCES, "list /root");
          p.expect_errno(::open("/proc/self/status", O_RDONLY), EACCES, "/proc without a rule");
          p.expect_ok(::open((t / "ro/file.txt").c_str(), O_RDONLY), "read inside a read rule");
          p.expect_ok(::open((t / "ro/sub/deep.txt").c_str(), O_RDONLY), "read beneath a read rule");
          p.expect_ok(::open((t / "ro/sub").c_str(), O_RDONLY | O_DIRECTORY), "list beneath a read rule");
          p.expect_ok(::open("/etc/hostname", O_RDONLY), "read /etc");
        }) == "");
}

TEST_CASE("list rule: directories beneath can be listed, their files still not read", "[landlock]") {
  REQUIRE_ABI(1);
  TempTree t;
  LandlockPlan plan = base_plan(t);
  plan.rules.push_back({t.root.string(), false, false, false, true});
  const std::string secret = t / "outside/secret.txt";
  // Negative without the rule: the directory cannot be listed (control of the rule).
  LandlockPlan without = base_plan(t);
  CHECK(in_domain(&without, [&](Probe& p) {
          p.expect_errno(::open((t / "outside").c_str(), O_RDONLY | O_DIRECTORY), EACCES, "list outside dir");
        }) == "");
  CHECK(in_domain(&plan, [&](Probe& p) {
          p.expect_ok(::open(t.root.c_str(), O_RDONLY | O_DIRECTORY), "list the tree");
          p.expect_ok(::open((t / "outside").c_str(), O_RDONLY | O_DIRECTORY), "list beneath it");
          p.expect_errno(::open(secret.c_str(), O_RDONLY), EACCES, "read a file beneath it");
          p.expect_errno(::open((t / "outside/new.txt").c_str(), O_WRONLY | O_CREAT, 0644), EACCES, "create beneath it");
          p.expect_ok(::open((t / "ro/file.txt").c_str(), O_RDONLY), "read inside a read rule");
        }) == "");
  CHECK_THAT(ll::describe(plan), Catch::Contains("list       " + t.root.string() + "  (directory names beneath, not file contents)"));
}

TEST_CASE("writes only where write=true", "[landlock]") {
  REQUIRE_ABI(2);  // rename across directories (refer); truncate needs ABI 3
  const bool has_truncate = ll::abi_version() >= 3;
  TempTree t;
  LandlockPlan plan = base_plan(t);
  CHECK(in_domain(&plan, [&](Probe& p) {
          std::string ro = t / "ro", rw = t / "rw";
          p.expect_errno(::open((ro + "/file.txt").c_str(), O_WRONLY), EACCES, "open read-only file for writing");
          p.expect_errno(::open((ro + "/new").c_str(), O_WRONLY | O_CREAT, 0644), EACCES, "create in read rule");
          p.expect_errno(::mkdir((ro + "/d").c_str(), 0755), EACCES, "mkdir in read rule");
          p.expect_errno(::unlink((ro + "/file.txt").c_str()), EACCES, "unlink in read rule");
          if (has_truncate) p.expect_errno(::truncate((ro + "/file.txt").c_str(), 0), EACCES, "truncate in read rule");
          p.expect_errno(::symlink("x", (ro + "/link").c_str()), EACCES, "symlink in read rule");
          p.expect_errno(::open((t / "outside/new").c_str(), O_WRONLY | O_CREAT, 0644), EACCES, "create outside");

          p.expect_ok(::open((rw + "/new").c_str(), O_WRONLY | O_CREAT, 0644), "create in write rule");
          p.expect_ok(::mkdir((rw + "/d").c_str(), 0755), "mkdir in write rule");
          p.expect_ok(::rename((rw + "/new").c_str(), (rw + "/d/new").c_str()), "rename across dirs (refer)");
          p.expect_ok(::truncate((rw + "/existing.txt").c_str(), 3), "truncate in write rule");
          p.expect_ok(::symlink("x", (rw + "/link").c_str()), "symlink in write rule");
          p.expect_ok(::mkfifo((rw + "/fifo").c_str(), 0600), "mkfifo in write rule");
          p.expect_ok(::unlink((rw + "/d/new").c_str()), "unlink in write rule");
          // Device nodes are never allowed (EACCES from Landlock even for root with CAP_MKNOD).
          p.expect_errno(::mknod((rw + "/null").c_str(), S_IFCHR | 0600, makedev(1, 3)), EACCES, "mknod char dev");
          p.expect_errno(::rename((rw + "/link").c_str(), (ro + "/link").c_str()), EACCES,
                         "move from write rule into read rule");
          p.expect_ok(::open("/dev/null", O_WRONLY), "write /dev/null (file rule)");
        }) == "");
}

TEST_CASE("exec: only the allowed binary and its loader, /bin/sh is refused", "[landlock]") {
  REQUIRE_ABI(1);
  TempTree t;
  LandlockPlan plan = base_plan(t);  // exec_allow = /usr/bin/true
  TempTree::write(t.root / "ro" / "script", "#!/usr/bin/true\n");
  ::chmod((t / "ro/script").c_str(), 0755);
  CHECK(in_domain(&plan, [&](Probe& p) {
          // /usr/bin/true is dynamically linked: libc is mmap'ed with only the
          // read right, the loader runs with the execute right the closure added.
          p.expect(run("/usr/bin/true") == 0, "allowed /usr/bin/true: " + std::to_string(run("/usr/bin/true")));
          p.expect(run("/bin/sh", {"-c", "true"}) == -EACCES, "/bin/sh not refused with EACCES");
          p.expect(run("/usr/bin/env", {"true"}) == -EACCES, "/usr/bin/env not refused");
          p.expect(run(t / "ro/script") == -EACCES, "script without exec right not refused");
        }) == "");
}

TEST_CASE("exec is checked for the ELF interpreter at execve, not for mmap of libraries", "[landlock]") {
  REQUIRE_ABI(1);
  TempTree t;
  fs::copy_file("/usr/bin/true", t.root / "bin" / "true");
  // The execute right on the binary's directory but not on the loader.
  LandlockPlan no_loader = base_plan(t);
  no_loader.exec_allow.clear();
  no_loader.rules.push_back({t / "bin", false, true});
  CHECK(in_domain(&no_loader, [&](Probe& p) {
          p.expect(run(t / "bin/true") == -EACCES, "exec without the loader's execute right must fail EACCES");
        }) == "");
  // Same binary in exec_allow: the closure adds its PT_INTERP and it runs;
  // libc.so.6 has no execute right and is mapped executable all the same.
  LandlockPlan with_loader = base_plan(t);
  with_loader.exec_allow = {t / "bin/true"};
  CHECK(in_domain(&with_loader, [&](Probe& p) {
          p.expect(run(t / "bin/true") == 0, "allowed copy of true with its loader");
          p.expect(run("/usr/bin/true") == -EACCES, "/usr/bin/true is no longer allowed");
        }) == "");
}

TEST_CASE("exec of a #! script brings its interpreter", "[landlock]") {
  REQUIRE_ABI(1);
  TempTree t;
  TempTree::write(t.root / "bin" / "hello", "#!/usr/bin/env -S true arg\n");
  ::chmod((t / "bin/hello").c_str(), 0755);
  LandlockPlan plan = base_plan(t);
  plan.exec_allow = {t / "bin/hello"};
  CHECK(in_domain(&plan, [&](Probe& p) {
          p.expect(run(t / "bin/hello") == 0, "script via env -S runs: " + std::to_string(run(t / "bin/hello")));
          p.expect(run("/bin/sh", {"-c", "true"}) == -EACCES, "/bin/sh still refused");
        }) == "");
}

TEST_CASE("node may run, its child_process.exec of /bin/sh fails with EACCES", "[landlock][node]") {
  REQUIRE_ABI(1);
  if (!fs::exists("/usr/bin/node")) SKIP_TEST("/usr/bin/node is not installed");
  TempTree t;
  LandlockPlan plan = base_plan(t);
  plan.rules.push_back({"/proc", false, false});
  plan.exec_allow = {"/usr/bin/node"};
  const std::string js =
      "const cp = require('child_process');"
      "try { cp.execSync('true', {stdio: 'ignore'}); process.exit(3); }"
      "catch (e) { process.exit(e.code === 'EACCES' ? 0 : 4); }";
  CHECK(in_domain(&plan, [&](Probe& p) {
          p.expect(run("/usr/bin/node", {"-e", "process.exit(0)"}) == 0, "node runs");
          int rc = run("/usr/bin/node", {"-e", js});
          p.expect(rc == 0, "child_process.execSync('/bin/sh -c true') did not fail with EACCES (status " +
                                std::to_string(rc) + ")");
        }) == "");
}

TEST_CASE("abstract unix sockets: outside listener refused, own listener reachable", "[landlock][scope]") {
  REQUIRE_ABI(6);
  TempTree t;
  LandlockPlan plan = base_plan(t);
  auto make_addr = [](const std::string& name, sockaddr_un* a) {
    std::memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    std::memcpy(a->sun_path + 1, name.data(), name.size());
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  };
  std::string outside_name = "mcpjail-test-outside-" + std::to_string(::getpid());
  sockaddr_un a{};
  socklen_t len = make_addr(outside_name, &a);
  int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(l >= 0);
  REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&a), len) == 0);
  REQUIRE(::listen(l, 4) == 0);
  sockaddr_un da{};
  socklen_t dlen = make_addr(outside_name + "-dgram", &da);
  int dl = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(dl >= 0);
  REQUIRE(::bind(dl, reinterpret_cast<sockaddr*>(&da), dlen) == 0);
  // Positive control: reachable without a domain.
  CHECK(in_domain(nullptr, [&](Probe& p) {
          int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
          p.expect_ok(::connect(s, reinterpret_cast<sockaddr*>(&a), len), "connect outside listener, no domain");
          int d = ::socket(AF_UNIX, SOCK_DGRAM, 0);
          p.expect_ok(::sendto(d, "x", 1, 0, reinterpret_cast<sockaddr*>(&da), dlen), "datagram, no domain");
        }) == "");
  CHECK(in_domain(&plan, [&](Probe& p) {
          int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
          p.expect_errno(::connect(s, reinterpret_cast<sockaddr*>(&a), len), EPERM, "connect outside listener");
          int d = ::socket(AF_UNIX, SOCK_DGRAM, 0);
          p.expect_errno(::sendto(d, "x", 1, 0, reinterpret_cast<sockaddr*>(&da), dlen), EPERM,
                         "datagram to outside address");
          // A listener created inside the domain is reachable from inside.
          sockaddr_un in{};
          socklen_t ilen = make_addr("mcpjail-test-inside-" + std::to_string(::getpid()), &in);
          int il = ::socket(AF_UNIX, SOCK_STREAM, 0);
          p.expect_ok(::bind(il, reinterpret_cast<sockaddr*>(&in), ilen), "bind inside");
          p.expect_ok(::listen(il, 4), "listen inside");
          int c = ::socket(AF_UNIX, SOCK_STREAM, 0);
          p.expect_ok(::connect(c, reinterpret_cast<sockaddr*>(&in), ilen), "connect own listener");
          // Pathname sockets are governed by the filesystem rules instead.
          int ps = ::socket(AF_UNIX, SOCK_STREAM, 0);
          sockaddr_un pa{};
          pa.sun_family = AF_UNIX;
          std::string path = t / "rw/sock";
          std::strncpy(pa.sun_path, path.c_str(), sizeof pa.sun_path - 1);
          p.expect_ok(::bind(ps, reinterpret_cast<sockaddr*>(&pa), sizeof pa), "bind pathname socket in write rule");
        }) == "");
  ::close(l);
  ::close(dl);
}

TEST_CASE("signals: the parent outside the domain is refused, an own child is not", "[landlock][scope]") {
  REQUIRE_ABI(6);
  TempTree t;
  LandlockPlan plan = base_plan(t);
  CHECK(in_domain(nullptr, [&](Probe& p) { p.expect_ok(::kill(::getppid(), 0), "kill(parent, 0) without domain"); }) ==
        "");
  CHECK(in_domain(&plan, [&](Probe& p) {
          pid_t parent = ::getppid();
          p.expect_errno(::kill(parent, 0), EPERM, "kill(parent, 0)");
          // SIGURG: ignored by default, harmless should the scope ever fail.
          p.expect_errno(::kill(parent, SIGURG), EPERM, "kill(parent, SIGURG)");
          pid_t child = ::fork();
          if (child == 0) {
            ::pause();
            ::_exit(0);
          }
          p.expect_ok(::kill(child, SIGKILL), "kill own child");
          int st = 0;
          ::waitpid(child, &st, 0);
          p.expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "own child killed");
        }) == "");
}

TEST_CASE("a rule on a path that does not exist is an error, not a silent no-op", "[landlock]") {
  REQUIRE_ABI(1);
  TempTree t;
  LandlockPlan plan = base_plan(t);
  plan.rules.push_back({t / "no-such-dir", true, false});
  std::string out = in_domain(&plan, [](Probe&) {});
  CHECK_THAT(out, Catch::Contains("apply threw [landlock]") && Catch::Contains("no-such-dir") &&
                      Catch::Contains("No such file"));
  LandlockPlan bad_exec = base_plan(t);
  bad_exec.exec_allow = {"/usr/bin/no-such-binary"};
  CHECK_THAT(in_domain(&bad_exec, [](Probe&) {}), Catch::Contains("no-such-binary"));
}

TEST_CASE("an older kernel: fail closed, or best effort with the skipped features listed", "[landlock]") {
  REQUIRE_ABI(1);
  if (ll::abi_version() >= 6) SKIP_TEST("this kernel has every feature a plan needs");
  TempTree t;
  LandlockPlan plan = base_plan(t);
  plan.best_effort = false;
  struct utsname u {};
  ::uname(&u);
  std::string out = in_domain(&plan, [](Probe&) {});
  CHECK_THAT(out, Catch::Contains("apply threw [landlock]") && Catch::Contains("signal scoping") &&
                      Catch::Contains("ABI " + std::to_string(ll::abi_version())) && Catch::Contains(u.release) &&
                      Catch::Contains("best_effort"));
  plan.best_effort = true;
  std::string secret = t / "outside/secret.txt";
  CHECK(in_domain(&plan, [&](Probe& p) {
          // What the ABI has is still enforced.
          p.expect_errno(::open(secret.c_str(), O_RDONLY), EACCES, "open outside file");
          p.expect_ok(::open((t / "ro/file.txt").c_str(), O_RDONLY), "read inside a read rule");
          p.expect(run("/bin/sh", {"-c", "true"}) == -EACCES, "/bin/sh not refused");
        }) == "");
  // The skipped features are returned (checked in a child: apply restricts the caller).
  CHECK(in_domain(nullptr, [&](Probe& p) {
          auto skipped = ll::apply(plan);
          p.expect(!skipped.empty(), "nothing reported as skipped");
          for (const auto& s : skipped) p.expect(s.find("not enforced") != std::string::npos, "odd entry: " + s);
        }) == "");
}

TEST_CASE("apply refuses to run without no_new_privs", "[landlock]") {
  REQUIRE_ABI(1);
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) SKIP_TEST("this test process already has no_new_privs");
  LandlockPlan plan;
  plan.best_effort = true;  // get past the feature check on older kernels
  // Throws before restricting anything, so it is safe in the test process.
  CHECK_THROWS_WITH(ll::apply(plan), Catch::Contains("no_new_privs"));
}

TEST_CASE("describe lists rules, exec and scopes", "[landlock]") {
  LandlockPlan plan;
  plan.rules = {{"/usr", false, false}, {"/work", true, false}};
  plan.exec_allow = {"/usr/bin/node"};
  std::string d = ll::describe(plan);
  INFO(d);
  CHECK_THAT(d, Catch::Contains("ABI") || Catch::Contains("unavailable"));
  CHECK_THAT(d, Catch::Contains("read       /usr"));
  CHECK_THAT(d, Catch::Contains("read+write /work"));
  CHECK_THAT(d, Catch::Contains("execute    /usr/bin/node"));
  CHECK_THAT(d, Catch::Contains("no access  anywhere else"));
  CHECK(d.back() != '\n');  // `check` adds the line end
}
