// `mcp-jail doctor` and the tun device in run's own errors, on this host, as
// root and rootless (the harness's mcpjail-test user).
//
// /dev/net/tun's mode decides whether a rootless `allowlist` launch works:
// Debian makes it 0666, some hosts keep it 0600. Each test sets the mode it
// needs and puts the original back when it ends, even when it fails (and
// the fixture test "doctor: /dev/net/tun mode restored" does it as well,
// from a state file, should a test process be killed).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../integration/harness.hpp"
#include "../support/skip.hpp"

using namespace it;

namespace {

constexpr const char* kTun = "/dev/net/tun";

void require_root() {
  if (::geteuid() != 0) SKIP_TEST("the doctor tests change /dev/net/tun's mode and run a test user: they need root");
  struct stat st {};
  if (::stat(kTun, &st) != 0 || !S_ISCHR(st.st_mode)) SKIP_TEST("this host has no /dev/net/tun");
}

// Sets /dev/net/tun's mode; the destructor restores the original. The
// original is also written to TUN_STATE for the cleanup fixture.
class TunMode {
 public:
  explicit TunMode(mode_t mode) {
    struct stat st {};
    if (::stat(kTun, &st) != 0) throw std::runtime_error("stat /dev/net/tun");
    original_ = st.st_mode & 07777;
    std::ifstream saved(TUN_STATE);
    unsigned m = 0;
    if (saved >> std::oct >> m) original_ = m;  // an earlier run did not get to restore it
    else std::ofstream(TUN_STATE) << std::oct << original_ << "\n";
    if (::chmod(kTun, mode) != 0) throw std::runtime_error("chmod /dev/net/tun");
  }
  ~TunMode() {
    if (::chmod(kTun, original_) == 0) std::remove(TUN_STATE);
  }
  TunMode(const TunMode&) = delete;
  TunMode& operator=(const TunMode&) = delete;

 private:
  mode_t original_ = 0;
};

Result doctor(Mode m, std::vector<std::string> args) {
  args.insert(args.begin(), "doctor");
  RunOptions o;
  o.timeout = std::chrono::seconds(60);
  return run(m, args, o);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The fix for a /dev/net/tun rootless users cannot open: at once, and for good (a udev rule).
void check_names_tun_fix(const std::string& text) {
  CHECK(has(text, "Fix: chmod 0666 /dev/net/tun"));
  CHECK(has(text, "KERNEL==\"tun\", MODE=\"0666\""));
}

std::string allowlist_profile(const TempDir& td) {
  // Only test-net addresses; the upstream resolver is the world's (never
  // the host's), and /bin/true sends nothing.
  return td.file("allowlist.toml",
                 "version = 1\nname = \"doctor-allowlist\"\nextends = \"base\"\n[network]\nmode = \"allowlist\"\n"
                 "allow = [\"198.18.1.10:8443\"]\ndns = [\"198.18.1.53\"]\n");
}

// The network tests' world (tests/network/world.sh): two namespaces of this
// test, NAME-h playing the host; the launcher runs in NAME-h.
class World {
 public:
  World() : name_("mjd" + std::to_string(::getpid() % 100000)) {
    sh("down");
    if (sh("up") != 0) {
      sh("down");
      throw std::runtime_error("cannot build the test world (world.sh up failed)");
    }
  }
  ~World() { sh("down"); }
  std::string ns() const { return "/run/netns/" + name_ + "-h"; }

 private:
  int sh(const char* what) const {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>(WORLD_SH), const_cast<char*>(what),
                      const_cast<char*>(name_.c_str()), nullptr};
      char env0[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
      char* envp[] = {env0, nullptr};
      ::execve(argv[0], argv, envp);
      ::_exit(127);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  std::string name_;
};

// `mcp-jail run` as the rootless user inside the world's host namespace.
Result run_in_world(const World& w, const std::vector<std::string>& args) {
  const auto& h = Harness::get();
  std::vector<std::string> argv = {"/usr/bin/nsenter", "--net=" + w.ns(), "--"};
  auto l = h.launcher_argv(Mode::Rootless, args);
  argv.insert(argv.end(), l.begin(), l.end());
  // nsenter then setpriv then mcp-jail: run() takes mcp-jail's own words, so
  // start the chain by hand.
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  std::vector<char*> av, ev;
  for (auto& a : argv) av.push_back(a.data());
  av.push_back(nullptr);
  auto env = h.launcher_env(Mode::Rootless, {});
  for (auto& e : env) ev.push_back(e.data());
  ev.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execve(av[0], av.data(), ev.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  Result r;
  auto drain = [](int fd, std::string* s) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) s->append(buf, static_cast<std::size_t>(n));
    ::close(fd);
  };
  drain(out[0], &r.out);
  drain(err[0], &r.err);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace

TEST_CASE("doctor passes as root and rootless on this host with a usable tun device") {
  require_root();
  TunMode tun(0666);
  for (Mode m : modes()) {
    INFO(mode_name(m));
    const Result all = doctor(m, {});
    INFO(all.out << all.err);
    CHECK(all.status == 0);
    CHECK(has(all.out, "base can run here."));
    CHECK(has(all.out, "[ok  ] /dev/net/tun"));
    CHECK(has(all.out, m == Mode::Root ? "root launch" : "rootless launch"));

    TempDir td(m);
    const Result net = doctor(m, {allowlist_profile(td), "--json"});
    INFO(net.out << net.err);
    REQUIRE(net.status == 0);
    const auto j = nlohmann::json::parse(net.out);
    CHECK(j["can_run"] == true);
    CHECK(j["mode"] == (m == Mode::Root ? "root" : "rootless"));
    bool tun_needed = false;
    for (const auto& c : j["checks"])
      if (c["name"] == "/dev/net/tun") tun_needed = c["needed"] == true && c["ok"] == true;
    CHECK(tun_needed);
  }
}

TEST_CASE("doctor with /dev/net/tun 0600: a rootless allowlist profile cannot run, and the device and the fix are named") {
  require_root();
  TunMode tun(0600);
  TempDir td(Mode::Rootless);
  const std::string profile = allowlist_profile(td);

  const Result r = doctor(Mode::Rootless, {profile});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(has(r.out, "[FAIL] /dev/net/tun: /dev/net/tun is mode 0600, owner root:root"));
  check_names_tun_fix(r.out);
  CHECK(has(r.out, "doctor-allowlist can NOT run here: /dev/net/tun."));

  // base needs no tun: it still runs, and the line says so without failing.
  const Result base = doctor(Mode::Rootless, {});
  INFO(base.out << base.err);
  CHECK(base.status == 0);
  CHECK(has(base.out, "[--  ] /dev/net/tun: /dev/net/tun is mode 0600"));

  // Root opens the device whatever its mode.
  TempDir rtd(Mode::Root);
  const Result root = doctor(Mode::Root, {allowlist_profile(rtd)});
  INFO(root.out << root.err);
  CHECK(root.status == 0);
}

TEST_CASE("run: a rootless allowlist launch with /dev/net/tun 0600 stops and names the device and the fix") {
  require_root();
  if (::access("/usr/bin/pasta", X_OK) != 0 || ::access("/usr/bin/nsenter", X_OK) != 0)
    SKIP_TEST("needs pasta (passt) and nsenter");
  World w;
  TempDir td(Mode::Rootless);
  const std::string profile = allowlist_profile(td);
  const std::vector<std::string> args = {"run", profile, "--audit-log", "none", "--", "/bin/true"};
  {
    // Positive control: with the device open to everyone the same launch works.
    TunMode tun(0666);
    const Result ok = run_in_world(w, args);
    INFO(ok.out << ok.err);
    REQUIRE(ok.status == 0);
  }
  TunMode tun(0600);
  const Result r = run_in_world(w, args);
  INFO(r.out << r.err);
  CHECK(r.status == 125);
  CHECK(has(r.err, "mcp-jail: network: pasta could not set up the jail's uplink: /dev/net/tun is mode 0600"));
  check_names_tun_fix(r.err);
}

TEST_CASE("doctor inside a jail, as inside another sandbox, cannot run base and names the refused user namespace and the outer seccomp listener") {
  require_root();
  for (Mode m : modes()) {
    INFO(mode_name(m));
    TempDir td(m);
    // A copy of the binary (the jail runs its command only; mcp-jail itself
    // may not be the jailed command).
    std::ifstream in(Harness::get().jail(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string inner = td.file("inner-mcp-jail", bytes, 0755);
    RunOptions o;
    o.timeout = std::chrono::seconds(60);
    const Result r = run(m, {"run", "base", "--read", td.path(), "--audit-log", "none", "--", inner, "doctor"}, o);
    INFO(r.out << r.err);
    CHECK(r.status == 1);
    CHECK(has(r.out, "[FAIL] user namespaces: "));
    CHECK(has(r.out, "unshare(CLONE_NEWUSER): Operation not permitted"));
    CHECK(has(r.out, "[FAIL] seccomp: this process already runs under a seccomp filter with a notification listener"));
    CHECK(has(r.out, "base can NOT run here: user namespaces, seccomp."));
    // Positive control: the same binary outside any jail finds both.
    const Result outside = doctor(m, {});
    INFO(outside.out);
    CHECK(has(outside.out, "[ok  ] seccomp: "));
    CHECK(has(outside.out, "[ok  ] user namespaces: "));
  }
}
