// The supervisor's side of the watch (seccomp::policy::watched()): judging
// what the jail tried to write or execute against the plan, and keeping the
// audit log readable when a server loops. Observation only: the kernel has
// already decided (read-only mounts, Landlock); nothing here grants or
// refuses anything.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mcpjail/plan.hpp"
#include "mcpjail/rate_limit.hpp"

namespace mcpjail::watch {

// Whether the plan lets the server write at a path inside the jail.
enum class Verdict {
  Writable,     // under a writable bind, a tmpfs, /dev/shm, /dev/pts, /dev/null, /dev/zero, /dev/full
  NotWritable,  // the read-only root, a read-only bind, a hide, /proc, the rest of /dev, a generated file
  Unjudged,     // names a descriptor (/dev/stdout, /dev/fd/N, /proc/self/fd/N): depends on what it is
};

class WriteMap {
 public:
  explicit WriteMap(const Plan& plan);
  // `path`: absolute and lexically normal, as seccomp::Notice::paths. Mount
  // steps that are symlinks (merged /usr: /bin -> usr/bin) are followed;
  // symlinks inside the jail's trees are not (lexical).
  Verdict judge(const std::string& path) const;

 private:
  std::vector<MountStep> mounts_;
};

// The programs the plan lets the server execute, as Landlock allows them: the
// exec closure of exec.allow and the command (exec::closure, with the
// server's PATH), compared by file identity, and whatever lies beneath a
// directory of an execute rule (LandlockRule::exec), found by walking up
// from the program's directory as Landlock does.
class ExecSet {
 public:
  explicit ExecSet(const Plan& plan);

  enum class Verdict {
    Allowed,     // Landlock lets it run
    NotAllowed,  // a file the jail has, which Landlock does not let run
    Missing,     // no such file in the jail (the exec fails with ENOENT anyway)
    Unknown,     // cannot be looked up (a /proc magic link, no root): only the path is known
  };
  // Looks `path` up as the jail sees it, below `root` (the caller's root
  // directory, O_PATH; -1 when unknown: Unknown).
  Verdict judge(const std::string& path, int root);

  // judge() as the audit log needs it: true or false, and nullopt when there
  // is no such file (a PATH search, not an attempt worth an event). Unknown:
  // by path only.
  std::optional<bool> allowed(const std::string& path, int root);

 private:
  void load();
  void load_dirs(int root);
  std::vector<std::string> exec_allow_;
  std::vector<std::string> exec_dirs_;
  std::string path_env_;
  bool loaded_ = false, dirs_loaded_ = false;
  std::set<std::string> paths_;
  std::set<std::pair<dev_t, ino_t>> ids_, dir_ids_;
};

// Rate limit for the watch's audit events (rate_limit.hpp).
using RateLimit = mcpjail::RateLimit;

}  // namespace mcpjail::watch
