// Launching real jails from tests: as root, and rootless as an unprivileged
// user the harness creates (mcpjail-test). Binaries are copied to a
// world-readable directory so the unprivileged user can run them wherever the
// build tree lives.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "../support/process.hpp"

namespace it {

enum class Mode { Root, Rootless };
const char* mode_name(Mode m);
std::vector<Mode> modes();  // both when running as root; rootless-as-self otherwise

// status: the exit status, 128+N for signal N; out, err: what it wrote.
using Result = support::Output;

struct RunOptions {
  std::string stdin_data;
  bool close_stdin = true;
  int inherit_fd = -1;  // passed to the launcher without O_CLOEXEC
  std::vector<std::string> env;  // extra NAME=value for the launcher
  std::chrono::seconds timeout{60};
};

class Harness {
 public:
  static Harness& get();
  // Removes the copies of the binaries (in the process that made them only:
  // a forked child that exits normally must not take them away).
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;
  const std::string& jail() const { return jail_; }
  const std::string& probe() const { return probe_; }
  uid_t uid(Mode m) const;  // the uid the jail runs as
  gid_t gid(Mode m) const;
  std::string home(Mode m) const;  // HOME of the launching user
  // argv/env that launch `mcp-jail ARGS...` as the mode's user.
  std::vector<std::string> launcher_argv(Mode m, const std::vector<std::string>& args) const;
  std::vector<std::string> launcher_env(Mode m, const std::vector<std::string>& extra) const;

 private:
  Harness();
  std::string dir_, jail_, probe_;
  pid_t creator_ = 0;
  uid_t test_uid_ = 0;
  gid_t test_gid_ = 0;
  std::string test_home_;
};

// A temporary directory (0755) owned by the jail's user of `m`; removed after.
class TempDir {
 public:
  explicit TempDir(Mode m);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name, const std::string& content, unsigned mode = 0644) const;
  std::string dir(const std::string& name) const;

 private:
  std::string path_;
  uid_t uid_;
  gid_t gid_;
};

// Gives `root` and everything below it (links themselves, not their targets)
// to uid:gid; nothing unless running as root.
void chown_tree(const std::string& root, uid_t uid, gid_t gid);

// git on the host and in the built-in git profile.
inline constexpr const char* kGit = "/usr/bin/git";

// Runs mcp-jail to completion (killed after the timeout).
Result run(Mode m, const std::vector<std::string>& args, const RunOptions& opts = {});

// A launcher running in the background.
class Running {
 public:
  Running(Mode m, const std::vector<std::string>& args, const RunOptions& opts = {});
  pid_t pid() const { return child_.pid(); }
  std::optional<std::string> read_line(std::chrono::seconds timeout) { return child_.read_line(timeout); }  // stdout
  Result wait(std::chrono::seconds timeout) { return child_.wait(timeout); }
  void write_stdin(const std::string& s) { child_.write_stdin(s); }
  void close_stdin() { child_.close_stdin(); }

 private:
  support::Child child_;  // killed and reaped when the test leaves it running
};

// Pids of processes whose command line contains `needle`.
using support::processes_matching;

}  // namespace it

// In a Catch2 test: jailprobe run through `setup` (anything with a `mode` and
// a `probe(args)` that launches it in that mode) with the arguments that
// follow passes; a failure names the mode, the probe and the jail's stderr.
#define EXPECT_PASS(setup, ...)                                                          \
  do {                                                                                   \
    const auto r_ = (setup).probe({__VA_ARGS__});                                        \
    INFO(it::mode_name((setup).mode) << ": " << #__VA_ARGS__ << "\nstderr: " << r_.err); \
    CHECK(r_.status == 0);                                                               \
  } while (0)
