#include "harness.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "../support/test_user.hpp"

namespace fs = std::filesystem;

namespace it {

const char* mode_name(Mode m) { return m == Mode::Root ? "root" : "rootless"; }

std::vector<Mode> modes() {
  if (::geteuid() == 0) return {Mode::Root, Mode::Rootless};
  return {Mode::Rootless};
}

Harness& Harness::get() {
  static Harness h;
  return h;
}

Harness::Harness() : creator_(::getpid()) {
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
    const support::User u = support::test_user();
    test_uid_ = u.uid;
    test_gid_ = u.gid;
    test_home_ = u.home;
  } else {
    test_uid_ = ::getuid();
    test_gid_ = ::getgid();
    const char* h = std::getenv("HOME");
    test_home_ = h ? h : "/";
  }
}

Harness::~Harness() {
  if (::getpid() != creator_ || dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
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
  for (const auto& e : extra) {  // an extra NAME=value replaces the default of that name
    const std::string name = e.substr(0, e.find('=') + 1);
    std::erase_if(env, [&](const std::string& d) { return d.starts_with(name); });
    env.push_back(e);
  }
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

void chown_tree(const std::string& root, uid_t uid, gid_t gid) {
  if (::geteuid() != 0) return;
  auto give = [&](const fs::path& p) {
    if (::lchown(p.c_str(), uid, gid) != 0) throw std::runtime_error("lchown " + p.string());
  };
  give(root);
  for (const auto& e : fs::recursive_directory_iterator(root)) give(e.path());
}

std::string TempDir::dir(const std::string& name) const {
  const std::string p = path_ + "/" + name;
  fs::create_directories(p);
  if (::geteuid() == 0 && ::chown(p.c_str(), uid_, gid_) != 0) throw std::runtime_error("chown");
  return p;
}

namespace {

support::SpawnOptions spawn_options(const RunOptions& opts) {
  support::SpawnOptions o;
  o.inherit_fd = opts.inherit_fd;
  return o;
}

}  // namespace

Running::Running(Mode m, const std::vector<std::string>& args, const RunOptions& opts)
    : child_(Harness::get().launcher_argv(m, args), Harness::get().launcher_env(m, opts.env), spawn_options(opts)) {
  if (!opts.stdin_data.empty()) write_stdin(opts.stdin_data);
  if (opts.close_stdin) close_stdin();
}

Result run(Mode m, const std::vector<std::string>& args, const RunOptions& opts) {
  Running r(m, args, opts);
  return r.wait(opts.timeout);
}

}  // namespace it
