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

namespace it {

enum class Mode { Root, Rootless };
const char* mode_name(Mode m);
std::vector<Mode> modes();  // both when running as root; rootless-as-self otherwise

struct Result {
  int status = -1;  // exit status, 128+N for signal N
  std::string out, err;
};

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

// Runs mcp-jail to completion (killed after the timeout).
Result run(Mode m, const std::vector<std::string>& args, const RunOptions& opts = {});

// A launcher running in the background.
class Running {
 public:
  Running(Mode m, const std::vector<std::string>& args, const RunOptions& opts = {});
  ~Running();
  pid_t pid() const { return pid_; }
  std::optional<std::string> read_line(std::chrono::seconds timeout);  // from stdout
  Result wait(std::chrono::seconds timeout);
  void write_stdin(const std::string& s);
  void close_stdin();

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string out_buf_, err_buf_;
  bool done_ = false;
};

// Pids of processes whose command line contains `needle`.
std::vector<pid_t> processes_matching(const std::string& needle);

}  // namespace it
