// cgroup limits: layout detection (pure), then real cgroups as root: a fork
// bomb under pids=32, a memory bomb under 64 MiB, a cpu quota, cleanup; and
// the rootless refusal, from a helper run as an unprivileged user.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/files.hpp"
#include "../support/pre_main.hpp"
#include "../support/process.hpp"
#include "../support/skip.hpp"
#include "../support/test_user.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/limits.hpp"

namespace fs = std::filesystem;
using mcpjail::LaunchError;
using mcpjail::LimitsPlan;
using namespace mcpjail::limits;
using Clock = std::chrono::steady_clock;

namespace {

#define REQUIRE_ROOT() \
  do {                 \
    if (::geteuid() != 0) SKIP_TEST("needs root (creates cgroups)"); \
  } while (0)

std::string launch_id(const char* what) {
  static int n = 0;
  return std::string("test-") + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

using support::slurp;

std::size_t count_lines(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A child that waits until released, so it can be moved into the cgroup first.
struct Held {
  pid_t pid = -1;
  int go = -1;
  void release() {
    char b = 'g';
    REQUIRE(::write(go, &b, 1) == 1);
    ::close(go);
  }
};
Held hold(const std::function<int()>& body) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[1]);
    char b;
    if (::read(p[0], &b, 1) != 1) ::_exit(99);
    ::_exit(body());
  }
  ::close(p[0]);
  return {pid, p[1]};
}

// Reaps every child (the bombs' orphans come here: this process is a subreaper).
void reap_all() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

bool has_controllers(const std::string& dir, const std::vector<std::string>& want) {
  std::istringstream in(slurp(dir + "/cgroup.subtree_control"));
  std::vector<std::string> have;
  for (std::string w; in >> w;) have.push_back(w);
  for (const auto& c : want)
    if (std::find(have.begin(), have.end(), c) == have.end()) return false;
  return true;
}

std::string dir_with(const Cgroup& cg, const char* file) {
  for (const auto& p : cg.paths())
    if (fs::exists(fs::path(p) / file)) return p;
  return {};
}

// The cgroup of a launch of this run named after `what`, with `plan`'s
// limits; fails the test when none is made.
std::unique_ptr<Cgroup> limited(const LimitsPlan& plan, const char* what) {
  std::string skipped;
  auto cg = create_cgroup(plan, launch_id(what), false, &skipped);
  REQUIRE(cg);
  return cg;
}

// The directory of `cg` that holds `file`; fails the test when none does.
std::string require_dir_with(const Cgroup& cg, const char* file) {
  std::string dir = dir_with(cg, file);
  REQUIRE(!dir.empty());
  return dir;
}

// Runs this binary as the test user through setpriv; returns what it wrote.
std::string run_as_test_user(const std::vector<std::string>& args) {
  const support::User u = support::test_user();
  // A copy the user can execute, whatever the permissions of the build tree.
  char tmpl[] = "/tmp/mcpjail-limits-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  fs::path dir = tmpl;
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  fs::copy_file(fs::read_symlink("/proc/self/exe"), dir / "helper");
  fs::permissions(dir / "helper", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
  std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=" + std::to_string(u.uid),
                                   "--regid=" + std::to_string(u.gid), "--clear-groups", (dir / "helper").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const support::Output r = support::run(argv, {"PATH=/usr/bin:/bin"});
  fs::remove_all(dir);
  const std::string out = r.out + r.err;
  INFO(out);
  REQUIRE(r.status == 0);
  return out;
}

// The helper's side: tries create_cgroup and prints what happened.
int rootless_helper(bool best_effort) {
  LimitsPlan plan;
  plan.memory = 64ULL << 20;
  plan.pids = 16;
  std::printf("uid=%d\n", static_cast<int>(::getuid()));
  try {
    std::string skipped;
    auto cg = create_cgroup(plan, "rootless-" + std::to_string(::getpid()), best_effort, &skipped);
    if (cg)
      std::printf("CREATED %s\nSKIPPED %s\n", cg->describe().c_str(), skipped.c_str());
    else
      std::printf("NULL\nSKIPPED %s\n", skipped.c_str());
  } catch (const LaunchError& e) {
    std::printf("THROW layer=%s\nMESSAGE %s\n", e.layer().c_str(), e.what());
  }
  return 0;
}

}  // namespace

// `limits_test --rootless-helper 0|1`: the helper side, run as the test user.
// Otherwise the tests, as a subreaper (the bombs' orphans come here).
int mcpjail_test_pre_main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--rootless-helper") == 0) return rootless_helper(std::strcmp(argv[2], "1") == 0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  return -1;
}

// ---- Layout (pure) ----------------------------------------------------------

TEST_CASE("layout: hybrid host (v1 memory/pids/cpu, v2 with hugetlb only)", "[limits][layout]") {
  const std::string mountinfo =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
  const std::string cg = "9:name=systemd:/user.slice\n4:memory:/user.slice\n1:cpu,cpuacct:/\n0::/user.slice/s.scope\n";
  CgroupLayout l = parse_cgroup_layout(mountinfo, cg);
  l.v2_controllers = {"hugetlb"};
  REQUIRE(l.v1.size() == 3);
  CHECK(l.v1[0].mount == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(l.v1[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
  CHECK(l.v2_mount == "/sys/fs/cgroup/unified");
  CHECK(l.v2_own == "/sys/fs/cgroup/unified/user.slice/s.scope");
  CHECK(l.version_of("memory") == "v1");
  CHECK(l.version_of("pids") == "v1");
  CHECK(l.version_of("cpu") == "v1");
  CHECK(l.version_of("hugetlb") == "v2");
  CHECK(l.version_of("rdma") == "");
}

TEST_CASE("layout: pure v2, own cgroup, subtree mounts and escaped paths", "[limits][layout]") {
  SECTION("systemd v2 host") {
    CgroupLayout l = parse_cgroup_layout(
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
        "0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope\n");
    l.v2_controllers = {"cpuset", "cpu", "io", "memory", "pids"};
    CHECK(l.v1.empty());
    CHECK(l.v2_own == "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope");
    CHECK(l.version_of("memory") == "v2");
    CHECK(l.version_of("cpu") == "v2");
  }
  SECTION("root cgroup") {
    CgroupLayout l = parse_cgroup_layout("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/\n");
    CHECK(l.v2_own == "/sys/fs/cgroup");
  }
  SECTION("a container's bind mount of a subtree") {
    CgroupLayout l = parse_cgroup_layout("30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
                                         "0::/docker/abc/inner\n");
    CHECK(l.v2_own == "/sys/fs/cgroup/inner");
  }
  SECTION("outside the cgroup namespace") {
    CgroupLayout l = parse_cgroup_layout("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/../other\n");
    CHECK(l.v2_own.empty());
  }
  SECTION("octal escapes in mount points") {
    CgroupLayout l = parse_cgroup_layout("30 23 0:26 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n", "0::/a\n");
    CHECK(l.v2_mount == "/mnt/cg two");
    CHECK(l.v2_own == "/mnt/cg two/a");
  }
}

TEST_CASE("this host's layout", "[limits][layout]") {
  CgroupLayout l = detect_cgroup_layout();
  for (const char* c : {"memory", "pids", "cpu"}) INFO(c << ": " << l.version_of(c));
  INFO("v2 mount: " << l.v2_mount << ", own: " << l.v2_own);
  CHECK(!l.version_of("memory").empty());
  CHECK(!l.version_of("pids").empty());
  LimitsPlan plan;
  plan.memory = 1 << 30;
  plan.pids = 64;
  const std::string d = describe_cgroups(plan);
  INFO(d);
  CHECK_THAT(d, Catch::StartsWith("memory: cgroup v") && Catch::Contains("; pids: cgroup v"));
  CHECK(describe_cgroups(LimitsPlan{}).empty());
}

TEST_CASE("no cgroup limit means nothing to create, bad values are refused", "[limits]") {
  LimitsPlan plan;
  plan.nofile = 100;
  std::string skipped;
  CHECK(create_cgroup(plan, "x", false, &skipped) == nullptr);
  CHECK(skipped.empty());
  plan.pids = 10;
  CHECK_THROWS_WITH(create_cgroup(plan, "../escape", false, &skipped), Catch::Contains("invalid launch id"));
  CHECK_THROWS_WITH(create_cgroup(plan, "", false, &skipped), Catch::Contains("invalid launch id"));
  plan.pids = 0;
  CHECK_THROWS_AS(create_cgroup(plan, "ok", false, &skipped), LaunchError);
  plan.pids.reset();
  plan.cpu = -1;
  CHECK_THROWS_WITH(create_cgroup(plan, "ok", false, &skipped), Catch::Contains("cpu"));
}

// ---- Real cgroups (root) ----------------------------------------------------

TEST_CASE("limits are written where they belong", "[limits][root]") {
  REQUIRE_ROOT();
  LimitsPlan plan;
  plan.memory = 64ULL << 20;
  plan.pids = 32;
  plan.cpu = 0.5;
  std::string skipped;
  auto cg = create_cgroup(plan, launch_id("files"), false, &skipped);
  REQUIRE(cg);
  CHECK(skipped.empty());
  INFO(cg->describe());
  const std::vector<std::string> paths = cg->paths();
  CgroupLayout l = detect_cgroup_layout();
  if (l.version_of("pids") == "v1") {
    std::string d = dir_with(*cg, "pids.max");
    CHECK(slurp(d + "/pids.max") == "32\n");
    CHECK(slurp(d + "/memory.limit_in_bytes").empty());  // one directory per v1 hierarchy
  } else {
    CHECK(slurp(dir_with(*cg, "pids.max") + "/pids.max") == "32\n");
  }
  if (l.version_of("memory") == "v1") {
    std::string d = dir_with(*cg, "memory.limit_in_bytes");
    CHECK(slurp(d + "/memory.limit_in_bytes") == "67108864\n");
    if (fs::exists(d + "/memory.memsw.limit_in_bytes")) CHECK(slurp(d + "/memory.memsw.limit_in_bytes") == "67108864\n");
  } else {
    std::string d = dir_with(*cg, "memory.max");
    CHECK(slurp(d + "/memory.max") == "67108864\n");
    if (fs::exists(d + "/memory.swap.max")) CHECK(slurp(d + "/memory.swap.max") == "0\n");
  }
  if (l.version_of("cpu") == "v1") {
    std::string d = dir_with(*cg, "cpu.cfs_quota_us");
    CHECK(slurp(d + "/cpu.cfs_quota_us") == "50000\n");
    CHECK(slurp(d + "/cpu.cfs_period_us") == "100000\n");
  } else if (l.version_of("cpu") == "v2") {
    CHECK(slurp(dir_with(*cg, "cpu.max") + "/cpu.max") == "50000 100000\n");
  }
  for (const auto& p : paths) CHECK(p.find("/mcp-jail/test-files-") != std::string::npos);
  cg.reset();
  for (const auto& p : paths) CHECK_FALSE(fs::exists(p));
  for (const auto& p : paths) CHECK(fs::exists(fs::path(p).parent_path()));  // the shared parent stays
}

TEST_CASE("a launch id whose cgroup exists already is refused", "[limits][root]") {
  REQUIRE_ROOT();
  LimitsPlan plan;
  plan.pids = 8;
  std::string id = launch_id("dup"), skipped;
  auto first = create_cgroup(plan, id, false, &skipped);
  REQUIRE(first);
  CHECK_THROWS_WITH(create_cgroup(plan, id, false, &skipped), Catch::Contains("exists already"));
  CHECK(fs::exists(first->paths().at(0)));  // the failed attempt left the first one alone
}

TEST_CASE("fork bomb under pids=32 stops at the limit, the host stays responsive", "[limits][root][bomb]") {
  REQUIRE_ROOT();
  auto cg = limited({.pids = 32}, "forkbomb");
  const std::string dir = require_dir_with(*cg, "pids.max");
  // Every process forks for 2 s (children fork too), then sleeps and exits at 3 s.
  // The host: fork and exec a program, and wait for it.
  auto spawn_time = [] {
    auto t0 = Clock::now();
    pid_t p = ::fork();
    REQUIRE(p >= 0);
    if (p == 0) {
      ::execl("/bin/true", "true", nullptr);
      ::_exit(127);
    }
    int st = 0;
    REQUIRE(::waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st));
    return Clock::now() - t0;
  };
  auto baseline = Clock::duration::zero();
  for (int i = 0; i < 5; ++i) baseline = std::max(baseline, spawn_time());
  Held bomb = hold([] {
    const auto start = Clock::now();
    while (Clock::now() - start < std::chrono::seconds(2)) {
      pid_t p = ::fork();
      if (p < 0) ::usleep(500);
    }
    std::this_thread::sleep_until(start + std::chrono::seconds(3));
    return 0;
  });
  cg->add(bomb.pid);
  bomb.release();

  std::size_t max_procs = 0;
  auto worst = Clock::duration::zero();
  const auto until = Clock::now() + std::chrono::milliseconds(1500);
  while (Clock::now() < until) {
    max_procs = std::max(max_procs, count_lines(slurp(dir + "/cgroup.procs")));
    worst = std::max(worst, spawn_time());
    ::usleep(20000);
  }
  const auto worst_ms = std::chrono::duration_cast<std::chrono::milliseconds>(worst).count();
  const auto base_ms = std::chrono::duration_cast<std::chrono::milliseconds>(baseline).count();
  INFO("most processes seen in the cgroup: " << max_procs << "; slowest host spawn: " << worst_ms
                                             << " ms (before the bomb: " << base_ms << " ms)");
  CHECK(max_procs >= 16);  // the bomb did run
  CHECK(max_procs <= 32);
  CHECK(worst_ms < std::max<long long>(1000, 20 * base_ms));  // slow emulated machines scale
  CHECK(cg->pids_limit_hit());
  CHECK_FALSE(cg->memory_limit_hit());

  // Destruction kills the bomb (long before its 3 s are up) and removes the directory.
  const auto paths = cg->paths();
  auto t0 = Clock::now();
  cg.reset();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  INFO("destruction took " << ms << " ms");
  CHECK(ms < 1000);
  int st = 0;
  REQUIRE(::waitpid(bomb.pid, &st, 0) == bomb.pid);
  CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
  for (const auto& p : paths) CHECK_FALSE(fs::exists(p));
  ::usleep(50000);
  reap_all();
}

TEST_CASE("memory bomb under memory=64MiB is OOM-killed", "[limits][root][bomb]") {
  REQUIRE_ROOT();
  LimitsPlan plan;
  plan.memory = 64ULL << 20;
  auto cg = limited(plan, "membomb");
  CHECK_FALSE(cg->memory_limit_hit());
  // Touches up to 1 GiB, 1 MiB at a time; exits 0 if it ever gets there.
  Held bomb = hold([] {
    std::vector<char*> blocks;
    for (int i = 0; i < 1024; ++i) {
      char* b = static_cast<char*>(std::malloc(1 << 20));
      if (!b) return 2;
      std::memset(b, i & 0xff, 1 << 20);
      blocks.push_back(b);
    }
    return 0;
  });
  cg->add(bomb.pid);
  bomb.release();
  int st = 0;
  REQUIRE(::waitpid(bomb.pid, &st, 0) == bomb.pid);
  INFO("status " << st);
  CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
  CHECK(cg->memory_limit_hit());
  CHECK_FALSE(cg->pids_limit_hit());
  const auto paths = cg->paths();
  cg.reset();
  for (const auto& p : paths) CHECK_FALSE(fs::exists(p));
}

// A rootless launch makes the server's memfds in the supervisor (outside the
// jail's cgroup) and hands them over: the pages are still charged to the
// memory cgroup of the task that faults them in, the one writing them.
TEST_CASE("a memfd made outside the cgroup and filled inside it is charged inside: OOM-killed", "[limits][root][bomb]") {
  REQUIRE_ROOT();
  const int memfd = static_cast<int>(::syscall(SYS_memfd_create, "outside", MFD_CLOEXEC));
  REQUIRE(memfd >= 0);
  LimitsPlan plan;
  plan.memory = 64ULL << 20;
  auto cg = limited(plan, "memfdbomb");
  // Writes up to 1 GiB into the memfd, 1 MiB at a time; exits 0 if it gets there.
  Held bomb = hold([memfd] {
    std::vector<char> block(1 << 20, 'm');
    for (int i = 0; i < 1024; ++i)
      if (::write(memfd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) return 3;
    return 0;
  });
  cg->add(bomb.pid);
  bomb.release();
  int st = 0;
  REQUIRE(::waitpid(bomb.pid, &st, 0) == bomb.pid);
  struct stat mst {};
  REQUIRE(::fstat(memfd, &mst) == 0);
  INFO("status " << st << ", memfd size " << mst.st_size);
  CHECK(((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) || (WIFEXITED(st) && WEXITSTATUS(st) == 3)));
  CHECK(mst.st_size < static_cast<off_t>(*plan.memory) + (8 << 20));
  CHECK(cg->memory_limit_hit());
  ::close(memfd);
  const auto paths = cg->paths();
  cg.reset();
  for (const auto& p : paths) CHECK_FALSE(fs::exists(p));
}

TEST_CASE("cpu=0.2 throttles a busy loop", "[limits][root]") {
  REQUIRE_ROOT();
  auto cg = limited({.cpu = 0.2}, "cpu");
  const std::string dir = require_dir_with(*cg, "cpu.stat");
  // Spins for 1 s of wall time; reports the CPU time it got, in ms.
  int p[2];
  REQUIRE(::pipe(p) == 0);
  Held spin = hold([&] {
    const auto start = Clock::now();
    volatile unsigned long x = 0;
    while (Clock::now() - start < std::chrono::seconds(1)) x = x + 1;
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    long ms = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return ::write(p[1], &ms, sizeof ms) == sizeof ms ? 0 : 1;
  });
  ::close(p[1]);
  cg->add(spin.pid);
  spin.release();
  long cpu_ms = -1;
  REQUIRE(::read(p[0], &cpu_ms, sizeof cpu_ms) == sizeof cpu_ms);
  ::close(p[0]);
  ::waitpid(spin.pid, nullptr, 0);
  std::string stat = slurp(dir + "/cpu.stat");
  INFO("CPU time in 1 s: " << cpu_ms << " ms; cpu.stat:\n" << stat);
  CHECK(cpu_ms < 450);  // 200 ms allowed per second, with slack for the period boundaries
  CHECK(stat.find("nr_throttled 0\n") == std::string::npos);
}

TEST_CASE("destruction kills what is left, even processes that ignore SIGTERM", "[limits][root]") {
  REQUIRE_ROOT();
  LimitsPlan plan;
  plan.pids = 16;
  plan.memory = 128ULL << 20;
  auto cg = limited(plan, "kill");
  Held h = hold([] {
    ::signal(SIGTERM, SIG_IGN);
    for (int i = 0; i < 5; ++i)
      if (::fork() == 0) break;
    ::setsid();  // a new session does not leave the cgroup
    for (;;) ::pause();
    return 0;
  });
  cg->add(h.pid);
  h.release();
  ::usleep(100000);
  const std::string dir = cg->paths().at(0);
  CHECK(count_lines(slurp(dir + "/cgroup.procs")) == 6);
  const auto paths = cg->paths();
  cg.reset();
  for (const auto& p : paths) CHECK_FALSE(fs::exists(p));
  int st = 0;
  REQUIRE(::waitpid(h.pid, &st, 0) == h.pid);
  CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
  ::usleep(50000);
  reap_all();
}

// ---- Directories left by a killed launcher ----------------------------------

TEST_CASE("leaf names record the launcher that owns them", "[limits][owner]") {
  auto o = parse_leaf_name("0123abcd.4026531836.4242.987654");
  REQUIRE(o);
  CHECK(o->pid_ns == 4026531836ULL);
  CHECK(o->pid == 4242);
  CHECK(o->start_time == 987654ULL);
  auto dotted = parse_leaf_name("test-files-1.2.4026531836.7.8");  // an id may hold dots
  REQUIRE(dotted);
  CHECK(dotted->pid == 7);
  for (const char* bad : {"0123abcd", "0123abcd.1.2", ".1.2.3", "id.x.2.3", "id.1.2.", "id.1.0.3", "id.1.-2.3",
                          "../x.1.2.3", "id.1.99999999999.3", "id.1.2.3 "})
    CHECK_FALSE(parse_leaf_name(bad));

  const auto me = this_launcher();
  REQUIRE(me);
  struct stat ns {};
  REQUIRE(::stat("/proc/self/ns/pid", &ns) == 0);
  CHECK(me->pid == ::getpid());
  CHECK(me->pid_ns == ns.st_ino);
  CHECK(me->start_time > 0);
  const std::string name = leaf_name("abc");
  CHECK_THAT(name, Catch::StartsWith("abc."));
  CHECK(parse_leaf_name(name) == me);
}

TEST_CASE("a launch removes the empty directories of launchers that are gone, and nothing else", "[limits][root]") {
  REQUIRE_ROOT();
  LimitsPlan plan;
  plan.pids = 8;
  std::string skipped;
  auto live = create_cgroup(plan, launch_id("live"), false, &skipped);
  REQUIRE(live);
  const std::string parent = fs::path(live->paths().at(0)).parent_path().string();
  const auto me = this_launcher();
  REQUIRE(me);
  // A pid that existed and is gone (reaped), and a live process with a start
  // time that is not its own (a reused pid).
  const pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  auto name = [&](const char* id, std::uint64_t ns, pid_t pid, std::uint64_t start) {
    return parent + "/" + id + "-" + std::to_string(::getpid()) + "." + std::to_string(ns) + "." + std::to_string(pid) +
           "." + std::to_string(start);
  };
  const std::string gone = name("gone", me->pid_ns, dead, 12345);
  const std::string reused = name("reused", me->pid_ns, ::getpid(), me->start_time + 1);
  const std::string alive = name("alive", me->pid_ns, ::getpid(), me->start_time);
  const std::string foreign = name("foreign", me->pid_ns + 1, dead, 12345);  // another pid namespace
  const std::string populated = name("populated", me->pid_ns, dead, 12346);
  const std::string others = name("others", me->pid_ns, dead, 12347);       // another user's
  const std::string legacy = parent + "/legacy-" + std::to_string(::getpid());  // no owner in the name
  for (const auto& d : {gone, reused, alive, foreign, populated, others, legacy}) REQUIRE(::mkdir(d.c_str(), 0755) == 0);
  REQUIRE(::chown(others.c_str(), 65534, 65534) == 0);
  Held h = hold([] {
    for (;;) ::pause();
    return 0;
  });
  std::ofstream(populated + "/cgroup.procs") << h.pid;
  REQUIRE(count_lines(slurp(populated + "/cgroup.procs")) == 1);

  // A new launch sweeps (create_cgroup calls remove_stale_leaves on its way).
  auto next = create_cgroup(plan, launch_id("next"), false, &skipped);
  REQUIRE(next);
  CHECK_FALSE(fs::exists(gone));
  CHECK_FALSE(fs::exists(reused));
  CHECK(fs::exists(alive));
  CHECK(fs::exists(foreign));
  CHECK(fs::exists(populated));  // never a cgroup that holds processes
  CHECK(fs::exists(others));
  CHECK(fs::exists(legacy));
  for (const auto& p : live->paths()) CHECK(fs::exists(p));  // a live launch's own directory
  CHECK(remove_stale_leaves(parent) == 0);

  ::kill(h.pid, SIGKILL);
  REQUIRE(::waitpid(h.pid, nullptr, 0) == h.pid);
  for (int i = 0; i < 100 && count_lines(slurp(populated + "/cgroup.procs")) > 0; ++i) ::usleep(10000);
  CHECK(remove_stale_leaves(parent) == 1);  // once empty, it goes
  CHECK_FALSE(fs::exists(populated));
  for (const auto& d : {alive, foreign, others, legacy}) ::rmdir(d.c_str());
}

// ---- Rootless ---------------------------------------------------------------

TEST_CASE("rootless: create_cgroup fails closed naming the limits layer", "[limits][rootless]") {
  REQUIRE_ROOT();  // to create the user and switch to it; its cgroup is root's, not delegated
  std::string out = run_as_test_user({"--rootless-helper", "0"});
  INFO(out);
  CHECK_THAT(out, Catch::Contains("THROW layer=limits"));
  CHECK_THAT(out, Catch::Contains("Permission denied"));
  CHECK_THAT(out, Catch::Contains("run mcp-jail as root"));
  CHECK_THAT(out, Catch::Contains("best_effort"));
  CHECK_THAT(out, !Catch::Contains("uid=0\n"));
}

TEST_CASE("rootless with best_effort: nullptr and a reason", "[limits][rootless]") {
  REQUIRE_ROOT();
  std::string out = run_as_test_user({"--rootless-helper", "1"});
  INFO(out);
  CHECK_THAT(out, Catch::Contains("NULL\nSKIPPED no cgroup limits applied: "));
  CHECK_THAT(out, Catch::Contains("Permission denied"));
}

TEST_CASE("rootless in a delegated cgroup v2 subtree: the limits apply", "[limits][rootless][v2]") {
  REQUIRE_ROOT();
  const CgroupLayout l = detect_cgroup_layout();
  if (l.version_of("memory") != "v2" || l.version_of("pids") != "v2")
    SKIP_TEST("needs the memory and pids controllers on cgroup v2");
  const support::User user = support::test_user();
  const uid_t uid = user.uid;
  const gid_t gid = user.gid;
  // What systemd sets up for user@UID.service: a subtree owned by the user,
  // controllers enabled down to it, the launcher in a scope inside.
  const std::string top = l.v2_mount + "/mcpjail-test-" + std::to_string(::getpid());
  const std::string svc = top + "/user.service", scope = svc + "/app.scope";
  auto enable = [](const std::string& dir) {
    std::ofstream(dir + "/cgroup.subtree_control") << "+memory +pids";
  };
  if (!has_controllers(l.v2_mount, {"memory", "pids"})) enable(l.v2_mount);
  REQUIRE(fs::create_directories(scope));
  enable(top);
  enable(svc);
  if (!has_controllers(svc, {"memory", "pids"})) {
    fs::remove(scope), fs::remove(svc), fs::remove(top);
    SKIP_TEST("cannot enable memory and pids below " + l.v2_mount);
  }
  for (const auto& d : {svc, scope})
    for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"})
      REQUIRE(::chown((d + f).c_str(), uid, gid) == 0);

  int p[2];
  REQUIRE(::pipe(p) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(p[0]);
    auto say = [&](const std::string& s) { (void)!::write(p[1], (s + "\n").data(), s.size() + 1); };
    std::ofstream(scope + "/cgroup.procs") << ::getpid();
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) {
      say("FAIL drop privileges");
      ::_exit(1);
    }
    try {
      LimitsPlan plan;
      plan.memory = 64ULL << 20;
      plan.pids = 16;
      std::string skipped;
      auto cg = create_cgroup(plan, "deleg", false, &skipped);
      say("CREATED " + cg->describe());
      int go[2];
      if (::pipe(go) != 0) ::_exit(1);
      pid_t bomb = ::fork();
      if (bomb == 0) {
        char b;
        if (::read(go[0], &b, 1) != 1) ::_exit(1);  // starts once it is in the cgroup
        for (int i = 0; i < 1024; ++i) std::memset(std::malloc(1 << 20), 1, 1 << 20);
        ::_exit(0);
      }
      cg->add(bomb);
      (void)!::write(go[1], "g", 1);
      int st = 0;
      ::waitpid(bomb, &st, 0);
      say(std::string("BOMB ") + (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "killed" : "survived") +
          (cg->memory_limit_hit() ? " memory_limit_hit" : ""));
      const auto paths = cg->paths();
      cg.reset();
      say(std::string("REMOVED ") + (fs::exists(paths.at(0)) ? "no" : "yes"));
    } catch (const LaunchError& e) {
      say(std::string("THROW ") + e.what());
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out = support::drain(p[0]);
  ::waitpid(child, nullptr, 0);
  INFO(out);
  CHECK_THAT(out, Catch::Contains("CREATED memory=64MiB (no swap), pids=16: cgroup v2 " + svc + "/mcp-jail/deleg"));
  CHECK_THAT(out, Catch::Contains("BOMB killed memory_limit_hit"));
  CHECK_THAT(out, Catch::Contains("REMOVED yes"));
  std::error_code ec;
  fs::remove(svc + "/mcp-jail", ec);
  fs::remove(scope, ec);
  fs::remove(svc, ec);
  fs::remove(top, ec);
  CHECK_FALSE(fs::exists(top));
}
