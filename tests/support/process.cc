#include "process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

#include "files.hpp"

namespace support {

using mcpjail::UniqueFd;

int decode_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

namespace {

// In the child: closes every descriptor above 2 except `keep` (sorted, -1s ignored).
void close_fds_except(int a, int b) {
  int keep[2] = {std::min(a, b), std::max(a, b)};
  unsigned from = 3;
  for (int k : keep) {
    if (k < static_cast<int>(from)) continue;
    if (static_cast<unsigned>(k) > from) ::syscall(SYS_close_range, from, static_cast<unsigned>(k) - 1, 0U);
    from = static_cast<unsigned>(k) + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0U);
}

// In the child: connects standard stream `n` as `io` says.
void wire(const Io& io, int n, int devnull) {
  switch (io.kind) {
    case Io::Kind::Null: ::dup2(devnull, n); break;
    case Io::Kind::Inherit: break;
    case Io::Kind::Fd:
      if (io.fd == n) ::fcntl(n, F_SETFD, 0);
      else ::dup2(io.fd, n);
      break;
    case Io::Kind::Pipe: ::_exit(126);  // spawn() is never given a pipe
  }
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return cmd;
}

}  // namespace

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const SpawnOptions& opts,
            int* exec_errno) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  for (const Io* io : {&opts.in, &opts.out, &opts.err})
    if (io->kind == Io::Kind::Pipe) throw std::invalid_argument("spawn: pipes are set up by Child");
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  // The child reports a failed execve here; a successful one closes it.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::close(report[0]);
    ::signal(SIGPIPE, SIG_DFL);
    const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    wire(opts.in, 0, devnull);
    wire(opts.out, 1, devnull);
    wire(opts.err, 2, devnull);
    if (opts.inherit_fd >= 0) ::fcntl(opts.inherit_fd, F_SETFD, 0);
    if (opts.close_other_fds) close_fds_except(opts.inherit_fd, report[1]);
    if (opts.in_child) opts.in_child();
    ::execve(av[0], av.data(), ev.data());
    const int e = errno;
    (void)!::write(report[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(report[1]);
  int e = 0;
  ssize_t n;
  while ((n = ::read(report[0], &e, sizeof e)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (exec_errno) *exec_errno = n == static_cast<ssize_t>(sizeof e) ? e : 0;
  return pid;
}

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& env, SpawnOptions opts) {
  // Pipes are created here: the child's end goes to spawn() as a descriptor.
  UniqueFd child_ends[3];
  UniqueFd* mine[3] = {&in_, &out_, &err_};
  Io* ios[3] = {&opts.in, &opts.out, &opts.err};
  for (int i = 0; i < 3; ++i) {
    if (ios[i]->kind != Io::Kind::Pipe) continue;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    // stdin: the child reads p[0]; stdout/stderr: the child writes p[1].
    mine[i]->reset(i == 0 ? p[1] : p[0]);
    child_ends[i].reset(i == 0 ? p[0] : p[1]);
    *ios[i] = Io::to(child_ends[i].get());
  }
  pid_ = spawn(argv, env, opts, &exec_errno_);
}

Child::~Child() { end(); }

void Child::end() {
  in_.reset();
  out_.reset();
  err_.reset();
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    reap_if_running();
  }
}

Child::Child(Child&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      exec_errno_(o.exec_errno_),
      reaped_(std::exchange(o.reaped_, true)),
      in_(std::move(o.in_)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)),
      out_buf_(std::move(o.out_buf_)),
      err_buf_(std::move(o.err_buf_)) {}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    end();
    pid_ = std::exchange(o.pid_, -1);
    exec_errno_ = o.exec_errno_;
    reaped_ = std::exchange(o.reaped_, true);
    in_ = std::move(o.in_);
    out_ = std::move(o.out_);
    err_ = std::move(o.err_);
    out_buf_ = std::move(o.out_buf_);
    err_buf_ = std::move(o.err_buf_);
  }
  return *this;
}

void Child::reap_if_running() {
  if (reaped_ || pid_ <= 0) return;
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

void Child::kill(int sig) const {
  if (!reaped_ && pid_ > 0) ::kill(pid_, sig);
}

void Child::write_stdin(const std::string& s) {
  std::size_t off = 0;
  while (in_ && off < s.size()) {
    const ssize_t n = ::write(in_.get(), s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("write to the child's stdin: ") + std::strerror(errno));
    off += static_cast<std::size_t>(n);
  }
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = out_buf_.find('\n'); nl != std::string::npos) {
      std::string line = out_buf_.substr(0, nl);
      out_buf_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !out_) return std::nullopt;
    pollfd p{out_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out_.reset();
      return std::nullopt;
    }
    out_buf_.append(buf, static_cast<std::size_t>(n));
  }
}

Output Child::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Output r;
  while (out_ || err_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(SIGKILL);
      r.timed_out = true;
      break;
    }
    pollfd p[2];
    UniqueFd* which[2];
    nfds_t n = 0;
    for (UniqueFd* fd : {&out_, &err_})
      if (*fd) {
        p[n] = {fd->get(), POLLIN, 0};
        which[n++] = fd;
      }
    if (::poll(p, n, static_cast<int>(left.count())) <= 0) continue;
    for (nfds_t i = 0; i < n; ++i) {
      if (!p[i].revents) continue;
      char buf[8192];
      const ssize_t k = ::read(p[i].fd, buf, sizeof buf);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) which[i]->reset();
      else (which[i] == &out_ ? out_buf_ : err_buf_).append(buf, static_cast<std::size_t>(k));
    }
  }
  out_.reset();
  err_.reset();
  int st = 0;
  if (!reaped_ && pid_ > 0) {
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    r.status = decode_status(st);
  }
  r.out = std::move(out_buf_);
  r.err = std::move(err_buf_);
  if (r.timed_out) r.err += "\n[test: timed out after " + std::to_string(timeout.count()) + " ms, killed]";
  return r;
}

Output run(const std::vector<std::string>& argv, const std::vector<std::string>& env, std::chrono::milliseconds timeout) {
  SpawnOptions o;
  o.in = Io::null();
  return Child(argv, env, std::move(o)).wait(timeout);
}

void run_checked(const std::vector<std::string>& argv) {
  SpawnOptions o;
  o.in = o.out = Io::null();
  o.err = Io::inherit();
  int exec_errno = 0;
  const pid_t pid = spawn(argv, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, o, &exec_errno);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (exec_errno) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(exec_errno));
  if (decode_status(st) != 0)
    throw std::runtime_error("command failed (status " + std::to_string(decode_status(st)) + "): " + command_line(argv));
}

std::string find_program(std::initializer_list<const char*> candidates) {
  for (const char* c : candidates)
    if (::access(c, X_OK) == 0) return c;
  return "";
}

std::vector<pid_t> processes_matching(const std::string& needle) {
  std::vector<pid_t> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/proc"), ::closedir);
  while (const dirent* e = d ? ::readdir(d.get()) : nullptr) {
    if (std::strspn(e->d_name, "0123456789") != std::strlen(e->d_name)) continue;
    std::string cmd = slurp(std::string("/proc/") + e->d_name + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    const pid_t pid = std::atoi(e->d_name);
    if (cmd.find(needle) != std::string::npos && pid != ::getpid()) out.push_back(pid);
  }
  return out;
}

}  // namespace support
