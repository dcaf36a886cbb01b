// `mcp-jail probe`, inside the jail: what a hostile server would try first,
// tried for real. Attempts that could kill the probe (a seccomp kill) run in
// a forked child; every attempt that succeeds undoes what it did (a created
// file is removed at once). Started by probe.cc as the jail's command.
#include "mcpjail/frontends/probe.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "mcpjail/errors.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::probe {

namespace {

using nlohmann::json;

struct Outcome {
  bool contained;
  std::string detail;
};

Outcome refused(const char* what, int err) { return {true, std::string(what) + ": " + std::strerror(err)}; }

// ---- inside the jail --------------------------------------------------

class Battery {
 public:
  explicit Battery(json cfg) : cfg_(std::move(cfg)) {}

  void run() {
    const std::string home = cfg_.value("home", "");
    secrets(home);
    persistence(home);
    escape();
    network();
    processes();
  }

 private:
  void emit(const std::string& category, const std::string& name, const Outcome& o) {
    const json j = {{"category", category}, {"name", name}, {"contained", o.contained}, {"detail", o.detail}};
    std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    std::fflush(stdout);
  }

  // Runs `fn` in a child so that a seccomp kill (SIGSYS) or a hang cannot end
  // the battery; the child reports through a pipe.
  template <class F>
  void isolated(const std::string& category, const std::string& name, F fn) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return emit(category, name, {false, "pipe failed"});
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(p[0]);
      ::close(p[1]);
      return emit(category, name, {true, std::string("not attempted: fork refused (") + std::strerror(errno) + ")"});
    }
    if (pid == 0) {
      ::close(p[0]);
      ::alarm(5);
      const Outcome o = fn();
      const std::string line = std::string(o.contained ? "1" : "0") + o.detail;
      if (::write(p[1], line.data(), line.size()) < 0) ::_exit(3);
      ::_exit(0);
    }
    ::close(p[1]);
    std::string got;
    char buf[1024];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) {
      const int sig = WTERMSIG(st);
      return emit(category, name, {sig == SIGSYS, std::string("killed by ") + ::strsignal(sig)});
    }
    if (got.empty()) return emit(category, name, {false, "no answer from the attempt"});
    emit(category, name, {got[0] == '1', got.substr(1)});
  }

  static Outcome try_open(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
    if (fd < 0) return refused("open", errno);
    ::close(fd);
    if (flags & O_CREAT) ::unlink(path.c_str());
    return {false, (flags & (O_WRONLY | O_RDWR)) ? "opened for writing" : "opened for reading"};
  }

  static Outcome try_list(const std::string& path) {
    DIR* d = ::opendir(path.c_str());
    if (!d) return refused("opendir", errno);
    int n = 0;
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ++n;
    ::closedir(d);
    return {n == 0, "listed " + std::to_string(n) + " entries"};
  }

  // try_list() of a directory of the host. A directory on the jail's own
  // root (the tmpfs that holds the mount points) can be listed, but holds
  // nothing but the names of what the plan mounts below it: no host content.
  static Outcome try_list_host(const std::string& path) {
    struct stat st {}, root {};
    if (::stat(path.c_str(), &st) == 0 && ::stat("/", &root) == 0 && S_ISDIR(st.st_mode) && st.st_dev == root.st_dev)
      return {true, "only the jail's own directory, holding the mount points of the plan"};
    return try_list(path);
  }

  void secrets(const std::string& home) {
    emit("secrets", "read a secret planted in the launching user's $HOME", try_open(cfg_.value("home_canary", ""), O_RDONLY));
    if (!home.empty()) emit("secrets", "list $HOME (" + home + ")", try_list_host(home));
    emit("secrets", "list ~/.ssh", try_list_host(home + "/.ssh"));
    emit("secrets", "read ~/.aws/credentials", try_open(home + "/.aws/credentials", O_RDONLY));
    emit("secrets", "read /etc/shadow", try_open("/etc/shadow", O_RDONLY));
    emit("secrets", "list /root", try_list_host("/root"));
    const std::string var = cfg_.value("env_canary", "");
    emit("secrets", "read the launcher's environment (" + var + ")",
         std::getenv(var.c_str()) ? Outcome{false, "the variable is set"} : Outcome{true, "not in the environment"});
    int open_fds = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
      const int self = ::dirfd(d);
      while (dirent* e = ::readdir(d)) {
        const int fd = std::atoi(e->d_name);
        if (e->d_name[0] != '.' && fd > 2 && fd != self) ++open_fds;
      }
      ::closedir(d);
    }
    emit("secrets", "use a file descriptor inherited from the launcher",
         open_fds ? Outcome{false, std::to_string(open_fds) + " extra fds open"} : Outcome{true, "only 0, 1, 2 open"});
  }

  void persistence(const std::string& home) {
    const std::string tag = "mcpjail-probe-" + cfg_.value("id", std::string("x"));
    emit("persistence", "create a cron job in /etc/cron.d", try_open("/etc/cron.d/" + tag, O_WRONLY | O_CREAT | O_EXCL));
    emit("persistence", "drop a binary in /usr/local/bin", try_open("/usr/local/bin/" + tag, O_WRONLY | O_CREAT | O_EXCL));
    emit("persistence", "append to ~/.bashrc", try_open(home + "/.bashrc", O_WRONLY | O_APPEND));
    emit("persistence", "add ~/.config/autostart entry", try_open(home + "/.config/autostart/" + tag + ".desktop", O_WRONLY | O_CREAT | O_EXCL));
    emit("persistence", "overwrite the mcp-jail binary", try_open(cfg_.value("self", "/proc/self/exe"), O_WRONLY));
    emit("persistence", "open /proc/1/exe for writing", try_open("/proc/1/exe", O_WRONLY));
    emit("persistence", "write /proc/sys/kernel/core_pattern", try_open("/proc/sys/kernel/core_pattern", O_WRONLY));
  }

  void escape() {
    isolated("escape", "unshare(CLONE_NEWUSER)", [] {
      return ::unshare(CLONE_NEWUSER) == 0 ? Outcome{false, "new user namespace created"} : refused("unshare", errno);
    });
    isolated("escape", "unshare(CLONE_NEWNS)", [] {
      return ::unshare(CLONE_NEWNS) == 0 ? Outcome{false, "new mount namespace created"} : refused("unshare", errno);
    });
    isolated("escape", "clone3(CLONE_NEWUSER)", [] {
      clone_args args{};
      args.flags = CLONE_NEWUSER;
      args.exit_signal = SIGCHLD;
      const long r = ::syscall(SYS_clone3, &args, sizeof args);
      if (r == 0) ::_exit(0);
      if (r > 0) {
        ::waitpid(static_cast<pid_t>(r), nullptr, 0);
        return Outcome{false, "child created in a new user namespace"};
      }
      return refused("clone3", errno);
    });
    isolated("escape", "mount a tmpfs", [] {
      return ::mount("none", "/tmp", "tmpfs", 0, nullptr) == 0 ? Outcome{false, "mounted"} : refused("mount", errno);
    });
    isolated("escape", "ptrace the jail's pid 1", [] {
      return ::ptrace(PTRACE_ATTACH, 1, nullptr, nullptr) == 0 ? Outcome{false, "attached"} : refused("ptrace", errno);
    });
    isolated("escape", "read pid 1's memory (process_vm_readv)", [] {
      char buf[8];
      iovec local{buf, sizeof buf}, remote{reinterpret_cast<void*>(0x400000), sizeof buf};
      return ::process_vm_readv(1, &local, 1, &remote, 1, 0) >= 0 ? Outcome{false, "read"} : refused("process_vm_readv", errno);
    });
    isolated("escape", "join a kernel keyring (keyctl)", [] {
      return ::syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, nullptr) >= 0 ? Outcome{false, "joined"}
                                                                                     : refused("keyctl", errno);
    });
    isolated("escape", "create a BPF map", [] {
      bpf_attr attr{};
      attr.map_type = BPF_MAP_TYPE_ARRAY;
      attr.key_size = 4;
      attr.value_size = 4;
      attr.max_entries = 1;
      const long fd = ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
      if (fd >= 0) return Outcome{false, "map created"};
      return refused("bpf", errno);
    });
    isolated("escape", "set up io_uring", [] {
      io_uring_params p{};
      const long fd = ::syscall(SYS_io_uring_setup, 1, &p);
      return fd >= 0 ? Outcome{false, "ring created"} : refused("io_uring_setup", errno);
    });
    isolated("escape", "open a perf event", [] {
      perf_event_attr a{};
      a.size = sizeof a;
      a.type = PERF_TYPE_SOFTWARE;
      a.config = PERF_COUNT_SW_CPU_CLOCK;
      const long fd = ::syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
      return fd >= 0 ? Outcome{false, "event opened"} : refused("perf_event_open", errno);
    });
    isolated("escape", "32-bit syscall through int 0x80", [] {
      long ret = 20;  // ia32 getpid
      asm volatile("int $0x80" : "+a"(ret) : : "memory");
      return ret > 0 ? Outcome{false, "ia32 getpid answered " + std::to_string(ret)} : Outcome{true, "refused: " + std::to_string(ret)};
    });
    isolated("escape", "push keystrokes into a terminal (TIOCSTI)", [] {
      int master = -1, slave = -1;
      if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return refused("openpty", errno);
      const char c = ' ';
      const int r = ::ioctl(slave, TIOCSTI, &c);
      const int err = errno;
      ::close(master);
      ::close(slave);
      return r == 0 ? Outcome{false, "TIOCSTI accepted"} : refused("ioctl TIOCSTI", err);
    });
    isolated("escape", "become root (setuid 0)", [] {
      return ::setuid(0) == 0 ? Outcome{false, "uid 0"} : refused("setuid", errno);
    });
    emit("escape", "hold a capability", capabilities());
    isolated("escape", "open a raw socket", [] {
      const int s = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
      if (s >= 0) {
        ::close(s);
        return Outcome{false, "raw socket open"};
      }
      return refused("socket", errno);
    });
  }

  static Outcome capabilities() {
    std::ifstream in("/proc/self/status");
    std::string line, bad;
    while (std::getline(in, line)) {
      for (const char* f : {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"})
        if (line.rfind(f, 0) == 0 && line.find_first_not_of("0 \t", std::strlen(f)) != std::string::npos) bad += line + " ";
      if (line.rfind("NoNewPrivs:", 0) == 0 && line.find('1') == std::string::npos) bad += "no_new_privs off ";
    }
    return bad.empty() ? Outcome{true, "all capability sets empty, no_new_privs on"} : Outcome{false, bad};
  }

  static Outcome tcp_connect(const char* ip, int port, int timeout_ms) {
    sockaddr_in6 a6{};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool v6 = ::inet_pton(AF_INET, ip, &a.sin_addr) != 1;
    if (v6) {
      a6.sin6_family = AF_INET6;
      a6.sin6_port = a.sin_port;
      ::inet_pton(AF_INET6, ip, &a6.sin6_addr);
    }
    const int s = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) return refused("socket", errno);
    int r = v6 ? ::connect(s, reinterpret_cast<sockaddr*>(&a6), sizeof a6)
               : ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (r != 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) {
        ::close(s);
        return {true, "no answer within " + std::to_string(timeout_ms) + " ms (dropped)"};
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
      r = err ? -1 : 0;
      errno = err;
    }
    const int err = errno;
    ::close(s);
    return r == 0 ? Outcome{false, "connected"} : refused("connect", err);
  }

  void network() {
    const bool host = cfg_.value("net_mode", "none") == "host";
    isolated("network", "connect to an abstract unix socket outside the jail", [this] {
      const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      const std::string name = cfg_.value("abstract", "");
      std::memcpy(a.sun_path + 1, name.data(), std::min(name.size(), sizeof a.sun_path - 2));
      const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
      const int r = ::connect(s, reinterpret_cast<sockaddr*>(&a), len);
      const int err = errno;
      ::close(s);
      return r == 0 ? Outcome{false, "connected"} : refused("connect", err);
    });
    for (const char* sock : {"/run/docker.sock", "/var/run/docker.sock"}) {
      isolated("network", std::string("talk to ") + sock, [sock] {
        const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, sock, sizeof a.sun_path - 1);
        const int r = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
        const int err = errno;
        ::close(s);
        return r == 0 ? Outcome{false, "connected"} : refused("connect", err);
      });
    }
    const int port = cfg_.value("tcp_port", 0);
    isolated("network", "reach a service on the host's loopback (127.0.0.1:" + std::to_string(port) + ")",
             [port] { return tcp_connect("127.0.0.1", port, 1000); });
    if (host) {
      emit("network", "reach the cloud metadata service (169.254.169.254)", {false, "not attempted: network = host shares the host's network"});
      emit("network", "reach an address that is not allowed", {false, "not attempted: network = host shares the host's network"});
      emit("network", "reach this host's own addresses", {false, "not attempted: network = host shares the host's network"});
      return;
    }
    // The host's own addresses (other than loopback), where the probe
    // listens on every address: through an uplink they lead to the host.
    const int any_port = cfg_.value("any_port", 0);
    for (const auto& a : cfg_.value("host_addrs", json::array())) {
      const std::string ip = a.get<std::string>();
      isolated("network", "reach this host's own address (" + (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) +
                              ":" + std::to_string(any_port) + ")",
               [ip, any_port] { return tcp_connect(ip.c_str(), any_port, 1000); });
    }
    isolated("network", "reach the cloud metadata service (169.254.169.254:80)", [] { return tcp_connect("169.254.169.254", 80, 1000); });
    isolated("network", "reach an address that is not allowed (192.0.2.1:443)", [] { return tcp_connect("192.0.2.1", 443, 1000); });
    std::ifstream routes("/proc/net/route");
    std::string line, gw_ip;
    while (std::getline(routes, line)) {
      std::istringstream ls(line);
      std::string iface, dest, gw;
      ls >> iface >> dest >> gw;
      if (dest == "00000000" && gw != "00000000" && gw.size() == 8) {
        in_addr a{};
        a.s_addr = static_cast<in_addr_t>(std::stoul(gw, nullptr, 16));
        gw_ip = ::inet_ntoa(a);
      }
    }
    if (gw_ip.empty()) {
      emit("network", "reach the gateway", {true, "no default route in the jail"});
    } else {
      isolated("network", "reach the gateway (" + gw_ip + ":22)", [gw_ip] { return tcp_connect(gw_ip.c_str(), 22, 1000); });
    }
  }

  void processes() {
    int n = 0;
    if (DIR* d = ::opendir("/proc")) {
      while (dirent* e = ::readdir(d))
        if (std::strspn(e->d_name, "0123456789") == std::strlen(e->d_name)) ++n;
      ::closedir(d);
    }
    emit("processes", "see or signal the host's processes",
         n <= 3 ? Outcome{true, std::to_string(n) + " processes visible (the jail's own)"}
                : Outcome{false, std::to_string(n) + " processes visible"});
  }

  json cfg_;
};

}  // namespace

int inside_main(int argc, char** argv) {
  json cfg = json::object();
  if (argc > 2) cfg = json::parse(argv[2], nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) {
    std::fprintf(stderr, "mcp-jail: probe: bad battery configuration\n");
    return kExitLauncherError;
  }
  Battery(std::move(cfg)).run();
  return 0;
}

}  // namespace mcpjail::probe
