// Landlock: the kernel's own path-based access control, applied to the server
// process after pivot_root, so every path here is a path inside the jail.
//
// What a domain built from a LandlockPlan allows, and nothing else:
//   - rule with list=true (the jail's root): list directories beneath, no
//     more (the view is only what the plan mounts: names, not contents);
//   - rule with write=false: read files, list directories (beneath the path);
//   - rule with write=true: the same plus every write right the kernel knows
//     (create, remove, rename/link across directories, truncate, device
//     ioctls), except creating character or block device nodes;
//   - rule with exec=true: the execute right beneath the path as well;
//   - the files of plan.exec_allow and what it takes to run them (ELF
//     interpreter, `#!` interpreters, the program named by `#!/usr/bin/env`):
//     read + execute on those files only;
//   - scoped (ABI 6): no connecting to abstract unix sockets and no signals
//     to processes outside the domain;
//   - TCP (ABI 4, when the plan asks for it): bind nothing, connect only to
//     the listed ports.
//
// Landlock checks the execute right when the kernel opens a file for
// execution (execve: the program, a script's interpreter, the ELF
// interpreter), not when a shared library is mmap'ed, so libraries need only
// the read right. The dynamic loader, once executable, can itself map and run
// any *readable* ELF file (`/lib64/ld-linux-x86-64.so.2 /bin/sh`): the exec
// restriction stops execve of other programs, it is not a boundary against
// code the server can read.
#include "mcpjail/landlock.hpp"
#include "mcpjail/text.hpp"

#include <fcntl.h>
#include <linux/prctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <dirent.h>
#include <sstream>

#include "mcpjail/errors.hpp"
#include "mcpjail/exec_resolve.hpp"
#include "mcpjail/unique_fd.hpp"

#if __has_include(<linux/landlock.h>)
#include <linux/landlock.h>
#endif

// System call numbers: the same on every architecture (unified table).
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif

namespace mcpjail::landlock {
namespace {

// ---- UAPI, up to ABI 7 (the distribution header may be older) -------------

constexpr std::uint32_t kCreateRulesetVersion = 1U << 0;
constexpr std::uint32_t kCreateRulesetErrata = 1U << 1;  // Linux 6.15

constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;  // ABI 4

// Filesystem rights.
constexpr std::uint64_t kFsExecute = 1ULL << 0;
constexpr std::uint64_t kFsWriteFile = 1ULL << 1;
constexpr std::uint64_t kFsReadFile = 1ULL << 2;
constexpr std::uint64_t kFsReadDir = 1ULL << 3;
constexpr std::uint64_t kFsRemoveDir = 1ULL << 4;
constexpr std::uint64_t kFsRemoveFile = 1ULL << 5;
constexpr std::uint64_t kFsMakeChar = 1ULL << 6;
constexpr std::uint64_t kFsMakeDir = 1ULL << 7;
constexpr std::uint64_t kFsMakeReg = 1ULL << 8;
constexpr std::uint64_t kFsMakeSock = 1ULL << 9;
constexpr std::uint64_t kFsMakeFifo = 1ULL << 10;
constexpr std::uint64_t kFsMakeBlock = 1ULL << 11;
constexpr std::uint64_t kFsMakeSym = 1ULL << 12;
constexpr std::uint64_t kFsRefer = 1ULL << 13;     // ABI 2
constexpr std::uint64_t kFsTruncate = 1ULL << 14;  // ABI 3
constexpr std::uint64_t kFsIoctlDev = 1ULL << 15;  // ABI 5

// Network rights (ABI 4).
constexpr std::uint64_t kNetBindTcp = 1ULL << 0;
constexpr std::uint64_t kNetConnectTcp = 1ULL << 1;

// Scopes (ABI 6).
constexpr std::uint64_t kScopeAbstractUnixSocket = 1ULL << 0;
constexpr std::uint64_t kScopeSignal = 1ULL << 1;

// landlock_restrict_self() flags (ABI 7): audit logging.
constexpr std::uint32_t kRestrictSelfLogNewExecOn = 1U << 1;

#ifdef LANDLOCK_ACCESS_FS_EXECUTE
static_assert(kFsExecute == LANDLOCK_ACCESS_FS_EXECUTE && kFsMakeSym == LANDLOCK_ACCESS_FS_MAKE_SYM);
#endif
#ifdef LANDLOCK_ACCESS_FS_REFER
static_assert(kFsRefer == LANDLOCK_ACCESS_FS_REFER);
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
static_assert(kFsTruncate == LANDLOCK_ACCESS_FS_TRUNCATE);
#endif
#ifdef LANDLOCK_ACCESS_FS_IOCTL_DEV
static_assert(kFsIoctlDev == LANDLOCK_ACCESS_FS_IOCTL_DEV);
#endif
#ifdef LANDLOCK_ACCESS_NET_CONNECT_TCP
static_assert(kNetBindTcp == LANDLOCK_ACCESS_NET_BIND_TCP && kNetConnectTcp == LANDLOCK_ACCESS_NET_CONNECT_TCP);
#endif
#ifdef LANDLOCK_SCOPE_SIGNAL
static_assert(kScopeAbstractUnixSocket == LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET && kScopeSignal == LANDLOCK_SCOPE_SIGNAL);
#endif
#ifdef LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON
static_assert(kRestrictSelfLogNewExecOn == LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON);
#endif

struct RulesetAttr {  // struct landlock_ruleset_attr, ABI 6 layout
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;  // ABI 4
  std::uint64_t scoped;              // ABI 6
};
struct __attribute__((packed)) PathBeneathAttr {  // struct landlock_path_beneath_attr
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
};
struct NetPortAttr {  // struct landlock_net_port_attr
  std::uint64_t allowed_access;
  std::uint64_t port;
};

long sys_create_ruleset(const RulesetAttr* attr, std::size_t size, std::uint32_t flags) {
  return ::syscall(__NR_landlock_create_ruleset, attr, size, flags);
}
long sys_add_rule(int ruleset_fd, int type, const void* attr) {
  return ::syscall(__NR_landlock_add_rule, ruleset_fd, type, attr, 0U);
}
long sys_restrict_self(int ruleset_fd, std::uint32_t flags) {
  return ::syscall(__NR_landlock_restrict_self, ruleset_fd, flags);
}

// All filesystem rights a kernel with ABI `abi` handles.
std::uint64_t fs_rights_for_abi(int abi) {
  if (abi < 1) return 0;
  std::uint64_t r = (kFsMakeSym << 1) - 1;  // ABI 1: bits 0..12
  if (abi >= 2) r |= kFsRefer;
  if (abi >= 3) r |= kFsTruncate;
  if (abi >= 5) r |= kFsIoctlDev;
  return r;
}

constexpr std::uint64_t kReadDir = kFsReadFile | kFsReadDir;
constexpr std::uint64_t kReadFile = kFsReadFile;
constexpr std::uint64_t kWriteDir = kReadDir | kFsWriteFile | kFsRemoveDir | kFsRemoveFile | kFsMakeDir | kFsMakeReg |
                                    kFsMakeSock | kFsMakeFifo | kFsMakeSym | kFsRefer | kFsTruncate | kFsIoctlDev;
constexpr std::uint64_t kWriteFile = kReadFile | kFsWriteFile | kFsTruncate | kFsIoctlDev;
// Rights that are meaningful on a non-directory (others make add_rule fail).
constexpr std::uint64_t kFileOnlyRights = kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate | kFsIoctlDev;

std::string kernel_release() {
  struct utsname u {};
  if (::uname(&u) != 0) return "unknown";
  return u.release;
}

// Why Landlock is unavailable (abi_version() == 0).
std::string unavailable_reason() {
  errno = 0;
  long v = sys_create_ruleset(nullptr, 0, kCreateRulesetVersion);
  int err = errno;
  if (v >= 1) return "";
  if (err == ENOSYS) return "the kernel is built without Landlock (CONFIG_SECURITY_LANDLOCK)";
  if (err == EOPNOTSUPP) return "Landlock is disabled at boot (add \"landlock\" to the lsm= kernel parameter)";
  return errno_text("landlock_create_ruleset", err);
}

// ---- Rules ------------------------------------------------------------------

struct PathGrant {
  std::string path;
  std::uint64_t dir_rights;   // when the path is a directory
  std::uint64_t file_rights;  // otherwise
  bool optional;
  std::string why;
};

std::vector<PathGrant> grants_for(const LandlockPlan& plan, const std::vector<ExecFile>& exec) {
  std::vector<PathGrant> g;
  for (const auto& r : plan.rules) {
    std::uint64_t d = r.write ? kWriteDir : kReadDir;
    std::uint64_t f = r.write ? kWriteFile : kReadFile;
    if (r.list) {
      g.push_back({r.path, kFsReadDir, 0, r.optional, "list rule"});
      continue;
    }
    if (r.exec) {
      d |= kFsExecute;
      f |= kFsExecute;
    }
    g.push_back({r.path, d, f, r.optional, r.write ? "write rule" : "read rule"});
  }
  for (const auto& e : exec) g.push_back({e.path, kFsReadFile | kFsExecute, kFsReadFile | kFsExecute, false, e.why});
  return g;
}

std::string rights_text(std::uint64_t r) {
  static const std::pair<std::uint64_t, const char*> names[] = {
      {kFsExecute, "execute"},        {kFsWriteFile, "write_file"},   {kFsReadFile, "read_file"},
      {kFsReadDir, "read_dir"},       {kFsRemoveDir, "remove_dir"},   {kFsRemoveFile, "remove_file"},
      {kFsMakeChar, "make_char"},     {kFsMakeDir, "make_dir"},       {kFsMakeReg, "make_reg"},
      {kFsMakeSock, "make_sock"},     {kFsMakeFifo, "make_fifo"},     {kFsMakeBlock, "make_block"},
      {kFsMakeSym, "make_sym"},       {kFsRefer, "refer"},            {kFsTruncate, "truncate"},
      {kFsIoctlDev, "ioctl_dev"}};
  std::vector<std::string> v;
  for (auto [bit, name] : names)
    if (r & bit) v.push_back(name);
  return join(v, ",");
}

int thread_count() {
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return -1;  // no procfs: cannot tell
  int n = 0;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

}  // namespace

int abi_version() {
  long v = sys_create_ruleset(nullptr, 0, kCreateRulesetVersion);
  return v < 0 ? 0 : static_cast<int>(v);
}

std::uint64_t errata() {
  long v = sys_create_ruleset(nullptr, 0, kCreateRulesetErrata);
  return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

std::vector<std::string> missing_features(const LandlockPlan& plan, int abi) {
  std::vector<std::string> m;
  if (abi < 1) {
    m.push_back("landlock (Landlock ABI 1)");
    return m;
  }
  // Without REFER (ABI 1) the kernel refuses every rename/link across
  // directories (EXDEV): stricter, but it breaks ordinary writers.
  if (abi < 2) m.push_back("refer: rename and link across directories (Landlock ABI 2)");
  if (abi < 3) m.push_back("truncate (Landlock ABI 3)");
  if (abi < 4 && plan.restrict_tcp) m.push_back("tcp bind/connect rules (Landlock ABI 4)");
  if (abi < 5) m.push_back("ioctl on devices (Landlock ABI 5)");
  if (abi < 6) {
    m.push_back("abstract unix socket scoping (Landlock ABI 6)");
    m.push_back("signal scoping (Landlock ABI 6)");
  }
  return m;
}

std::vector<ExecFile> exec_closure(const std::vector<std::string>& exec_allow, const std::string& path_env) {
  try {
    return exec::closure(exec_allow, path_env);
  } catch (const exec::ResolveError& e) {
    throw LaunchError("landlock", e.what());
  }
}

std::vector<std::string> apply(const LandlockPlan& plan) {
  const int abi = abi_version();
  const std::string kernel = kernel_release();
  std::vector<std::string> skipped = missing_features(plan, abi);
  if (!skipped.empty() && !plan.best_effort) {
    const std::string found = abi == 0 ? "has no Landlock: " + unavailable_reason()
                                       : "has Landlock ABI " + std::to_string(abi) + ", without it";
    throw LaunchError("landlock", "the jail needs " + join(skipped, ", ") + "; this kernel (Linux " + kernel + ") " +
                                      found +
                                      ". Fix: run on a kernel with Landlock ABI 6 or later (Linux 6.12+), "
                                      "or add \"landlock\" to best_effort to run without what is missing");
  }
  if (abi == 0) {
    skipped = {"landlock: unavailable on Linux " + kernel + " (" + unavailable_reason() + "); no Landlock rules applied"};
    return skipped;
  }
  for (auto& s : skipped) s = "landlock: " + s + " not enforced (kernel Linux " + kernel + " has ABI " + std::to_string(abi) + ")";

  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
    throw LaunchError("landlock", "no_new_privs is not set: Landlock must be applied after no_new_privs");
  if (int n = thread_count(); n > 1)
    throw LaunchError("landlock", "the process has " + std::to_string(n) +
                                      " threads; a Landlock domain covers only the calling thread, so it must "
                                      "be applied while single-threaded");

  const std::uint64_t handled_fs = fs_rights_for_abi(abi);
  const bool tcp = plan.restrict_tcp && abi >= 4;
  RulesetAttr attr{};
  attr.handled_access_fs = handled_fs;
  attr.handled_access_net = tcp ? (kNetBindTcp | kNetConnectTcp) : 0;
  attr.scoped = abi >= 6 ? (kScopeAbstractUnixSocket | kScopeSignal) : 0;
  UniqueFd ruleset(static_cast<int>(sys_create_ruleset(&attr, sizeof attr, 0)));
  if (!ruleset) throw LaunchError("landlock", errno_text("landlock_create_ruleset", errno));

  const std::vector<ExecFile> exec = exec_closure(plan.exec_allow, plan.path_env);
  for (const auto& g : grants_for(plan, exec)) {
    UniqueFd fd(::open(g.path.c_str(), O_PATH | O_CLOEXEC));
    if (!fd) {
      int err = errno;
      if (g.optional && err == ENOENT) continue;
      throw LaunchError("landlock", errno_text("rule for " + g.path + " (" + g.why + ")", err) +
                                        (err == ENOENT ? "; a rule on a missing path would silently allow nothing "
                                                         "and hide a planning error"
                                                       : ""));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw LaunchError("landlock", errno_text("fstat " + g.path, errno));
    std::uint64_t rights = S_ISDIR(st.st_mode) ? g.dir_rights : (g.file_rights & kFileOnlyRights);
    PathBeneathAttr pb{};
    pb.allowed_access = rights & handled_fs;
    pb.parent_fd = fd.get();
    if (pb.allowed_access == 0) continue;
    if (sys_add_rule(ruleset.get(), kRulePathBeneath, &pb) != 0)
      throw LaunchError("landlock", errno_text("landlock_add_rule " + g.path + " (" + rights_text(pb.allowed_access) + ")", errno));
  }
  if (tcp) {
    auto add_port = [&](std::uint16_t port, std::uint64_t access, const char* what) {
      NetPortAttr np{access, port};
      if (sys_add_rule(ruleset.get(), kRuleNetPort, &np) != 0)
        throw LaunchError("landlock", errno_text(std::string("landlock_add_rule ") + what + " port " + std::to_string(port), errno));
    };
    for (auto p : plan.connect_ports) add_port(p, kNetConnectTcp, "tcp connect");
    for (auto p : plan.bind_ports) add_port(p, kNetBindTcp, "tcp bind");
  }

  // ABI 7: have the kernel audit denials of the server (it runs after execve,
  // which by default is not logged). Harmless when audit is off.
  std::uint32_t flags = abi >= 7 ? kRestrictSelfLogNewExecOn : 0;
  if (sys_restrict_self(ruleset.get(), flags) != 0)
    throw LaunchError("landlock", errno_text("landlock_restrict_self", errno));
  return skipped;
}

std::string describe(const LandlockPlan& plan) {
  // Laid out for `check`: the first line follows a 13-column label.
  std::ostringstream o;
  const int abi = abi_version();
  o << "Linux " << kernel_release() << ", ";
  if (abi == 0) {
    o << "Landlock unavailable (" << unavailable_reason() << ")";
  } else {
    std::vector<std::string> f = {"filesystem"};
    if (abi >= 2) f.push_back("refer");
    if (abi >= 3) f.push_back("truncate");
    if (abi >= 4) f.push_back("tcp");
    if (abi >= 5) f.push_back("ioctl_dev");
    if (abi >= 6) f.push_back("scopes");
    if (abi >= 7) f.push_back("audit logging");
    o << "Landlock ABI " << abi << " (" << join(f, ", ") << ")";
  }
  for (const auto& r : plan.rules) {
    if (r.list) {
      o << "\n  list       " << r.path << "  (directory names beneath, not file contents)";
      continue;
    }
    o << "\n  " << (r.write ? "read+write " : "read       ") << r.path;
    if (r.exec) o << "  (+ execute beneath)";
    if (r.optional) o << "  (if present)";
  }
  for (std::size_t i = 0; i < plan.exec_allow.size(); ++i) {
    o << "\n  execute    " << plan.exec_allow[i];
    if (i < plan.exec_why.size() && !plan.exec_why[i].empty()) o << "  (" << plan.exec_why[i] << ")";
  }
  if (!plan.exec_allow.empty()) o << "\n             + the ELF and #! interpreters these need, resolved in the jail at launch";
  o << "\n  scoped     abstract unix sockets and signals: nothing outside the jail";
  if (plan.restrict_tcp) {
    std::vector<std::string> c, b;
    for (auto p : plan.connect_ports) c.push_back(std::to_string(p));
    for (auto p : plan.bind_ports) b.push_back(std::to_string(p));
    o << "\n  tcp        connect: " << (c.empty() ? "none" : join(c, ",")) << "; bind: " << (b.empty() ? "none" : join(b, ","));
  }
  o << "\n  no access  anywhere else";
  auto missing = missing_features(plan, abi);
  if (!missing.empty())
    o << "\n  " << (plan.best_effort ? "NOT ENFORCED (best effort): " : "run FAILS, the kernel lacks: ") << join(missing, "; ");
  return o.str();
}

}  // namespace mcpjail::landlock
