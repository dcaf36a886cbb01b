// jailprobe: runs inside a jail and checks one thing from there.
//   jailprobe CHECK [ARGS...]
// Exit 0 when the expectation holds, 1 (with a reason on stderr) when not.
// The integration tests launch it through `mcp-jail run`.
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

int fail(const std::string& why) {
  std::fprintf(stderr, "jailprobe: FAIL: %s\n", why.c_str());
  return 1;
}

std::string status_field(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) {
      auto v = line.substr(name.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "";
}

bool open_fails(const char* path, int flags, int* err) {
  const int fd = ::open(path, flags | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  *err = errno;
  return true;
}

std::string read_all(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> dir_entries(const char* path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path);
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

// ---- exec of what the server writes (noexec mounts, memfd) ----------------

// Copies `from` to `to` with mode 0755 (a fresh file the server "wrote").
bool copy_file(const char* from, const char* to) {
  const std::string data = read_all(from);
  const int fd = ::open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  if (fd < 0 || data.empty()) return false;
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

// Runs argv (execv, or execveat(fd, "", AT_EMPTY_PATH) when fd >= 0) in a
// child; its exit status, 128+N for a signal, or -errno when exec failed.
int run_child(const std::vector<std::string>& args, int fd = -1) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return -EIO;
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> av;
    for (const auto& x : args) av.push_back(const_cast<char*>(x.c_str()));
    av.push_back(nullptr);
    char* envp[] = {nullptr};
    if (fd >= 0) ::syscall(SYS_execveat, fd, "", av.data(), envp, AT_EMPTY_PATH);
    else ::execve(args[0].c_str(), av.data(), envp);
    const int e = errno;
    (void)!::write(pipefd[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(pipefd[1]);
  int e = 0;
  const bool exec_failed = ::read(pipefd[0], &e, sizeof e) == sizeof e;
  ::close(pipefd[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (exec_failed) return -e;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// "mmap-exec PATH yes|no": a file written at PATH can (not) be mapped
// PROT_EXEC; mapping it PROT_READ always works (the control).
int check_mmap_exec(const char* path, const std::string& want) {
  if (!copy_file("/usr/bin/true", path)) return fail(std::string("cannot write ") + path + ": " + std::strerror(errno));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::string("open ") + path + ": " + std::strerror(errno));
  void* r = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  if (r == MAP_FAILED) return fail(std::string("mmap PROT_READ ") + path + ": " + std::strerror(errno));
  ::munmap(r, 4096);
  void* x = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (x != MAP_FAILED) ::munmap(x, 4096);
  if (want == "yes") return x != MAP_FAILED ? 0 : fail(std::string("mmap PROT_EXEC ") + path + ": " + std::strerror(err));
  if (x != MAP_FAILED) return fail(std::string(path) + " was mapped PROT_EXEC");
  return err == EPERM || err == EACCES ? 0 : fail(std::string("mmap PROT_EXEC: unexpected ") + std::strerror(err));
}

// "ldso-run LDSO PATH yes|no": the dynamic loader runs a copy of
// /usr/bin/true written at PATH (exit 0), or cannot map it. PATH
// /usr/bin/true itself is run as it is (the control).
int check_ldso_run(const char* ldso, const char* path, const std::string& want) {
  if (std::strcmp(path, "/usr/bin/true") != 0 && !copy_file("/usr/bin/true", path)) return fail(std::string("cannot write ") + path + ": " + std::strerror(errno));
  const int rc = run_child({ldso, path});
  if (want == "yes") return rc == 0 ? 0 : fail("ld.so " + std::string(path) + " gave " + std::to_string(rc));
  return rc != 0 ? 0 : fail(std::string("ld.so ran ") + path);
}

// "memfd-exec yes|no": a copy of /usr/bin/true written into a memfd runs
// (or not) through execveat(fd, "", AT_EMPTY_PATH) and through execve of
// /proc/self/fd/N.
int check_memfd_exec(const std::string& want) {
  const int fd = static_cast<int>(::syscall(SYS_memfd_create, "payload", 0));
  if (fd < 0) return want == "no" ? 0 : fail(std::string("memfd_create: ") + std::strerror(errno));
  const std::string data = read_all("/usr/bin/true");
  if (data.empty() || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    return fail("write the memfd");
  ::fchmod(fd, 0755);  // refused under vm.memfd_noexec = 2 (F_SEAL_EXEC); harmless otherwise
  const int by_fd = run_child({"payload"}, fd);
  const int by_path = run_child({"/proc/self/fd/" + std::to_string(fd)});
  ::close(fd);
  if (want == "yes")
    return by_fd == 0 && by_path == 0 ? 0 : fail("memfd exec gave " + std::to_string(by_fd) + " / " + std::to_string(by_path));
  if (by_fd == 0) return fail("execveat(memfd, AT_EMPTY_PATH) ran the program");
  if (by_path == 0) return fail("execve(/proc/self/fd/N) ran the program");
  return 0;
}

// "memfd-data": memfds work for data: made (with and without MFD_CLOEXEC,
// which sets close-on-exec or not), written, read back, mapped shared; each
// is sealed against exec (F_SEAL_EXEC, no x bit); MFD_EXEC is refused with
// EACCES; a name of 249 bytes is fine, 250 is EINVAL, an unreadable one EFAULT.
int check_memfd_data() {
  constexpr unsigned kMfdExec = 0x10, kSealExec = 0x20;
  const int fd = static_cast<int>(::syscall(SYS_memfd_create, "data", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) return fail(std::string("memfd_create: ") + std::strerror(errno));
  const std::string text = "data kept in memory";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return fail("write the memfd");
  char back[64] = {};
  if (::pread(fd, back, sizeof back, 0) != static_cast<ssize_t>(text.size()) || text != back) return fail("read back");
  void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return fail(std::string("mmap shared: ") + std::strerror(errno));
  static_cast<char*>(map)[0] = 'D';
  ::munmap(map, 4096);
  if (::pread(fd, back, 1, 0) != 1 || back[0] != 'D') return fail("a write through the mapping is not in the file");
  if (!(::fcntl(fd, F_GETFD) & FD_CLOEXEC)) return fail("MFD_CLOEXEC did not set close-on-exec");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_mode & 0111)) return fail("the memfd has an x bit: " + std::to_string(st.st_mode));
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || !(seals & kSealExec)) return fail("no F_SEAL_EXEC: seals " + std::to_string(seals));
  ::close(fd);
  const int plain = static_cast<int>(::syscall(SYS_memfd_create, "plain", 0));
  if (plain < 0) return fail(std::string("memfd_create without flags: ") + std::strerror(errno));
  if (::fcntl(plain, F_GETFD) & FD_CLOEXEC) return fail("close-on-exec set without MFD_CLOEXEC");
  ::close(plain);
  errno = 0;
  if (::syscall(SYS_memfd_create, "exec", kMfdExec) >= 0 || errno != EACCES)
    return fail(std::string("MFD_EXEC: expected EACCES, got ") + std::strerror(errno));
  const std::string longest(249, 'n');
  const int ok = static_cast<int>(::syscall(SYS_memfd_create, longest.c_str(), MFD_CLOEXEC));
  if (ok < 0) return fail(std::string("a 249-byte name: ") + std::strerror(errno));
  ::close(ok);
  const std::string too_long(250, 'n');
  errno = 0;
  if (::syscall(SYS_memfd_create, too_long.c_str(), MFD_CLOEXEC) >= 0 || errno != EINVAL)
    return fail(std::string("a 250-byte name: expected EINVAL, got ") + std::strerror(errno));
  errno = 0;
  if (::syscall(SYS_memfd_create, reinterpret_cast<const char*>(8), MFD_CLOEXEC) >= 0 || errno != EFAULT)
    return fail(std::string("an unreadable name: expected EFAULT, got ") + std::strerror(errno));
  return 0;
}

// "rw-noexec [EXEC_MOUNT...]": every writable mount is noexec, except the
// mount points listed.
int check_rw_noexec(int argc, char** argv) {
  std::set<std::string> except;
  for (int i = 2; i < argc; ++i) except.insert(argv[i]);
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  int rw = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, mnt, opts;
    ls >> id >> parent >> devno >> root >> mnt >> opts;
    if (opts.rfind("rw", 0) != 0 || (mnt.rfind("/dev/", 0) == 0 && mnt != "/dev/shm")) continue;
    if (mnt == "/dev/pts") continue;
    ++rw;
    const bool noexec = opts.find("noexec") != std::string::npos;
    if (except.count(mnt)) {
      if (noexec) return fail(mnt + " is noexec but should allow exec: " + opts);
    } else if (!noexec) {
      return fail(mnt + " is writable and not noexec: " + opts);
    }
  }
  return rw > 0 ? 0 : fail("no writable mount found");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail("no check named");
  const std::string check = argv[1];
  const char* a = argc > 2 ? argv[2] : "";
  const char* b = argc > 3 ? argv[3] : "";

  if (check == "caps-zero") {
    for (const char* f : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
      if (status_field(f) != "0000000000000000") return fail(std::string(f) + " = " + status_field(f));
    return 0;
  }
  if (check == "nnp") return status_field("NoNewPrivs") == "1" ? 0 : fail("NoNewPrivs = " + status_field("NoNewPrivs"));
  if (check == "uid-not-root") {
    if (::getuid() == 0 || ::geteuid() == 0 || ::getgid() == 0) return fail("uid/gid 0 inside the jail");
    // The host uid behind ours: uid_map "inside outside count" lines.
    std::ifstream in("/proc/self/uid_map");
    unsigned long inside, outside, count;
    while (in >> inside >> outside >> count)
      if (::getuid() >= inside && ::getuid() < inside + count && outside + (::getuid() - inside) == 0)
        return fail("mapped to host uid 0");
    if (status_field("Groups").find(" 0 ") != std::string::npos || status_field("Groups") == "0")
      return fail("supplementary group 0");
    return 0;
  }
  if (check == "uid-is") return std::to_string(::getuid()) == a ? 0 : fail("uid " + std::to_string(::getuid()));
  if (check == "absent") {
    struct stat st {};
    if (::lstat(a, &st) == 0) return fail(std::string(a) + " exists");
    return errno == ENOENT || errno == EACCES ? 0 : fail(std::string(a) + ": " + std::strerror(errno));
  }
  if (check == "unreadable") {
    int err = 0;
    if (!open_fails(a, O_RDONLY, &err)) return fail(std::string(a) + " is readable");
    return 0;
  }
  if (check == "readable") {
    int err = 0;
    if (open_fails(a, O_RDONLY, &err)) return fail(std::string(a) + ": " + std::strerror(err));
    if (*b && read_all(a) != b) return fail(std::string(a) + " has other content");
    return 0;
  }
  if (check == "write-fails") {
    int err = 0;
    if (!open_fails(a, O_WRONLY | O_CREAT | O_APPEND, &err)) return fail(std::string(a) + " is writable");
    if (err != EROFS && err != ENOENT && err != EACCES && err != EPERM)
      return fail(std::string(a) + ": unexpected " + std::strerror(err));
    return 0;
  }
  if (check == "write-ok") {
    const int fd = ::open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(std::string(a) + ": " + std::strerror(errno));
    const ssize_t n = ::write(fd, b, std::strlen(b));
    ::close(fd);
    return n == static_cast<ssize_t>(std::strlen(b)) ? 0 : fail("short write");
  }
  if (check == "mkdir-fails") {
    if (::mkdir(a, 0755) == 0) return fail(std::string(a) + " created");
    return 0;
  }
  if (check == "max-pids") {
    int n = 0;
    for (const auto& e : dir_entries("/proc"))
      if (std::strspn(e.c_str(), "0123456789") == e.size()) ++n;
    return n <= std::atoi(a) ? 0 : fail(std::to_string(n) + " processes visible");
  }
  if (check == "fds-0-1-2") {
    const int self = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    std::set<int> fds;
    for (const auto& e : dir_entries("/proc/self/fd")) fds.insert(std::atoi(e.c_str()));
    ::close(self);
    for (int fd : fds)
      if (fd > 2 && fd != self && fcntl(fd, F_GETFD) != -1) return fail("fd " + std::to_string(fd) + " is open");
    return 0;
  }
  if (check == "list") {  // DIR [NAME]: DIR can be listed (and holds NAME)
    DIR* d = ::opendir(a);
    if (!d) return fail(std::string("opendir ") + a + ": " + std::strerror(errno));
    bool found = !*b;
    errno = 0;
    while (auto* e = ::readdir(d))
      if (*b && std::strcmp(e->d_name, b) == 0) found = true;
    const int err = errno;
    ::closedir(d);
    if (err) return fail(std::string("readdir ") + a + ": " + std::strerror(err));
    return found ? 0 : fail(std::string(a) + " has no entry " + b);
  }
  if (check == "exec-errno" || check == "exec-status") {
    // PATH N: execve(PATH) fails with errno N (exec-errno), or PATH runs and
    // exits with status N (exec-status).
    const pid_t pid = ::fork();
    if (pid == 0) {
      char* const args[] = {const_cast<char*>(a), nullptr};
      ::execve(a, args, environ);
      _exit(100 + errno);  // the errno values checked here are small
    }
    int st = 0;
    if (pid < 0 || ::waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return fail("fork/wait");
    const int code = WEXITSTATUS(st);
    if (check == "exec-status")
      return code == std::atoi(b) ? 0 : fail(std::string(a) + ": status " + std::to_string(code) +
                                                 (code > 100 ? std::string(" (") + std::strerror(code - 100) + ")" : ""));
    if (code < 100) return fail(std::string(a) + " ran (status " + std::to_string(code) + ")");
    return code - 100 == std::atoi(b) ? 0 : fail(std::string("execve ") + a + ": " + std::strerror(code - 100));
  }
  if (check == "open-errno") {  // PATH N: open(PATH, O_WRONLY) fails with errno N
    int err = 0;
    if (!open_fails(a, O_WRONLY, &err)) return fail(std::string(a) + " opened");
    return err == std::atoi(b) ? 0 : fail(std::string(a) + ": " + std::strerror(err));
  }
  if (check == "env-absent") return std::getenv(a) ? fail(std::string(a) + " is set") : 0;
  if (check == "env-is") {
    const char* v = std::getenv(a);
    return v && std::string(v) == b ? 0 : fail(std::string(a) + " = " + (v ? v : "(unset)"));
  }
  if (check == "env-count") {
    extern char** environ;
    int n = 0;
    for (char** e = environ; *e; ++e) ++n;
    return n == std::atoi(a) ? 0 : fail(std::to_string(n) + " variables");
  }
  if (check == "hostname") {
    char h[256] = {};
    ::gethostname(h, sizeof h - 1);
    return std::string(h) == a ? 0 : fail(std::string("hostname ") + h);
  }
  if (check == "cwd") {
    char buf[4096] = {};
    return ::getcwd(buf, sizeof buf) && std::string(buf) == a ? 0 : fail(std::string("cwd ") + buf);
  }
  if (check == "mounts-hardened") {
    // Every mount nosuid; every mount but device nodes and devpts nodev.
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string id, parent, devno, root, mnt, opts;
      ls >> id >> parent >> devno >> root >> mnt >> opts;
      ++n;
      if (opts.find("nosuid") == std::string::npos) return fail(mnt + " is not nosuid: " + opts);
      const bool device = mnt.rfind("/dev/", 0) == 0 && mnt != "/dev/shm";
      if (!device && opts.find("nodev") == std::string::npos) return fail(mnt + " is not nodev: " + opts);
      if (mnt == "/" && opts.rfind("ro", 0) != 0) return fail("/ is not read-only: " + opts);
    }
    return n > 3 ? 0 : fail("too few mounts");
  }
  if (check == "dev-minimal") {
    std::set<std::string> want = {"null", "zero", "full", "random", "urandom", "tty", "shm", "pts", "ptmx",
                                  "fd", "stdin", "stdout", "stderr"};
    std::set<std::string> got;
    for (const auto& e : dir_entries("/dev")) got.insert(e);
    if (got != want) {
      std::string s;
      for (const auto& g : got) s += g + " ";
      return fail("/dev holds: " + s);
    }
    int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "x", 1) != 1) return fail("/dev/null unusable");
    ::close(fd);
    return 0;
  }
  if (check == "only-loopback-up") {
    struct if_nameindex* ifs = ::if_nameindex();
    int n = 0;
    for (struct if_nameindex* i = ifs; i && i->if_index; ++i) {
      ++n;
      if (std::strcmp(i->if_name, "lo") != 0) return fail(std::string("interface ") + i->if_name);
    }
    ::if_freenameindex(ifs);
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return fail("SIOCGIFFLAGS");
    ::close(s);
    return n == 1 && (ifr.ifr_flags & IFF_UP) ? 0 : fail("lo is not up");
  }
  if (check == "unshare-user") {
    if (::unshare(CLONE_NEWUSER) == 0) return fail("unshare(CLONE_NEWUSER) succeeded");
    return errno == EPERM ? 0 : fail(std::string("unshare: ") + std::strerror(errno));
  }
  if (check == "mmap-exec") return check_mmap_exec(a, b);
  if (check == "ldso-run") return check_ldso_run(a, b, argc > 4 ? argv[4] : "");
  if (check == "memfd-exec") return check_memfd_exec(a);
  if (check == "memfd-data") return check_memfd_data();
  if (check == "rw-noexec") return check_rw_noexec(argc, argv);
  if (check == "exit") return std::atoi(a);
  if (check == "kill-self") {
    ::kill(::getpid(), std::atoi(a));
    ::pause();
    return 0;
  }
  if (check == "sleep") {
    // Announce readiness on stdout so a test knows the server runs.
    std::printf("ready %d\n", ::getpid());
    std::fflush(stdout);
    ::sleep(static_cast<unsigned>(std::atoi(a)));
    return 0;
  }
  if (check == "term-handler") {
    // Exits 42 on SIGTERM: shows the signal reached the server itself.
    struct sigaction sa {};
    sa.sa_handler = [](int) { ::_exit(42); };
    ::sigaction(SIGTERM, &sa, nullptr);
    std::printf("ready\n");
    std::fflush(stdout);
    for (;;) ::pause();
  }
  if (check == "cat") {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof buf)) > 0)
      if (::write(1, buf, static_cast<size_t>(n)) != n) return fail("write");
    return n == 0 ? 0 : fail("read");
  }
  // Hostile acts for the trust tests, in order: steps OP ARGS... [OP ARGS...]
  if (check == "steps") {
    for (int i = 2; i < argc;) {
      const std::string op = argv[i];
      auto arg = [&](int k) -> const char* { return i + k < argc ? argv[i + k] : ""; };
      if (op == "symlink") {  // TARGET LINK (LINK replaced if present)
        ::unlink(arg(2));
        if (::symlink(arg(1), arg(2)) != 0) return fail(std::string("symlink ") + arg(2) + ": " + std::strerror(errno));
        i += 3;
      } else if (op == "fifo") {
        ::unlink(arg(1));
        if (::mkfifo(arg(1), 0666) != 0) return fail(std::string("mkfifo ") + arg(1) + ": " + std::strerror(errno));
        i += 2;
      } else if (op == "rename") {
        if (::rename(arg(1), arg(2)) != 0) return fail(std::string("rename ") + arg(1) + ": " + std::strerror(errno));
        i += 3;
      } else if (op == "rename-fails") {
        if (::rename(arg(1), arg(2)) == 0) return fail(std::string("renamed ") + arg(1));
        i += 3;
      } else if (op == "exchange" || op == "exchange-fails") {  // A B: renameat2(RENAME_EXCHANGE)
        const bool ok = ::syscall(SYS_renameat2, AT_FDCWD, arg(1), AT_FDCWD, arg(2), RENAME_EXCHANGE) == 0;
        if (ok != (op == "exchange")) return fail(std::string(ok ? "exchanged " : "exchange ") + arg(1) + (ok ? "" : std::string(": ") + std::strerror(errno)));
        i += 3;
      } else if (op == "mkdir") {
        if (::mkdir(arg(1), 0755) != 0) return fail(std::string("mkdir ") + arg(1) + ": " + std::strerror(errno));
        i += 2;
      } else if (op == "write") {  // PATH TEXT
        const int fd = ::open(arg(1), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return fail(std::string("open ") + arg(1) + ": " + std::strerror(errno));
        const ssize_t n = ::write(fd, arg(2), std::strlen(arg(2)));
        ::close(fd);
        if (n != static_cast<ssize_t>(std::strlen(arg(2)))) return fail("short write");
        i += 3;
      } else if (op == "create-fails") {
        const int fd = ::open(arg(1), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) return fail(std::string("created ") + arg(1));
        i += 2;
      } else if (op == "mkdir-fails") {  // PATH
        if (::mkdir(arg(1), 0755) == 0) return fail(std::string("made ") + arg(1));
        i += 2;
      } else if (op == "unlink-fails") {  // PATH
        if (::unlink(arg(1)) == 0) return fail(std::string("unlinked ") + arg(1));
        i += 2;
      } else if (op == "symlink-fails") {  // TARGET LINK
        if (::symlink(arg(1), arg(2)) == 0) return fail(std::string("made the link ") + arg(2));
        i += 3;
      } else if (op == "link-fails") {  // OLD NEW
        if (::link(arg(1), arg(2)) == 0) return fail(std::string("linked ") + arg(2));
        i += 3;
      } else if (op == "append-fails") {  // PATH (an existing file)
        const int fd = ::open(arg(1), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd >= 0) {
          ::close(fd);
          return fail(std::string("opened for writing ") + arg(1));
        }
        i += 2;
      } else if (op == "write-mode") {  // PATH TEXT OCTAL
        const int fd = ::open(arg(1), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                              static_cast<mode_t>(std::strtoul(arg(3), nullptr, 8)));
        if (fd < 0) return fail(std::string("open ") + arg(1) + ": " + std::strerror(errno));
        const ssize_t n = ::write(fd, arg(2), std::strlen(arg(2)));
        ::fchmod(fd, static_cast<mode_t>(std::strtoul(arg(3), nullptr, 8)));
        ::close(fd);
        if (n != static_cast<ssize_t>(std::strlen(arg(2)))) return fail("short write");
        i += 4;
      } else if (op == "race-create") {  // GOOD BAD SECONDS (GOOD and BAD of equal length)
        // What a server running its own code tries against a check that reads
        // the path before the kernel does: one thread swaps the path between
        // an allowed name and a protected one while another creates through
        // it (open O_CREAT and mkdir, alternately). Fails when BAD was made;
        // the creations of GOOD are the positive control.
        const std::string good = arg(1), bad = arg(2);
        if (good.size() != bad.size()) return fail("race-create: names of different lengths");
        char path[4096] = {};
        std::memcpy(path, good.c_str(), good.size());
        std::atomic<bool> stop{false};
        std::thread flip([&] {
          while (!stop.load(std::memory_order_relaxed)) {
            std::memcpy(path, bad.c_str(), bad.size());
            std::memcpy(path, good.c_str(), good.size());
          }
        });
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(arg(3)));
        long made = 0, tries = 0;
        while (std::chrono::steady_clock::now() < until) {
          ++tries;
          if (tries % 2) {
            const int fd = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0) {
              ::close(fd);
              ++made;
              ::unlink(good.c_str());
            }
          } else if (::mkdir(path, 0755) == 0) {
            ++made;
            ::rmdir(good.c_str());
          }
          struct stat st {};
          if (::lstat(bad.c_str(), &st) == 0) {
            stop = true;
            flip.join();
            return fail("race-create: made " + bad + " after " + std::to_string(tries) + " tries");
          }
        }
        stop = true;
        flip.join();
        if (made == 0) return fail("race-create: " + good + " was never made (" + std::to_string(tries) + " tries)");
        std::fprintf(stderr, "race-create: %ld of %ld tries made %s\n", made, tries, good.c_str());
        i += 4;
      } else if (op == "create-semantics") {  // DIR (writable, empty)
        // Creating calls answer as the kernel's own: run with and without
        // protected names (the create helper performs them in the first case).
        const std::string d = arg(1);
        auto want = [&](const std::string& what, int rc, int err) -> bool {
          const int e = errno;
          if (err == 0 && rc < 0) return fail(what + ": " + std::strerror(e)), false;
          if (err != 0 && (rc >= 0 || e != err))
            return fail(what + ": " + (rc >= 0 ? std::string("succeeded") : std::strerror(e)) + ", want " + std::strerror(err)), false;
          if (rc >= 0 && err == 0 && what.rfind("open", 0) == 0) ::close(rc);
          return true;
        };
        if (::chdir(d.c_str()) != 0) return fail("chdir " + d);
        ::umask(027);
        if (!want("open relative", ::open("rel.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0666), 0)) return 1;
        struct stat st {};
        if (::stat("rel.txt", &st) != 0 || (st.st_mode & 0777) != 0640) return fail("umask not applied");
        if (!want("open O_EXCL existing", ::open("rel.txt", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), EEXIST)) return 1;
        if (!want("open trailing slash", ::open("new/", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), EISDIR)) return 1;
        if (!want("open in a missing directory", ::open("none/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), ENOENT)) return 1;
        if (!want("mkdir", ::mkdir("sub", 0777), 0)) return 1;
        if (!want("mkdir existing", ::mkdir("sub", 0777), EEXIST)) return 1;
        if (!want("mkdir trailing slash", ::mkdir("sub2/", 0777), 0)) return 1;
        const int dfd = ::open("sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) return fail("open sub");
        if (!want("openat dirfd", ::openat(dfd, "a.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), 0)) return 1;
        if (!want("openat dirfd ..", ::openat(dfd, "../b.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), 0)) return 1;
        if (!want("mkdirat dirfd", ::mkdirat(dfd, "deeper", 0755), 0)) return 1;
        if (!want("openat bad dirfd", ::openat(9999, "x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), EBADF)) return 1;
        if (!want("openat /dev/fd/N/name",
                  ::open(("/dev/fd/" + std::to_string(dfd) + "/c.txt").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644), 0))
          return 1;
        if (::access("sub/c.txt", F_OK) != 0) return fail("/dev/fd/N/c.txt did not land in sub");
        if (!want("symlink", ::symlink("rel.txt", "sym"), 0)) return 1;
        if (!want("open through a link", ::open("sym", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), 0)) return 1;
        if (!want("open O_NOFOLLOW link", ::open("sym", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644), ELOOP)) return 1;
        if (!want("symlink dangling", ::symlink("made-by-link", "dangling"), 0)) return 1;
        if (!want("open a dangling link", ::open("dangling", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), 0)) return 1;
        if (::access("made-by-link", F_OK) != 0) return fail("a dangling link's target was not made");
        if (!want("link", ::link("rel.txt", "hard"), 0)) return 1;
        if (!want("link existing", ::link("rel.txt", "hard"), EEXIST)) return 1;
        if (!want("rename", ::rename("hard", "hard2"), 0)) return 1;
        if (!want("renameat2 NOREPLACE",
                  static_cast<int>(::syscall(SYS_renameat2, AT_FDCWD, "hard2", AT_FDCWD, "rel.txt", RENAME_NOREPLACE)), EEXIST))
          return 1;
        if (!want("mknod fifo", ::mknod("fifo", S_IFIFO | 0644, 0), 0)) return 1;
        const int tmp = ::open(".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (tmp < 0) return fail(std::string("O_TMPFILE: ") + std::strerror(errno));
        if (!want("linkat O_TMPFILE via /proc/self/fd",
                  ::linkat(AT_FDCWD, ("/proc/self/fd/" + std::to_string(tmp)).c_str(), AT_FDCWD, "tmpfile", AT_SYMLINK_FOLLOW), 0))
          return 1;
        ::close(tmp);
        ::close(dfd);
        // A descriptor named as a path is reopened (as shells do with /dev/stdout).
        const int own = ::open("rel.txt", O_RDONLY | O_CLOEXEC);
        if (own < 0) return fail("open rel.txt");
        if (!want("open /proc/self/fd/N",
                  ::open(("/proc/self/fd/" + std::to_string(own)).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), 0))
          return 1;
        ::close(own);
        i += 2;
      } else if (op == "kill-others") {  // SIGKILL to every process it may signal (not itself)
        ::kill(-1, SIGKILL);
        i += 1;
      } else if (op == "stderr") {  // TEXT written as is, no newline added
        if (::write(2, arg(1), std::strlen(arg(1))) < 0) return fail("write stderr");
        i += 2;
      } else if (op == "unshare-user") {
        if (::unshare(CLONE_NEWUSER) == 0) return fail("unshare(CLONE_NEWUSER) succeeded");
        i += 1;
      } else if (op == "setid-refused") {  // PATH: an existing file of the jail's user
        const std::string p = arg(1);
        auto want_eperm = [&](const std::string& what, int rc) {
          if (rc >= 0) return fail(what + " succeeded");
          if (errno != EPERM) return fail(what + ": " + std::strerror(errno) + " (want EPERM)");
          return 0;
        };
        if (want_eperm("chmod 4755", ::chmod(p.c_str(), 04755))) return 1;
        if (want_eperm("chmod 2755", ::chmod(p.c_str(), 02755))) return 1;
        if (want_eperm("fchmodat 6755", ::fchmodat(AT_FDCWD, p.c_str(), 06755, 0))) return 1;
        const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fail("open " + p + ": " + std::strerror(errno));
        const int r1 = ::fchmod(fd, 04711);
        const int e1 = errno;
        ::close(fd);
        errno = e1;
        if (want_eperm("fchmod 4711", r1)) return 1;
        if (want_eperm("open O_CREAT 4755", ::open((p + ".suid").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 04755))) return 1;
        if (want_eperm("openat O_CREAT 2755",
                       ::openat(AT_FDCWD, (p + ".sgid").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 02755)))
          return 1;
        if (want_eperm("creat 4755", ::creat((p + ".creat").c_str(), 04755))) return 1;
        if (want_eperm("mkdir 2755", ::mkdir((p + ".dir").c_str(), 02755))) return 1;
        if (want_eperm("mknod S_IFREG|4755", ::mknod((p + ".node").c_str(), S_IFREG | 04755, 0))) return 1;
        // Positive controls: the same calls without the bits work.
        if (::chmod(p.c_str(), 0755) != 0) return fail("chmod 0755: " + std::string(std::strerror(errno)));
        const int ok = ::open((p + ".plain").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        if (ok < 0) return fail("open O_CREAT 0755: " + std::string(std::strerror(errno)));
        ::close(ok);
        if (::mkdir((p + ".plaindir").c_str(), 0755) != 0) return fail("mkdir 0755: " + std::string(std::strerror(errno)));
        i += 2;
      } else if (op == "unreadable-step") {  // PATH
        int err = 0;
        if (!open_fails(arg(1), O_RDONLY, &err)) return fail(std::string(arg(1)) + " is readable");
        i += 2;
      } else if (op == "mode-is") {  // PATH OCTAL
        struct stat st {};
        if (::stat(arg(1), &st) != 0) return fail(std::string("stat ") + arg(1));
        if ((st.st_mode & 07777) != std::strtoul(arg(2), nullptr, 8)) return fail("mode " + std::to_string(st.st_mode & 07777));
        i += 3;
      } else if (op == "content-is") {  // PATH TEXT
        if (read_all(arg(1)) != arg(2)) return fail(std::string(arg(1)) + " holds \"" + read_all(arg(1)) + "\"");
        i += 3;
      } else {
        return fail("unknown step " + op);
      }
    }
    return 0;
  }
  if (check == "echo") {
    std::fputs(a, stdout);
    return 0;
  }
  return fail("unknown check " + check);
}
