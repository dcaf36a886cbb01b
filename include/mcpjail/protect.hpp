// Protected names in write paths: files and directories that a host tool
// runs or loads later, outside any jail (git hooks and config, direnv's
// .envrc, editor and agent settings, shell start-up files). A server that
// can write the workspace must not be able to plant them.
//
//   profile    [filesystem] protect, protect_home, unprotect (schema.cc; the
//              names' rules: launcher/protect_names.cc)
//   planning   plan_protect() (launcher/plan/protect.cc): what each write
//              path holds, read-only binds for what exists, the identities
//              the supervisor refuses creation at for what does not
//   run        Guard (launcher/protect_guard.cc): the supervisor's refusal of
//              creating calls, from the watch's notifications
//
// docs/ARCHITECTURE.md ("Protected names") says what is enforced how, and
// what stays open.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/plan.hpp"

namespace mcpjail::protect {

// A relative path of 1 to 8 components, none empty, "." or "..", without
// NUL bytes. Else false and *why.
bool valid_name(std::string_view name, std::string* why);

// The names that apply: `listed` less those in `unprotect` (all of them
// when it holds "*"), each once, in order.
std::vector<std::string> effective(const std::vector<std::string>& listed, const std::vector<std::string>& unprotect);

// True when `unprotect` drops every name ("*").
bool all_dropped(const std::vector<std::string>& unprotect);

// The names below a repository's .git directory: those of `names` that
// start with ".git/", without that prefix ("hooks", "config").
std::vector<std::string> git_dir_names(const std::vector<std::string>& names);

// How deep below a write path the launch looks for nested repositories
// (a .git directory at depth 4 is W/a/b/c/d/.git), and how many directory
// entries it reads at most, over all write paths.
inline constexpr int kNestedDepth = 4;
inline constexpr std::size_t kNestedEntryBudget = 100000;

// Directories the walk for nested repositories does not enter: package
// trees (thousands of directories, no repositories of the user's) and the
// .git directories themselves.
bool skip_in_walk(std::string_view name);

// The shell start-up files that make a directory look like a home directory
// when a write path holds one of them at its top.
const std::vector<std::string>& home_markers();

// A protected name that must not be created while the jail runs: it did not
// exist at launch, or it is a symbolic link (refused once removed).
inline bool refused_at_launch(const ProtectedPath& p) {
  return p.state == ProtectedPath::State::Absent || p.state == ProtectedPath::State::Link ||
         p.state == ProtectedPath::State::Anywhere;
}

// "**/NAME" (a name refused in every directory of a write path): NAME, else "".
std::string_view anywhere_name(std::string_view listed);

// ---- The supervisor's side ------------------------------------------------------

// The names the plan protects that did not exist at launch (or are links):
// they must not be created. The supervisor asks by path, from its reading of
// a call (a refusal needs no more: it grants nothing); the create helper
// (mcpjail/create_helper.hpp) asks by the identity of the directory it holds
// open, which is what makes the refusal race-free.
class Guard {
 public:
  explicit Guard(const Plan& plan);
  bool active() const { return !refuse_.empty() || !anywhere_.empty(); }
  // The protected path `lexical` (absolute, "." and ".." folded) is or lies
  // below, or "".
  std::string refuses_lexically(const std::string& lexical) const;
  // The protected path that creating `name` in the directory (dev, ino)
  // would create, or "".
  std::string refused_at(dev_t dev, ino_t ino, std::string_view name) const;

 private:
  struct Refuse {
    std::string path;  // inside the jail: what must not be created (lexically)
    dev_t dev = 0;     // its parent directory
    ino_t ino = 0;
    std::string name;  // the last component of `path`
  };
  // "**/NAME": NAME in any directory below `root` (lexically), on its filesystem `dev`.
  struct Anywhere {
    std::string root, name;
    dev_t dev = 0;
  };
  std::vector<Refuse> refuse_;
  std::vector<Anywhere> anywhere_;
};

// The protected names that were missing at launch and exist on the host
// now (host paths): someone on the host may have created one meanwhile. Reported at the end of
// a launch (audit event protect_created), never removed.
std::vector<std::string> appeared(const Plan& plan);

}  // namespace mcpjail::protect
