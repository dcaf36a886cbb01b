// Starting programs from tests: an argv and an explicit environment (never a
// shell), the child's standard streams wired as asked, output read with a
// deadline, exit statuses decoded one way everywhere.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/unique_fd.hpp"

namespace support {

// Where a child's stdin, stdout or stderr goes.
struct Io {
  enum class Kind { Null, Inherit, Pipe, Fd };
  Kind kind = Kind::Pipe;
  int fd = -1;
  static Io null() { return {Kind::Null, -1}; }        // /dev/null
  static Io inherit() { return {Kind::Inherit, -1}; }  // the test's own
  static Io pipe() { return {Kind::Pipe, -1}; }        // read or written by Child
  static Io to(int fd) { return {Kind::Fd, fd}; }      // a descriptor of the caller's
};

struct SpawnOptions {
  Io in = Io::pipe(), out = Io::pipe(), err = Io::pipe();
  int inherit_fd = -1;            // passed to the program without O_CLOEXEC
  bool close_other_fds = false;   // close every descriptor above 2 but inherit_fd
  // Runs in the child just before execve (after the streams are set up),
  // e.g. to enter a namespace; it may _exit() with a status of its own.
  std::function<void()> in_child;
};

// The exit status, 128+N for signal N, -1 for anything else.
int decode_status(int wait_status);

// A finished child.
struct Output {
  int status = -1;  // decode_status()
  std::string out, err;
  bool timed_out = false;  // killed at the deadline
};

// fork + execve. Pipe streams are not allowed here (see Child). Returns the
// pid; *exec_errno (if given) is the errno of a failed execve, 0 when the
// program started (the child then exits 127).
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const SpawnOptions& opts,
            int* exec_errno = nullptr);

// A running program. Destroying it kills (SIGKILL) and reaps it if it has
// not been waited for.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& env, SpawnOptions opts = {});
  ~Child();
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  int exec_errno() const { return exec_errno_; }  // 0: the program started
  void write_stdin(const std::string& s);
  void close_stdin() { in_.reset(); }
  // Stops reading stdout (the program gets EPIPE/SIGPIPE if it writes more).
  void close_stdout() { out_.reset(); }
  // The next line of stdout, without its '\n'; nullopt at EOF or the deadline.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Reads stdout and stderr to EOF, kills the program at the deadline, reaps
  // it. stdin stays as it is (close_stdin() first for a program that reads to EOF).
  Output wait(std::chrono::milliseconds timeout);
  void kill(int sig = SIGKILL) const;

 private:
  void end();  // kills and reaps a program still running
  void reap_if_running();
  pid_t pid_ = -1;
  int exec_errno_ = 0;
  bool reaped_ = false;
  mcpjail::UniqueFd in_, out_, err_;
  std::string out_buf_, err_buf_;
};

// Runs a program to its end (stdin at EOF), collecting stdout and stderr.
Output run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
           std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Runs a set-up command with a plain PATH (stdout to /dev/null, stderr the
// test's); throws naming the command when it does not exit 0.
void run_checked(const std::vector<std::string>& argv);

// The first of `candidates` that is executable; "" when none is.
std::string find_program(std::initializer_list<const char*> candidates);

// Pids of the processes whose command line contains `needle` (this one excepted).
std::vector<pid_t> processes_matching(const std::string& needle);

}  // namespace support
