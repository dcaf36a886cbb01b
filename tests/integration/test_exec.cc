// Integration tests: nothing the server writes can be run. Every writable
// mount is noexec (a file written to /tmp or the workspace cannot be mapped
// executable, so neither the dynamic loader nor dlopen() can run it), except
// the trees a profile lists in [filesystem] exec; and, where the kernel lets
// the launcher set vm.memfd_noexec, a program written into a memfd cannot be
// executed. Each negative has a positive control: the same act in a tree
// listed in filesystem.exec succeeds, which shows the check can fail.
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>

#include "harness.hpp"
#include "../support/skip.hpp"

using namespace it;
namespace fs = std::filesystem;

namespace {

constexpr const char* kLdso = "/lib64/ld-linux-x86-64.so.2";

struct ExecSetup {
  Mode mode;
  TempDir ws, prof;
  std::string profile;
  ExecSetup(Mode m, const std::string& extra) : mode(m), ws(m), prof(m) {
    ws.dir("venv");
    ws.dir("src");
    profile = prof.file("exec.toml", "version = 1\nname = \"it-exec\"\nextends = \"base\"\n[filesystem]\n"
                                     "write = [\"${WORKSPACE}\"]\n" + extra);
  }
  Result probe(const std::vector<std::string>& probe_args) const {
    std::vector<std::string> a = {"run", profile, "--var", "WORKSPACE=" + ws.path(), "--audit-log", "none", "--",
                                  Harness::get().probe()};
    a.insert(a.end(), probe_args.begin(), probe_args.end());
    return run(mode, a);
  }
};

}  // namespace

TEST_CASE("noexec: every writable mount is noexec, a file written there cannot be mapped executable") {
  for (Mode m : modes()) {
    ExecSetup s(m, "");
    EXPECT_PASS(s, "rw-noexec");
    EXPECT_PASS(s, "mmap-exec", "/tmp/evil", "no");
    EXPECT_PASS(s, "mmap-exec", "/dev/shm/evil", "no");
    EXPECT_PASS(s, "mmap-exec", s.ws.path() + "/src/evil", "no");
    EXPECT_PASS(s, "ldso-run", kLdso, "/tmp/evil", "no");
    EXPECT_PASS(s, "ldso-run", kLdso, s.ws.path() + "/src/evil", "no");
    // control: the loader itself works on a program that is already there
    EXPECT_PASS(s, "ldso-run", kLdso, "/usr/bin/true", "yes");
  }
}

TEST_CASE("noexec: filesystem.exec trees may run what is written there, and only they") {
  for (Mode m : modes()) {
    ExecSetup s(m, "exec = [\"${WORKSPACE}/venv\", \"/tmp\"]\n");
    const std::string venv = s.ws.path() + "/venv";
    // the same acts that fail above succeed here: the checks can fail
    EXPECT_PASS(s, "rw-noexec", venv, "/tmp");
    EXPECT_PASS(s, "mmap-exec", venv + "/prog", "yes");
    EXPECT_PASS(s, "ldso-run", kLdso, venv + "/prog", "yes");
    EXPECT_PASS(s, "mmap-exec", "/tmp/prog", "yes");
    // the rest of the workspace stays noexec, and stays writable
    EXPECT_PASS(s, "mmap-exec", s.ws.path() + "/src/evil", "no");
    EXPECT_PASS(s, "write-ok", s.ws.path() + "/src/new.txt", "x");
    EXPECT_PASS(s, "write-ok", venv + "/new.txt", "x");
  }
}

TEST_CASE("noexec: check shows which writable mounts allow exec and why") {
  for (Mode m : modes()) {
    ExecSetup s(m, "exec = [\"${WORKSPACE}/venv\"]\n");
    auto r = run(m, {"check", s.profile, "--var", "WORKSPACE=" + s.ws.path(), "--", "/usr/bin/true"});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("rw    " + s.ws.path() + "  noexec") != std::string::npos);
    CHECK(r.out.find("rw    " + s.ws.path() + "/venv  exec") != std::string::npos);
    CHECK(r.out.find("filesystem.exec (") != std::string::npos);
    CHECK(r.out.find("tmpfs /tmp  size") != std::string::npos);
  }
}

namespace {

// Whether this kernel has MFD_NOEXEC_SEAL (Linux 6.3+), which a rootless
// launch needs to seal memfds (the supervisor makes them).
bool kernel_seals_memfds() {
  const int fd = static_cast<int>(::syscall(SYS_memfd_create, "it-probe", MFD_CLOEXEC | 0x0008U));
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

}  // namespace

TEST_CASE("memfd: a program written into memory cannot be executed (vm.memfd_noexec = 2, or sealed memfds)") {
  for (Mode m : modes()) {
    ExecSetup s(m, "");
    if (m == Mode::Rootless) {
      // The kernel checks write access to /proc/sys/vm/memfd_noexec against
      // the host's root: a rootless launcher cannot set it. memfd_create goes
      // to the supervisor instead, which makes the memfd with MFD_NOEXEC_SEAL.
      auto r = run(m, {"check", s.profile, "--var", "WORKSPACE=" + s.ws.path(), "--", "/usr/bin/true"});
      CHECK(r.out.find("memfd: a rootless launch cannot set vm.memfd_noexec") != std::string::npos);
      if (!kernel_seals_memfds()) {
        // Before Linux 6.3 there is nothing to seal with: the hole stays open.
        WARN("rootless: this kernel has no MFD_NOEXEC_SEAL; memfds cannot be sealed (see `check` notes)");
        CHECK(r.out.find("no MFD_NOEXEC_SEAL") != std::string::npos);
        EXPECT_PASS(s, "memfd-exec", "yes");
        continue;
      }
      CHECK(r.out.find("memfd_create goes to the supervisor instead") != std::string::npos);
    }
    EXPECT_PASS(s, "memfd-exec", "no");
  }
}

TEST_CASE("memfd: executing a program through a descriptor is an exec event of the audit log") {
  for (Mode m : modes()) {
    ExecSetup s(m, "");
    const bool hole = m == Mode::Rootless && !kernel_seals_memfds();
    std::vector<std::string> a = {"run", s.profile, "--var", "WORKSPACE=" + s.ws.path(), "--audit-log", "stderr",
                                  "--", Harness::get().probe(), "memfd-exec", hole ? "yes" : "no"};
    auto r = run(m, a);
    INFO(mode_name(m) << "\n" << r.err);
    CHECK(r.status == 0);
    CHECK(r.err.find("\"event\":\"exec\"") != std::string::npos);
    CHECK(r.err.find("/memfd:payload") != std::string::npos);  // execveat(fd, "", AT_EMPTY_PATH)
    CHECK(r.err.find("\"path\":\"/proc/self/fd/") != std::string::npos);  // execve("/proc/self/fd/N")
    CHECK(r.err.find("\"held_back\":{") != std::string::npos);  // the exit event counts what it held back
  }
}

TEST_CASE("memfd: memfds still hold data, and MFD_EXEC is refused (reported rootless)") {
  for (Mode m : modes()) {
    if (m == Mode::Rootless && !kernel_seals_memfds()) {
      WARN("rootless: this kernel has no MFD_NOEXEC_SEAL; memfds are not sealed");
      continue;
    }
    ExecSetup s(m, "");
    std::vector<std::string> a = {"run", s.profile, "--var", "WORKSPACE=" + s.ws.path(), "--audit-log", "stderr",
                                  "--", Harness::get().probe(), "memfd-data"};
    auto r = run(m, a);
    INFO(mode_name(m) << "\n" << r.err);
    CHECK(r.status == 0);
    // Rootless, the supervisor refused MFD_EXEC itself and says so; as root the
    // kernel refuses it (vm.memfd_noexec = 2).
    if (m == Mode::Rootless)
      CHECK_THAT(r.err, Catch::Contains(R"("event":"deny")") && Catch::Contains(R"("syscall":"memfd_create")") &&
                            Catch::Contains("MFD_EXEC"));
    // A real program keeping data in a memfd works unchanged.
    if (fs::exists("/usr/bin/python3")) {
      const std::string py =
          "import os\n"
          "fd = os.memfd_create('cache')\n"
          "os.write(fd, b'x' * 100000)\n"
          "os.lseek(fd, 0, 0)\n"
          "assert os.read(fd, 200000) == b'x' * 100000\n";
      r = run(m, {"run", s.profile, "--var", "WORKSPACE=" + s.ws.path(), "--audit-log", "none", "--", "/usr/bin/python3", "-c", py});
      INFO(r.err);
      CHECK(r.status == 0);
    }
  }
}

// What may run: a program outside the plan's set looks absent (ENOENT, as on
// a system without it) and is still an exec event; exec.allow adds to what
// the command needs and never takes the command away.

namespace {

constexpr const char* kEnoent = "2";

// Runs the probe with `probe_args` under `profile` (no workspace), the audit
// log on stderr.
Result probe_under(Mode m, const std::string& profile, const std::vector<std::string>& probe_args) {
  std::vector<std::string> a = {"run", profile, "--audit-log", "stderr", "--", Harness::get().probe()};
  a.insert(a.end(), probe_args.begin(), probe_args.end());
  return run(m, a);
}

}  // namespace

TEST_CASE("exec: a program outside the allowlist fails with ENOENT and is an exec event that was not allowed") {
  for (Mode m : modes()) {
    TempDir d(m);
    const std::string prof = d.file("p.toml", "version = 1\nname = \"it-absent\"\nextends = \"base\"\n"
                                              "[exec]\nallow = [\"/usr/bin/false\"]\n");
    auto r = probe_under(m, prof, {"exec-errno", "/usr/bin/id", kEnoent});
    INFO(mode_name(m) << "\n" << r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.err, Catch::Contains(R"("allowed":false,"event":"exec")") && Catch::Contains(R"("path":"/usr/bin/id")"));
    CHECK_THAT(r.err, Catch::Contains("mcp-jail: it-absent: blocked 1 exec (/usr/bin/id)"));
    // control: the program the profile allows runs (false: status 1)
    r = probe_under(m, prof, {"exec-status", "/usr/bin/false", "1"});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.err, !Catch::Contains("blocked"));
  }
}

TEST_CASE("exec: a tool probing for an optional helper sees FileNotFoundError (python3 subprocess)") {
  if (!fs::exists("/usr/bin/python3") || !fs::exists("/usr/bin/node")) SKIP_TEST("/usr/bin/python3 or /usr/bin/node missing");
  const std::string py =
      "import subprocess, sys\n"
      "try:\n"
      "    subprocess.run(['/usr/bin/node', '-v'], check=False)\n"
      "except FileNotFoundError:\n"
      "    sys.exit(0)\n"
      "sys.exit(3)\n";
  for (Mode m : modes()) {
    TempDir d(m);
    const std::string prof = d.file("py.toml", "version = 1\nextends = \"base\"\n");
    auto r = run(m, {"run", prof, "--audit-log", "none", "--", "/usr/bin/python3", "-c", py});
    INFO(mode_name(m) << "\n" << r.err);
    CHECK(r.status == 0);
    // control: allowed, node runs and the script takes the other way
    const std::string with_node = d.file("node.toml", "version = 1\nextends = \"base\"\n[exec]\nallow = [\"/usr/bin/node\"]\n");
    r = run(m, {"run", with_node, "--audit-log", "none", "--", "/usr/bin/python3", "-c", py});
    INFO(r.err);
    CHECK(r.status == 3);
  }
}

TEST_CASE("exec.allow adds to the command: listing /usr/bin/git keeps the command and its interpreters") {
  if (!fs::exists("/usr/bin/git")) SKIP_TEST("/usr/bin/git is not installed");
  for (Mode m : modes()) {
    TempDir d(m);
    const std::string prof = d.file("git.toml", "version = 1\nextends = \"base\"\n[exec]\nallow = [\"/usr/bin/git\"]\n");
    // the command (the probe, not listed) starts, and git runs (usage: status 1)
    auto r = probe_under(m, prof, {"exec-status", "/usr/bin/git", "1"});
    INFO(mode_name(m) << "\n" << r.err);
    CHECK(r.status == 0);
    // a #! script as the command: its interpreter comes along too
    const std::string script = d.file("hello.sh", "#!/bin/sh\nexit 4\n", 0755);
    r = run(m, {"run", prof, "--audit-log", "none", "--", script});
    INFO(r.err);
    CHECK(r.status == 4);
    // what is in neither stays refused
    r = probe_under(m, prof, {"exec-errno", "/usr/bin/id", kEnoent});
    INFO(r.err);
    CHECK(r.status == 0);
    // check shows the set, with reasons
    r = run(m, {"check", prof, "--", script});
    INFO(r.out << r.err);
    CHECK_THAT(r.out, Catch::Contains("(the command)") && Catch::Contains("(interpreter of the command)") &&
                          Catch::Contains("/usr/bin/git  (exec.allow (" + prof + ":4:10))"));
  }
}

TEST_CASE("exec.allow: a directory entry covers the ELF interpreter of the programs beneath it") {
  for (Mode m : modes()) {
    TempDir d(m);
    const std::string prof = d.file("dir.toml", "version = 1\nextends = \"base\"\n[exec]\nallow = [\"/usr/bin\"]\n");
    auto r = run(m, {"run", prof, "--audit-log", "none", "--", "/usr/bin/sh", "-c", "/usr/bin/true && exit 5"});
    INFO(mode_name(m) << "\n" << r.err);
    CHECK(r.status == 5);
    // control: what lies outside the directory is still not run
    r = run(m, {"run", prof, "--audit-log", "none", "--", "/usr/bin/sh", "-c", "/usr/sbin/nologin; exit $?"});
    INFO(r.err);
    CHECK(r.status == 127);
    r = run(m, {"check", prof, "--", "/usr/bin/sh"});
    INFO(r.out << r.err);
    CHECK_THAT(r.out, Catch::Contains("ELF interpreter of programs in /usr/bin"));
  }
}
