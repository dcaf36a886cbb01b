#include "harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace it {

namespace {

constexpr const char* kTestUser = "mcpjail-test";

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int in, int out, int err,
            int inherit_fd) {
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (inherit_fd >= 0) ::fcntl(inherit_fd, F_SETFD, 0);
    ::execve(av[0], av.data(), ev.data());
    ::_exit(127);
  }
  return pid;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void run_checked(const std::vector<std::string>& argv) {
  const pid_t pid = spawn(argv, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, 0, 1, 2, -1);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (decode(st) != 0) throw std::runtime_error("command failed: " + argv[0]);
}

}  // namespace

const char* mode_name(Mode m) { return m == Mode::Root ? "root" : "rootless"; }

std::vector<Mode> modes() {
  if (::geteuid() == 0) return {Mode::Root, Mode::Rootless};
  return {Mode::Rootless};
}

Harness& Harness::get() {
  static Harness h;
  return h;
}

Harness::Harness() {
  char tmpl[] = "/tmp/mcpjail-it-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  ::chmod(dir_.c_str(), 0755);
  jail_ = dir_ + "/mcp-jail";
  probe_ = dir_ + "/jailprobe";
  fs::copy_file(MCPJAIL_BIN, jail_);
  fs::copy_file(JAILPROBE_BIN, probe_);
  ::chmod(jail_.c_str(), 0755);
  ::chmod(probe_.c_str(), 0755);
  if (::geteuid() == 0) {
    if (!::getpwnam(kTestUser))
      run_checked({"/usr/sbin/useradd", "--create-home", "--shell", "/usr/sbin/nologin", kTestUser});
    const passwd* pw = ::getpwnam(kTestUser);
    if (!pw) throw std::runtime_error("cannot create the test user");
    test_uid_ = pw->pw_uid;
    test_gid_ = pw->pw_gid;
    test_home_ = pw->pw_dir;
  } else {
    test_uid_ = ::getuid();
    test_gid_ = ::getgid();
    const char* h = std::getenv("HOME");
    test_home_ = h ? h : "/";
  }
}

uid_t Harness::uid(Mode m) const { return m == Mode::Root ? 65534 : test_uid_; }
gid_t Harness::gid(Mode m) const { return m == Mode::Root ? 65534 : test_gid_; }
std::string Harness::home(Mode m) const { return m == Mode::Root ? "/root" : test_home_; }

std::vector<std::string> Harness::launcher_argv(Mode m, const std::vector<std::string>& args) const {
  std::vector<std::string> argv;
  if (m == Mode::Rootless && ::geteuid() == 0) {
    argv = {"/usr/bin/setpriv", "--reuid=" + std::to_string(test_uid_), "--regid=" + std::to_string(test_gid_),
            "--clear-groups", "--", jail_};
  } else {
    argv = {jail_};
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> Harness::launcher_env(Mode m, const std::vector<std::string>& extra) const {
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home(m), "LANG=C.UTF-8",
                                  "MCPJAIL_TEST_SECRET=hunter2"};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

TempDir::TempDir(Mode m) : uid_(Harness::get().uid(m)), gid_(Harness::get().gid(m)) {
  char tmpl[] = "/tmp/mcpjail-ws-XXXXXX";
  path_ = ::mkdtemp(tmpl);
  ::chmod(path_.c_str(), 0755);
  if (::geteuid() == 0 && ::chown(path_.c_str(), uid_, gid_) != 0) throw std::runtime_error("chown");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::file(const std::string& name, const std::string& content, unsigned mode) const {
  const std::string p = path_ + "/" + name;
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << content;
  ::chmod(p.c_str(), mode);
  if (::geteuid() == 0 && ::chown(p.c_str(), uid_, gid_) != 0) throw std::runtime_error("chown");
  return p;
}

std::string TempDir::dir(const std::string& name) const {
  const std::string p = path_ + "/" + name;
  fs::create_directories(p);
  if (::geteuid() == 0 && ::chown(p.c_str(), uid_, gid_) != 0) throw std::runtime_error("chown");
  return p;
}

Running::Running(Mode m, const std::vector<std::string>& args, const RunOptions& opts) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe");
  const auto& h = Harness::get();
  pid_ = spawn(h.launcher_argv(m, args), h.launcher_env(m, opts.env), in[0], out[1], err[1], opts.inherit_fd);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  if (!opts.stdin_data.empty()) write_stdin(opts.stdin_data);
  if (opts.close_stdin) close_stdin();
}

Running::~Running() {
  if (!done_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int fd : {in_, out_, err_})
    if (fd >= 0) ::close(fd);
}

void Running::write_stdin(const std::string& s) {
  if (in_ >= 0 && ::write(in_, s.data(), s.size()) != static_cast<ssize_t>(s.size())) throw std::runtime_error("write stdin");
}

void Running::close_stdin() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

std::optional<std::string> Running::read_line(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = out_buf_.find('\n'); nl != std::string::npos) {
      std::string line = out_buf_.substr(0, nl);
      out_buf_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || out_ < 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) {
      ::close(out_);
      out_ = -1;
      return std::nullopt;
    }
    out_buf_.append(buf, static_cast<std::size_t>(n));
  }
}

Result Running::wait(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Result r;
  while (out_ >= 0 || err_ >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid_, SIGKILL);
      r.err += "\n[harness: timed out, killed]";
      break;
    }
    pollfd p[2];
    int n = 0;
    if (out_ >= 0) p[n++] = {out_, POLLIN, 0};
    if (err_ >= 0) p[n++] = {err_, POLLIN, 0};
    if (::poll(p, static_cast<nfds_t>(n), static_cast<int>(left.count())) <= 0) continue;
    for (int i = 0; i < n; ++i) {
      if (!p[i].revents) continue;
      char buf[8192];
      const ssize_t k = ::read(p[i].fd, buf, sizeof buf);
      const bool is_out = p[i].fd == out_;
      if (k <= 0) {
        ::close(p[i].fd);
        (is_out ? out_ : err_) = -1;
      } else {
        (is_out ? out_buf_ : err_buf_).append(buf, static_cast<std::size_t>(k));
      }
    }
  }
  int st = 0;
  ::waitpid(pid_, &st, 0);
  done_ = true;
  r.status = decode(st);
  r.out = out_buf_;
  r.err = err_buf_ + r.err;
  return r;
}

Result run(Mode m, const std::vector<std::string>& args, const RunOptions& opts) {
  Running r(m, args, opts);
  return r.wait(opts.timeout);
}

std::vector<pid_t> processes_matching(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    if (std::strspn(e->d_name, "0123456789") != std::strlen(e->d_name)) continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(needle) != std::string::npos && std::atoi(e->d_name) != ::getpid()) out.push_back(std::atoi(e->d_name));
  }
  if (d) ::closedir(d);
  return out;
}

}  // namespace it
