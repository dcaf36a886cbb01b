// Integration tests: real jails, launched as root and rootless, checked from
// inside by jailprobe. Every negative check has a positive control beside it.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "harness.hpp"
#include "../support/files.hpp"
#include "../support/skip.hpp"

using namespace it;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A workspace (writable), a data dir (read-only), secrets to hide, and a
// profile that lists them.
struct Setup {
  Mode mode;
  TempDir ws, data, prof;
  std::string profile;
  explicit Setup(Mode m, const std::string& extra = "") : mode(m), ws(m), data(m), prof(m) {
    ws.file("ok.txt", "workspace file");
    ws.file(".env", "API_KEY=sk-live-secret");
    ws.file("secretdir/key.pem", "-----BEGIN PRIVATE KEY-----");
    data.file("readme.txt", "read only data");
    profile = prof.file("test.toml", R"(version = 1
name = "it"
extends = "base"
[filesystem]
write = ["${WORKSPACE}"]
read = ["${DATA}"]
hide = ["${WORKSPACE}/.env", "${WORKSPACE}/secretdir"]
)" + extra);
  }
  std::vector<std::string> args(const std::vector<std::string>& probe_args, const std::string& cmd = "run") const {
    std::vector<std::string> a = {cmd, profile, "--var", "WORKSPACE=" + ws.path(), "--var", "DATA=" + data.path(),
                                  "--audit-log", "none", "--", Harness::get().probe()};
    a.insert(a.end(), probe_args.begin(), probe_args.end());
    return a;
  }
  Result probe(const std::vector<std::string>& probe_args, const RunOptions& o = {}) const {
    return run(mode, args(probe_args), o);
  }
};

}  // namespace

TEST_CASE("identity: no capabilities at all, no_new_privs, never uid 0") {
  for (Mode m : modes()) {
    Setup s(m);
    EXPECT_PASS(s, "caps-zero");
    EXPECT_PASS(s, "nnp");
    EXPECT_PASS(s, "uid-not-root");
    EXPECT_PASS(s, "uid-is", std::to_string(Harness::get().uid(m)));
    // positive control: the probe can fail
    CHECK(s.probe({"uid-is", "0"}).status == 1);
  }
}

TEST_CASE("filesystem: host files are not there, listed paths are") {
  for (Mode m : modes()) {
    Setup s(m);
    const std::string home = Harness::get().home(m);
    EXPECT_PASS(s, "absent", "/root");
    EXPECT_PASS(s, "absent", home);
    EXPECT_PASS(s, "absent", "/home");
    EXPECT_PASS(s, "absent", "/etc/shadow");
    EXPECT_PASS(s, "absent", "/var");
    EXPECT_PASS(s, "absent", "/run");
    EXPECT_PASS(s, "unreadable", "/etc/shadow");
    // positive controls
    EXPECT_PASS(s, "readable", s.ws.path() + "/ok.txt", "workspace file");
    EXPECT_PASS(s, "readable", s.data.path() + "/readme.txt", "read only data");
    EXPECT_PASS(s, "readable", "/usr/bin/env");
    EXPECT_PASS(s, "readable", "/etc/passwd");
  }
}

TEST_CASE("filesystem: hidden files and directories are unreadable inside a writable tree") {
  for (Mode m : modes()) {
    Setup s(m);
    EXPECT_PASS(s, "unreadable", s.ws.path() + "/.env");
    EXPECT_PASS(s, "unreadable", s.ws.path() + "/secretdir/key.pem");
    EXPECT_PASS(s, "write-fails", s.ws.path() + "/.env");
    EXPECT_PASS(s, "write-fails", s.ws.path() + "/secretdir/new");
    EXPECT_PASS(s, "readable", s.ws.path() + "/ok.txt", "workspace file");  // control
  }
}

TEST_CASE("filesystem: writes only where the profile says") {
  for (Mode m : modes()) {
    Setup s(m);
    for (const std::string p : {"/usr/x", "/etc/x", "/x", "/proc/sys/kernel/core_pattern", "/dev/x"})
      EXPECT_PASS(s, "write-fails", p);
    EXPECT_PASS(s, "write-fails", s.data.path() + "/readme.txt");
    EXPECT_PASS(s, "write-fails", s.data.path() + "/new.txt");
    EXPECT_PASS(s, "mkdir-fails", "/newdir");
    // positive controls: the workspace, /tmp and /dev/shm are writable
    EXPECT_PASS(s, "write-ok", s.ws.path() + "/new.txt", "from the jail");
    CHECK(support::slurp(s.ws.path() + "/new.txt") == "from the jail");
    EXPECT_PASS(s, "write-ok", "/tmp/scratch", "x");
    EXPECT_PASS(s, "write-ok", "/dev/shm/scratch", "x");
  }
}

TEST_CASE("kernel interfaces: /proc, /dev, mounts, network") {
  for (Mode m : modes()) {
    Setup s(m);
    EXPECT_PASS(s, "write-fails", "/proc/sys/kernel/core_pattern");
    EXPECT_PASS(s, "write-fails", "/proc/sysrq-trigger");
    EXPECT_PASS(s, "unreadable", "/proc/kallsyms");
    EXPECT_PASS(s, "readable", "/proc/self/status");  // control
    // init, the create helper (the setup's workspace is a write path with
    // protected names missing) and the probe: host processes invisible
    EXPECT_PASS(s, "max-pids", "3");
    EXPECT_PASS(s, "dev-minimal");
    EXPECT_PASS(s, "mounts-hardened");
    EXPECT_PASS(s, "only-loopback-up");
    EXPECT_PASS(s, "hostname", "mcp-jail");
    EXPECT_PASS(s, "cwd", "/");  // the launcher's cwd is not visible
  }
}

TEST_CASE("inherited file descriptors and environment secrets do not reach the server") {
  for (Mode m : modes()) {
    Setup s(m);
    const int fd = ::open("/etc/hostname", O_RDONLY);  // stands in for a secret the host left open
    REQUIRE(fd >= 0);
    RunOptions o;
    o.inherit_fd = fd;
    auto r = s.probe({"fds-0-1-2"}, o);
    ::close(fd);
    INFO(r.err);
    CHECK(r.status == 0);
    EXPECT_PASS(s, "env-absent", "MCPJAIL_TEST_SECRET");
    EXPECT_PASS(s, "env-is", "HOME", "/mcp-jail/home");  // the jail's own, never the launcher's: control
    EXPECT_PASS(s, "env-is", "LANG", "C.UTF-8");
  }
}

TEST_CASE("run --env passes a variable of the launcher's environment or sets one, everything else stays dropped") {
  for (Mode m : modes()) {
    Setup s(m, "[env]\nset = { MCPJAIL_MODE = \"profile\" }\n");
    RunOptions o;
    o.env = {"MCPJAIL_TEST_TOKEN=tok-123", "MCPJAIL_MODE=launcher"};
    // The probe's arguments, with the --env options before "--".
    auto probe = [&](const std::vector<std::string>& env_opts, const std::vector<std::string>& probe_args) {
      auto a = s.args(probe_args);
      a.insert(std::find(a.begin(), a.end(), "--"), env_opts.begin(), env_opts.end());
      auto r = run(m, a, o);
      INFO(mode_name(m) << ": --env " << (env_opts.empty() ? "(none)" : env_opts.back()) << " / " << probe_args[0]
                        << " " << probe_args[1] << "\nstderr: " << r.err);
      return r;
    };
    // Without --env the launcher's variable is dropped (control), with it it passes.
    CHECK(probe({}, {"env-absent", "MCPJAIL_TEST_TOKEN"}).status == 0);
    CHECK(probe({"--env", "MCPJAIL_TEST_TOKEN"}, {"env-is", "MCPJAIL_TEST_TOKEN", "tok-123"}).status == 0);
    // Only that one: the other secret of the launcher's environment stays out.
    CHECK(probe({"--env", "MCPJAIL_TEST_TOKEN"}, {"env-absent", "MCPJAIL_TEST_SECRET"}).status == 0);
    // NAME=VALUE sets it (the value may hold '='); a name the launcher has not set passes nothing.
    CHECK(probe({"--env", "FOO=bar"}, {"env-is", "FOO", "bar"}).status == 0);
    CHECK(probe({"--env=FOO=a=b"}, {"env-is", "FOO", "a=b"}).status == 0);
    CHECK(probe({"--env", "FOO="}, {"env-is", "FOO", ""}).status == 0);
    CHECK(probe({"--env", "MCPJAIL_UNSET"}, {"env-absent", "MCPJAIL_UNSET"}).status == 0);
    // The profile's env.set holds unless --env says otherwise; the last --env wins.
    CHECK(probe({}, {"env-is", "MCPJAIL_MODE", "profile"}).status == 0);
    CHECK(probe({"--env", "MCPJAIL_MODE"}, {"env-is", "MCPJAIL_MODE", "launcher"}).status == 0);
    CHECK(probe({"--env", "MCPJAIL_MODE", "--env", "MCPJAIL_MODE=cli"}, {"env-is", "MCPJAIL_MODE", "cli"}).status == 0);
    // Names that are not variable names: refused before anything starts, the
    // value (maybe a secret) not echoed.
    for (const char* bad : {"1BAD", "BAD-NAME=s3cret", "=s3cret", "", "A B=s3cret", "LC_*"}) {
      auto r = probe({"--env", bad}, {"exit", "0"});
      CHECK(r.status == 125);
      CHECK_THAT(r.err, Catch::Contains("--env wants NAME or NAME=VALUE"));
      CHECK_THAT(r.err, !Catch::Contains("s3cret"));
    }
  }
}

TEST_CASE("check shows what --env does, without the values taken from the launcher's environment") {
  const Mode m = modes().front();
  Setup s(m);
  RunOptions o;
  o.env = {"MCPJAIL_TEST_TOKEN=tok-123"};
  auto a = s.args({}, "check");
  const std::vector<std::string> env_opts = {"--env", "MCPJAIL_TEST_TOKEN", "--env", "FOO=bar", "--env", "MCPJAIL_UNSET"};
  a.insert(std::find(a.begin(), a.end(), "--"), env_opts.begin(), env_opts.end());
  auto r = run(m, a, o);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("  MCPJAIL_TEST_TOKEN=(7 characters from the launcher's environment, not shown)  --env "
                                    "MCPJAIL_TEST_TOKEN\n"));
  CHECK_THAT(r.out, !Catch::Contains("tok-123"));
  CHECK_THAT(r.out, Catch::Contains("  FOO=bar  --env\n"));
  CHECK_THAT(r.out, Catch::Contains("--env MCPJAIL_UNSET: not set in the launcher's environment, not passed"));
  CHECK_THAT(r.out, !Catch::Contains("MCPJAIL_TEST_SECRET"));
}

TEST_CASE("exit status: the server's own, 128+N, 125, 126, 127") {
  for (Mode m : modes()) {
    Setup s(m);
    CHECK(s.probe({"exit", "0"}).status == 0);
    CHECK(s.probe({"exit", "3"}).status == 3);
    CHECK(s.probe({"kill-self", "9"}).status == 137);
    CHECK(s.probe({"kill-self", "15"}).status == 143);
    auto a = s.args({});
    a.back() = "/nonexistent/server";
    auto r = run(m, a);
    CHECK(r.status == 127);
    CHECK_THAT(r.err, Catch::Contains("not found"));
    a.back() = s.data.path() + "/readme.txt";  // not executable
    CHECK(run(m, a).status == 126);
    const std::string bad = s.prof.file("bad.toml", "version = 1\n[limits]\nmemory = \"lots\"\n");
    r = run(m, {"run", bad, "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("bad.toml:3:10: error:"));
  }
}

TEST_CASE("stdio: stdout carries only the server's bytes, stdin EOF reaches the server") {
  for (Mode m : modes()) {
    Setup s(m);
    auto a = s.args({"echo", "exact-bytes"});
    a[7] = "stderr";  // audit events on stderr must not touch stdout
    auto r = run(m, a);
    CHECK(r.status == 0);
    CHECK(r.out == "exact-bytes");
    CHECK_THAT(r.err, Catch::Contains("\"event\":\"start\""));
    RunOptions o;
    o.stdin_data = std::string(100000, 'x') + "end";
    r = s.probe({"cat"}, o);  // cat ends only at EOF
    CHECK(r.status == 0);
    CHECK(r.out == o.stdin_data);
  }
}

TEST_CASE("signals are forwarded to the server, killing the launcher kills the jail") {
  for (Mode m : modes()) {
    Setup s(m);
    {
      RunOptions o;
      o.close_stdin = false;
      Running r(m, s.args({"term-handler"}), o);
      REQUIRE(r.read_line(20s) == "ready");
      ::kill(r.pid(), SIGTERM);
      CHECK(r.wait(20s).status == 42);  // the server's own handler ran
    }
    {
      Running r(m, s.args({"sleep", "600"}));
      REQUIRE(r.read_line(20s).has_value());
      ::kill(r.pid(), SIGINT);
      CHECK(r.wait(20s).status == 130);
    }
    {
      const std::string marker = "86400";  // an argument no other process here uses
      Running r(m, s.args({"sleep", marker}));
      REQUIRE(r.read_line(20s).has_value());
      CHECK_FALSE(processes_matching("jailprobe sleep " + marker).empty());
      ::kill(r.pid(), SIGKILL);
      r.wait(20s);
      bool gone = false;
      for (int i = 0; i < 100 && !gone; ++i) {
        gone = processes_matching("jailprobe sleep " + marker).empty();
        if (!gone) std::this_thread::sleep_for(50ms);
      }
      CHECK(gone);
    }
  }
}

TEST_CASE("bad input on the command line: clear message, exit 125") {
  const Mode m = modes().front();
  TempDir d(m);
  const std::string garbage = d.file("garbage.toml", std::string("\x7f" "ELF\x01\x02\x00\xff\xfe", 9) + std::string(5000, '\x01'));
  const std::string unreadable = d.file("secret.toml", "version = 1\n", 0000);
  const std::string huge = d.file("huge.toml", "version = 1\n" + std::string(2 << 20, '#'));
  const std::vector<std::vector<std::string>> cases = {
      {"run", d.path() + "/missing.toml", "--", "/bin/true"},
      {"run", d.path() + "/", "--", "/bin/true"},
      {"run", garbage, "--", "/bin/true"},
      {"run", huge, "--", "/bin/true"},
      {"run", "base", "--"},
      {"run", "base", "--", ""},
      {"run", "--", "/bin/true"},
      {"run", "base", "--bogus", "--", "/bin/true"},
      {"run", "base", "--var", "NOEQUALS", "--", "/bin/true"},
      {"frobnicate"},
      {},
  };
  for (const auto& c : cases) {
    auto r = run(m, c);
    std::string all;
    for (const auto& a : c) all += a + " ";
    INFO(all << "\nstderr: " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::StartsWith("mcp-jail") || Catch::Contains("error:"));
    CHECK(r.out.empty());
  }
  if (::geteuid() != 0 || m == Mode::Rootless) {
    auto r = run(m, {"run", unreadable, "--", "/bin/true"});
    CHECK(r.status == 125);
  }
}

TEST_CASE("check prints the plan, profiles lists the built-ins") {
  const Mode m = modes().front();
  Setup s(m);
  auto r = run(m, s.args({}, "check"));
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("rw    " + s.ws.path()));
  CHECK_THAT(r.out, Catch::Contains("hide  " + s.ws.path() + "/.env"));
  CHECK_THAT(r.out, Catch::Contains("command executable"));
  r = run(m, {"profiles"});
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("base") && Catch::Contains("filesystem"));
}

TEST_CASE("200 launches in a row leave no mounts, processes or namespaces behind") {
  auto mountinfo = [] { return support::slurp("/proc/self/mountinfo"); };
  for (Mode m : modes()) {
    Setup s(m);
    const std::string before = mountinfo();
    const auto procs_before = processes_matching(Harness::get().probe()).size();
    int failures = 0;
    for (int i = 0; i < 200; ++i)
      if (s.probe({"exit", "0"}).status != 0) ++failures;
    CHECK(failures == 0);
    CHECK(mountinfo() == before);
    CHECK(processes_matching(Harness::get().probe()).size() == procs_before);
    CHECK(processes_matching(Harness::get().jail()).empty());
  }
}

TEST_CASE("network = host only with allow_host_network, none has loopback only") {
  for (Mode m : modes()) {
    Setup refused(m, "[network]\nmode = \"host\"\n");
    auto r = refused.probe({"exit", "0"});
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("allow_host_network"));
    Setup host(m, "[network]\nmode = \"host\"\nallow_host_network = true\n");
    CHECK(host.probe({"only-loopback-up"}).status == 1);  // the host's interfaces are there
    Setup none(m);
    EXPECT_PASS(none, "only-loopback-up");
  }
}

// /etc/resolv.conf and /etc/hosts are generated; when a profile binds the
// host's whole /etc and those are symlinks into /run (systemd-resolved), the
// generated files appear at the end of the link, on the jail's own root.
TEST_CASE("generated /etc/resolv.conf and /etc/hosts work when the host's are symlinks into /run") {
  if (::geteuid() != 0) SKIP_TEST("needs root (a private mount namespace with a copy of /etc)");
  const Mode m = Mode::Root;
  TempDir prof(m);
  const std::string profile = prof.file("etc.toml", "version = 1\nextends = \"base\"\n[filesystem]\nread = [\"/etc\"]\n");
  (void)Harness::get();  // its copies of the binaries belong to this process, not the child
  char tmpl[] = "/tmp/mcpjail-etc-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string copy = tmpl;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // A private mount namespace in which /etc is a copy whose resolv.conf and
    // hosts are symlinks into /run; the host's /etc is untouched.
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(90);
    ::chmod(copy.c_str(), 0755);
    std::error_code ec;
    fs::copy("/etc", copy, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    fs::remove(copy + "/resolv.conf", ec);
    fs::remove(copy + "/hosts", ec);
    fs::create_symlink("/run/resolve-test/stub-resolv.conf", copy + "/resolv.conf");
    fs::create_symlink("../run/hosts-test", copy + "/hosts");
    if (::mount(copy.c_str(), "/etc", nullptr, MS_BIND | MS_REC, nullptr) != 0) ::_exit(91);
    const auto& h = Harness::get();
    int status = 0;
    for (const auto& check : std::vector<std::vector<std::string>>{
             {"readable", "/etc/resolv.conf"}, {"readable", "/etc/hosts"}, {"readable", "/run/resolve-test/stub-resolv.conf"}}) {
      std::vector<std::string> a = {"run", profile, "--audit-log", "none", "--", h.probe()};
      a.insert(a.end(), check.begin(), check.end());
      const auto r = run(m, a);
      if (r.status != 0) {
        std::fprintf(stderr, "%s %s: %s\n", check[0].c_str(), check[1].c_str(), r.err.c_str());
        status = 1;
      }
    }
    ::_exit(status);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  std::error_code ec;
  fs::remove_all(copy, ec);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("probe: every attempt contained under base, a weak profile's holes are reported") {
  for (Mode m : modes()) {
    auto r = run(m, {"probe", "base"});
    INFO(mode_name(m) << "\n" << r.out << r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("attempts contained."));
    CHECK_THAT(r.out, !Catch::Contains("NOT CONTAINED"));
    CHECK_THAT(r.out, Catch::Contains("32-bit syscall through int 0x80"));
    // A deliberately weak profile: the host's network, $HOME writable, the
    // launcher's MCPJAIL_* variables passed in.
    TempDir d(m);
    const std::string weak = d.file("weak.toml", "version = 1\nextends = \"base\"\n[filesystem]\nwrite = [\"~\"]\n"
                                                 "[network]\nmode = \"host\"\nallow_host_network = true\n"
                                                 "[env]\npass = [\"MCPJAIL_*\"]\n");
    r = run(m, {"probe", weak});
    INFO(r.out << r.err);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("NOT CONTAINED secrets      read the launcher's environment"));
    CHECK_THAT(r.out, Catch::Contains("NOT CONTAINED network      reach a service on the host's loopback"));
    if (m == Mode::Rootless)  // as root the jail's uid cannot read /root anyway
      CHECK_THAT(r.out, Catch::Contains("NOT CONTAINED secrets      read a secret planted"));
  }
}

TEST_CASE("Landlock: with exec.allow = [/usr/bin/node] node runs but cannot start a shell") {
  if (!fs::exists("/usr/bin/node")) SKIP_TEST("/usr/bin/node is not installed");
  for (Mode m : modes()) {
    TempDir d(m);
    const std::string prof = d.file("node.toml", "version = 1\nextends = \"base\"\n[exec]\nallow = [\"/usr/bin/node\"]\n");
    const std::string js =
        "const r = require('child_process').spawnSync('/bin/sh', ['-c', 'true']);"
        "if (r.error && r.error.code === 'ENOENT') process.exit(0);"  // not allowed: looks absent
        "console.error(String(r.error || r.status)); process.exit(1);";
    auto r = run(m, {"run", prof, "--audit-log", "none", "--", "/usr/bin/node", "-e", js});
    INFO(mode_name(m) << ": " << r.err);
    CHECK(r.status == 0);
    r = run(m, {"run", prof, "--audit-log", "none", "--", "/usr/bin/node", "-e", "process.exit(7)"});  // control
    CHECK(r.status == 7);
  }
}

TEST_CASE("seccomp: a denied call fails with EPERM and shows up in the audit log by name") {
  for (Mode m : modes()) {
    Setup s(m);
    auto a = s.args({"unshare-user"});
    a[7] = "stderr";
    const auto r = run(m, a);
    INFO(mode_name(m) << ": " << r.err);
    CHECK(r.status == 0);  // the probe saw EPERM
    CHECK_THAT(r.err, Catch::Contains("\"event\":\"deny\"") && Catch::Contains("\"syscall\":\"unshare\""));
  }
}

namespace {

// A state home (XDG_STATE_HOME) owned by the user who launches the jail:
// root in root mode, the test user rootless. Not below /tmp, which is a
// private tmpfs in the jail (mount points there would be writable).
struct StateHome {
  std::string path;
  explicit StateHome(Mode m) {
    char tmpl[] = "/var/tmp/mcpjail-state-XXXXXX";
    path = ::mkdtemp(tmpl);
    ::chmod(path.c_str(), 0755);
    if (m == Mode::Rootless && ::geteuid() == 0 &&
        ::chown(path.c_str(), Harness::get().uid(m), Harness::get().gid(m)) != 0)
      throw std::runtime_error("chown");
  }
  ~StateHome() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  RunOptions env() const { return RunOptions{.env = {"XDG_STATE_HOME=" + path}}; }
};

struct stat stat_of(const std::string& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) st.st_mode = 0;
  return st;
}

// The watch: what the jail tried, in the audit log and the exit summary.

std::vector<nlohmann::json> read_events(const std::string& file) {
  std::vector<nlohmann::json> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::vector<nlohmann::json> events_of(const std::vector<nlohmann::json>& all, const std::string& type) {
  std::vector<nlohmann::json> out;
  for (const auto& e : all)
    if (e.value("event", "") == type) out.push_back(e);
  return out;
}

std::string dump(const std::vector<nlohmann::json>& events) {
  std::string s;
  for (const auto& e : events) s += e.dump() + "\n";
  return s;
}

// Runs the probe with the audit log in `log` (emptied first).
Result probe_logged(const Setup& s, const std::string& log, const std::vector<std::string>& probe_args) {
  ::unlink(log.c_str());
  auto a = s.args(probe_args);
  a[7] = log;
  return run(s.mode, a);
}

}  // namespace

TEST_CASE("state: ${PROFILE_STATE} is created private to the profile and owned by the jail's user") {
  for (Mode m : modes()) {
    INFO(mode_name(m));
    const auto& h = Harness::get();
    StateHome home(m);
    TempDir d(m);
    const std::string prof = d.file("st.toml", "version = 1\nname = \"it-state\"\nextends = \"base\"\n"
                                               "[filesystem]\nwrite = [\"${PROFILE_STATE}/data/db\"]\n");
    const std::string state = home.path + "/mcp-jail/it-state";
    auto jail = [&](const std::vector<std::string>& probe_args, const std::string& cmd = "run") {
      std::vector<std::string> a = {cmd, prof, "--audit-log", "none"};
      if (cmd == "run") a.insert(a.end(), {"--", h.probe()});
      a.insert(a.end(), probe_args.begin(), probe_args.end());
      return run(m, a, home.env());
    };
    // check shows it and changes nothing
    auto r = jail({}, "check");
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("state        " + state) && Catch::Contains(state + "/data/db  (run creates it)"));
    CHECK_FALSE(fs::exists(home.path + "/mcp-jail"));

    // run creates it; the server writes its state; the host keeps it
    r = jail({"write-ok", state + "/data/db/f", "kept"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(support::slurp(state + "/data/db/f") == "kept");
    const uid_t launcher = m == Mode::Root ? 0 : h.uid(m);
    CHECK(stat_of(home.path + "/mcp-jail").st_uid == launcher);
    CHECK((stat_of(home.path + "/mcp-jail").st_mode & 07777) == 0700);
    for (const auto& p : {state, state + "/data", state + "/data/db"}) {
      INFO(p);
      CHECK(S_ISDIR(stat_of(p).st_mode));
      CHECK(stat_of(p).st_uid == h.uid(m));
      CHECK(stat_of(p).st_gid == h.gid(m));
      CHECK((stat_of(p).st_mode & 07777) == 0700);
    }
    // a second run finds it; nothing else of the state home is there or writable
    CHECK(jail({"readable", state + "/data/db/f", "kept"}).status == 0);
    fs::create_directories(home.path + "/mcp-jail/other");
    std::ofstream(home.path + "/mcp-jail/other/secret") << "other profile's state";
    CHECK(jail({"absent", home.path + "/mcp-jail/other/secret"}).status == 0);
    CHECK(jail({"write-fails", state + "/outside-db"}).status == 0);
    CHECK(jail({"write-ok", state + "/data/db/g", "x"}).status == 0);  // control

    // refused, exit 125, nothing started: ...
    auto refused = [&](const std::string& why) {
      auto rr = jail({"write-ok", state + "/data/db/h", "x"});
      INFO(rr.err);
      CHECK(rr.status == 125);
      CHECK(rr.out.empty());
      CHECK_THAT(rr.err, Catch::Contains(why));
      CHECK_FALSE(fs::exists(state + "/data/db/h"));
    };
    // ... group- or world-writable
    ::chmod(state.c_str(), 0770);
    refused("writable by group or others");
    ::chmod(state.c_str(), 0700);
    // ... owned by someone else
    if (::geteuid() == 0) {
      ::chmod((state + "/data").c_str(), 0755);  // traversable: the owner is what is refused
      REQUIRE(::chown((state + "/data").c_str(), 4242, 4242) == 0);
      refused("owned by uid 4242");
      CHECK(::chown((state + "/data").c_str(), h.uid(m), h.gid(m)) == 0);
      ::chmod((state + "/data").c_str(), 0700);
    }
    // ... a symlink planted below it (the jail can write there)
    fs::rename(state + "/data/db", state + "/data/db.real");
    fs::create_directory_symlink(state + "/data/db.real", state + "/data/db");
    ::lchown((state + "/data/db").c_str(), h.uid(m), h.gid(m));
    refused("symlink");
    fs::remove(state + "/data/db");
    fs::rename(state + "/data/db.real", state + "/data/db");
    // ... the profile's directory itself a symlink
    fs::rename(state, state + ".real");
    fs::create_directory_symlink(state + ".real", state);
    ::lchown(state.c_str(), launcher, launcher == 0 ? 0 : h.gid(m));
    refused("symlink");
    fs::remove(state);
    fs::rename(state + ".real", state);
    CHECK(jail({"readable", state + "/data/db/f", "kept"}).status == 0);  // and fine again
  }
}

TEST_CASE("probe: every built-in profile contains every attempt") {
  // Each built-in profile with what it needs to load. Add new ones here.
  struct Builtin {
    std::string name;
    std::vector<std::string> vars;  // NAME: given a fresh directory owned by the jail's user
  };
  const std::vector<Builtin> builtins = {
      {"base", {}},
      {"filesystem", {"WORKSPACE"}},
      {"git", {"REPO"}},
      {"memory", {}},
      {"everything", {}},
      // fetch (network allowlist) is probed inside the network tests' world,
      // where every address the battery tries is a listener of the test:
      // tests/network/test_network.cc.
  };
  for (Mode m : modes()) {
    StateHome home(m);
    for (const auto& b : builtins) {
      std::vector<std::unique_ptr<TempDir>> dirs;
      std::vector<std::string> args = {"probe", b.name};
      for (const auto& v : b.vars) {
        dirs.push_back(std::make_unique<TempDir>(m));
        args.insert(args.end(), {"--var", v + "=" + dirs.back()->path()});
      }
      const auto r = run(m, args, home.env());
      INFO(mode_name(m) << " " << b.name << "\n" << r.out << r.err);
      CHECK(r.status == 0);
      CHECK_THAT(r.out, Catch::Contains("attempts contained."));
      CHECK_THAT(r.out, !Catch::Contains("NOT CONTAINED"));
    }
  }
}

TEST_CASE("watch: a write outside the write paths fails and is logged as fs_denied, a workspace write is not") {
  for (Mode m : modes()) {
    Setup s(m);
    const std::string log = s.prof.path() + "/audit.jsonl";
    // The read-only root, a read-only bind, a hidden file inside the
    // writable workspace, a directory on the read-only root.
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"write-fails", "/etc/x"}, "/etc/x"},
        {{"write-fails", s.data.path() + "/readme.txt"}, s.data.path() + "/readme.txt"},
        {{"write-fails", s.ws.path() + "/.env"}, s.ws.path() + "/.env"},
        {{"mkdir-fails", "/newdir"}, "/newdir"},
    };
    for (const auto& [probe_args, path] : cases) {
      const auto r = probe_logged(s, log, probe_args);
      const auto events = read_events(log);
      INFO(mode_name(m) << ": " << probe_args[0] << " " << path << "\nstderr: " << r.err << "\nlog:\n" << dump(events));
      CHECK(r.status == 0);  // the write failed inside the jail
      const auto denied = events_of(events, "fs_denied");
      REQUIRE(denied.size() == 1);
      CHECK(denied[0].value("path", "") == path);
      CHECK(denied[0].value("access", "") == "write");
      CHECK(denied[0].value("syscall", "") == (probe_args[0] == "mkdir-fails" ? "mkdir" : "openat"));
      CHECK(denied[0].value("profile", "") == "it");
      CHECK(denied[0].value("launch", "") == events_of(events, "start").at(0).value("launch", "?"));
      CHECK_THAT(r.err, Catch::Contains("mcp-jail: it: blocked 1 write (" + path + ")"));
    }
    // Positive control: the workspace, /tmp and /dev/shm are writable, the
    // writes succeed and nothing is logged or summarised.
    for (const std::string& p : {s.ws.path() + "/new.txt", std::string("/tmp/scratch"), std::string("/dev/shm/scratch")}) {
      const auto r = probe_logged(s, log, {"write-ok", p, "x"});
      const auto events = read_events(log);
      INFO(mode_name(m) << ": write-ok " << p << "\nstderr: " << r.err << "\nlog:\n" << dump(events));
      CHECK(r.status == 0);
      CHECK(events_of(events, "fs_denied").empty());
      CHECK(events_of(events, "exit").size() == 1);
      CHECK_THAT(r.err, !Catch::Contains("blocked"));
    }
  }
}

TEST_CASE("watch: a shell under exec.allow = [/usr/bin/node] fails (ENOENT) and is logged as an exec that is not allowed") {
  if (!fs::exists("/usr/bin/node")) SKIP_TEST("/usr/bin/node is not installed");
  for (Mode m : modes()) {
    TempDir d(m);
    const std::string prof = d.file("node.toml", "version = 1\nname = \"node-only\"\nextends = \"base\"\n"
                                                 "[exec]\nallow = [\"/usr/bin/node\"]\n");
    const std::string log = d.path() + "/audit.jsonl";
    const std::string js =
        "const cp = require('child_process');"
        "const sh = cp.spawnSync('/bin/sh', ['-c', 'true']);"
        "if (!sh.error || sh.error.code !== 'ENOENT') { console.error('sh: ' + (sh.error || sh.status)); process.exit(1); }"
        "const n = cp.spawnSync('/usr/bin/node', ['-e', 'process.exit(3)']);"  // allowed: the control
        "process.exit(n.status === 3 ? 0 : 2);";
    ::unlink(log.c_str());
    const auto r = run(m, {"run", prof, "--audit-log", log, "--", "/usr/bin/node", "-e", js});
    const auto events = read_events(log);
    INFO(mode_name(m) << ": " << r.err << "\nlog:\n" << dump(events));
    CHECK(r.status == 0);
    bool sh = false, node = false;
    for (const auto& e : events_of(events, "exec")) {
      if (e.value("path", "") == "/bin/sh") sh = !e.value("allowed", true);
      if (e.value("path", "") == "/usr/bin/node") node = e.value("allowed", false);
    }
    CHECK(sh);
    CHECK(node);
    CHECK_THAT(r.err, Catch::Contains("mcp-jail: node-only: blocked 1 exec (/bin/sh)"));
  }
}

TEST_CASE("start event: env_dropped names the launcher's variables the jail did not get, never their values") {
  for (Mode m : modes()) {
    Setup s(m);
    const std::string log = s.prof.path() + "/audit.jsonl";
    const auto r = probe_logged(s, log, {"env-absent", "MCPJAIL_TEST_SECRET"});
    const std::string text = support::slurp(log);
    const auto events = read_events(log);
    INFO(mode_name(m) << ": " << r.err << "\nlog:\n" << text);
    CHECK(r.status == 0);
    const auto start = events_of(events, "start");
    REQUIRE(start.size() == 1);
    const auto dropped = start[0].at("env_dropped").get<std::vector<std::string>>();
    CHECK(std::find(dropped.begin(), dropped.end(), "MCPJAIL_TEST_SECRET") != dropped.end());
    CHECK(std::find(dropped.begin(), dropped.end(), "HOME") == dropped.end());  // passed by base
    CHECK(std::find(dropped.begin(), dropped.end(), "PATH") == dropped.end());
    CHECK(text.find("hunter2") == std::string::npos);  // the secret's value is nowhere in the log
    CHECK_THAT(r.err, !Catch::Contains("blocked"));  // nothing was blocked: no summary
  }
}

TEST_CASE("summary: one line on stderr naming what was blocked, with the audit log off too") {
  for (Mode m : modes()) {
    Setup s(m);
    auto r = s.probe({"unshare-user"});  // --audit-log none
    INFO(mode_name(m) << ": " << r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.err, Catch::Contains("mcp-jail: it: blocked 1 syscall (unshare) [launch "));
    r = s.probe({"exit", "0"});  // control
    CHECK(r.status == 0);
    CHECK_THAT(r.err, !Catch::Contains("mcp-jail: it:"));
  }
}

// The server can fail before it reaches its seccomp filter (the supervisor
// sends it while the jail is built), leaving it unread: the launch must still
// end with the jail's own error, and never with a "start" event.
TEST_CASE("a jail that fails before it loads its filter reports its own error, not a start") {
  for (Mode m : modes()) {
    // A working directory the jail's user cannot enter (mode 000): the
    // server stops at chdir, before the seccomp step.
    Setup s(m, "[exec]\ncwd = \"${WORKSPACE}/locked\"\n");
    const std::string locked = s.ws.dir("locked");
    REQUIRE(::chmod(locked.c_str(), 0) == 0);
    auto b = s.args({"exit", "0"});
    b[7] = "stderr";
    const auto r = run(m, b);
    INFO(mode_name(m) << ": " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("mcp-jail: cwd: cannot enter the working directory"));
    CHECK_THAT(r.err, Catch::Contains("\"event\":\"error\""));
    CHECK_THAT(r.err, !Catch::Contains("\"event\":\"start\""));
    // Positive control: the same profile with an enterable directory starts.
    REQUIRE(::chmod(locked.c_str(), 0755) == 0);
    const auto ok = run(m, b);
    INFO(ok.err);
    CHECK(ok.status == 0);
    CHECK_THAT(ok.err, Catch::Contains("\"event\":\"start\""));
  }
}

TEST_CASE("best_effort: a layer left out is named on stderr at start, with the audit log off too") {
  bool seen_skip = false;
  for (Mode m : modes()) {
    INFO(mode_name(m));
    TempDir prof(m);
    const std::string profile = prof.file("be.toml", R"(version = 1
name = "be"
extends = "base"
best_effort = ["limits"]
[limits]
memory = "256M"
)");
    const std::string log = prof.file("audit.jsonl", "", 0600);
    const auto r = run(m, {"run", profile, "--audit-log", log, "--", Harness::get().probe(), "uid-not-root"});
    INFO(r.err);
    REQUIRE(r.status == 0);  // the server ran
    std::string skipped_limits;
    for (const auto& line : support::lines(support::slurp(log))) {
      const auto ev = nlohmann::json::parse(line);
      if (ev.value("event", "") != "start") continue;
      for (const auto& sk : ev.at("skipped"))
        if (sk.get<std::string>().starts_with("limits: ")) skipped_limits = sk.get<std::string>().substr(8);
    }
    // The line on stderr is there exactly when the start event lists the layer.
    const std::string line = "mcp-jail: limits skipped (best_effort): " + skipped_limits;
    CHECK((r.err.find(line) != std::string::npos) == !skipped_limits.empty());
    // As root the limits apply here.
    if (m == Mode::Root) CHECK(skipped_limits.empty());
    if (skipped_limits.empty()) continue;
    seen_skip = true;
    // With the audit log off, the line is still printed.
    const auto quiet = run(m, {"run", profile, "--audit-log", "none", "--", Harness::get().probe(), "uid-not-root"});
    CHECK(quiet.status == 0);
    CHECK(quiet.err.find("mcp-jail: limits skipped (best_effort): ") != std::string::npos);
    // Without best_effort the same launch is refused, naming the layer.
    const std::string strict = prof.file("strict.toml", "version = 1\nname = \"st\"\nextends = \"base\"\n[limits]\nmemory = \"256M\"\n");
    const auto refused = run(m, {"run", strict, "--audit-log", "none", "--", Harness::get().probe(), "uid-not-root"});
    CHECK(refused.status == 125);
    CHECK(refused.err.find("limits") != std::string::npos);
  }
  // Rootless, this machine's cgroups are not delegated to the test user: the
  // skip must have been seen (else the test proved nothing).
  if (::geteuid() == 0) CHECK(seen_skip);
}

TEST_CASE("view: / and every directory above a bound path can be listed, file contents stay limited") {
  for (Mode m : modes()) {
    Setup s(m);
    EXPECT_PASS(s, "list", "/", "usr");
    EXPECT_PASS(s, "list", "/etc", "passwd");
    // each ancestor of the workspace lists the next step down
    const fs::path ws = s.ws.path();
    for (fs::path p = ws; p != p.root_path(); p = p.parent_path())
      EXPECT_PASS(s, "list", p.parent_path().string(), p.filename().string());
    // names, not contents: what the plan does not read stays unreadable
    EXPECT_PASS(s, "unreadable", "/etc/shadow");
    EXPECT_PASS(s, "absent", "/root");
    EXPECT_PASS(s, "unreadable", s.ws.path() + "/.env");  // a hide inside a listed tree
    // control: a listed file is readable, a written one writable
    EXPECT_PASS(s, "readable", s.ws.path() + "/ok.txt", "workspace file");
    EXPECT_PASS(s, "write-ok", s.ws.path() + "/new.txt", "x");
  }
}

TEST_CASE("env: HOME is the jail's own, existing and writable, and PATH is never root's") {
  const std::string host_path = "/opt/mcpjail-host-only/bin:/usr/local/bin:/usr/bin:/bin";
  for (Mode m : modes()) {
    Setup s(m);
    RunOptions o;
    o.env = {"PATH=" + host_path};
    auto probe = [&](const std::vector<std::string>& args) {
      auto r = run(m, s.args(args), o);
      INFO(mode_name(m) << ": " << args[0] << "\n" << r.err);
      CHECK(r.status == 0);
    };
    probe({"env-is", "HOME", "/mcp-jail/home"});
    probe({"write-ok", "/mcp-jail/home/.config", "x"});
    probe({"absent", "/mcp-jail/home/.config"});  // private to each launch: the next one starts empty
    // the launcher's HOME stays out of the jail
    probe({"absent", Harness::get().home(m)});
    if (m == Mode::Root) {
      probe({"env-is", "PATH", "/usr/local/bin:/usr/bin:/bin"});  // not root's
    } else {
      probe({"env-is", "PATH", host_path});  // the user's own, passed by base
    }
    // control: the profile may set both
    Setup set(m, "[env]\nset = { PATH = \"/usr/bin\", HOME = \"/tmp\" }\n");
    auto r = run(m, set.args({"env-is", "PATH", "/usr/bin"}), o);
    INFO(r.err);
    CHECK(r.status == 0);
    r = run(m, set.args({"env-is", "HOME", "/tmp"}), o);
    CHECK(r.status == 0);
  }
}

TEST_CASE("env: env.home = \"state\" keeps HOME in ${PROFILE_STATE}/home between launches") {
  for (Mode m : modes()) {
    INFO(mode_name(m));
    StateHome home(m);
    TempDir d(m);
    const std::string prof = d.file("h.toml", "version = 1\nname = \"it-home\"\nextends = \"base\"\n[env]\nhome = \"state\"\n");
    const std::string h = home.path + "/mcp-jail/it-home/home";
    auto jail = [&](const std::vector<std::string>& probe_args) {
      std::vector<std::string> a = {"run", prof, "--audit-log", "none", "--", Harness::get().probe()};
      a.insert(a.end(), probe_args.begin(), probe_args.end());
      return run(m, a, home.env());
    };
    auto r = jail({"env-is", "HOME", h});
    INFO(r.err);
    CHECK(r.status == 0);
    r = jail({"write-ok", h + "/.gitconfig", "kept"});
    INFO(r.err);
    CHECK(r.status == 0);
    r = jail({"readable", h + "/.gitconfig", "kept"});  // the next launch sees it
    CHECK(r.status == 0);
    CHECK(support::slurp(h + "/.gitconfig") == "kept");
  }
}

TEST_CASE("watch: opening /dev/tty is no blocked write (the server has no terminal: ENXIO)") {
  for (Mode m : modes()) {
    Setup s(m);
    auto a = s.args({"open-errno", "/dev/tty", std::to_string(ENXIO)});
    a[7] = "stderr";
    auto r = run(m, a);
    INFO(mode_name(m) << ": " << r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.err, !Catch::Contains("fs_denied") && !Catch::Contains("blocked"));
    // control: a write the plan does not allow is still reported
    a = s.args({"write-fails", "/usr/mcpjail-not-writable"});
    a[7] = "stderr";
    r = run(m, a);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.err, Catch::Contains("\"event\":\"fs_denied\"") && Catch::Contains("blocked 1 write"));
  }
}
