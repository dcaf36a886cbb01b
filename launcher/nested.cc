// Narrowed paths inside write paths hold across launches (trust.hpp).
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "mcpjail/errors.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/trust.hpp"

namespace mcpjail {

namespace {

bool narrows(const MountStep& s) {
  return s.kind == MountKind::Mask || s.kind == MountKind::Bind || s.kind == MountKind::Tmpfs ||
         s.kind == MountKind::File;
}

std::string parent_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

}  // namespace

void pin_narrowed_ancestors(Plan& plan) {
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw LaunchError("filesystem", errno_text("open /", errno));
  std::vector<MountStep> out;
  std::set<std::string> targets;  // what is a mount point already
  for (const auto& s : plan.mounts) {
    if (narrows(s)) {
      // The deepest bind already placed that holds s.target strictly.
      const MountStep* holder = nullptr;
      for (const auto& o : out)
        if (o.kind == MountKind::Bind && o.target != s.target && path_is_under(s.target, o.target) &&
            (!holder || o.target.size() > holder->target.size()))
          holder = &o;
      if (holder && holder->writable && holder->is_dir) {
        const MountStep w = *holder;  // `out` grows below
        std::vector<std::string> chain;
        for (std::string d = parent_of(s.target); d != w.target && path_is_under(d, w.target); d = parent_of(d))
          chain.push_back(d);
        std::reverse(chain.begin(), chain.end());
        for (const auto& d : chain) {
          if (targets.count(d)) continue;
          const std::string source = w.source + d.substr(w.target.size());
          auto walk = safe_walk(root.get(), source, TrustPolicy{0, {"/"}});
          if (!walk.error.empty() || walk.type != ObjType::Directory)
            throw LaunchError("filesystem",
                              "cannot keep " + s.target + " in place inside the write path " + w.target + ": " + source +
                                  (walk.error.empty() ? std::string(" is not a directory") : ": " + walk.error) +
                                  "; a jail may have replaced it. Check it, restore the directory, or remove the entry");
          MountStep pin;
          pin.kind = MountKind::Bind;
          pin.target = d;
          pin.source = walk.canonical;
          pin.writable = true;
          pin.exec = w.exec;  // what the write path grants, unchanged
          pin.is_dir = true;
          pin.why = "keeps the directories above " + s.target + " in place (a mount point cannot be renamed)";
          targets.insert(d);
          out.push_back(std::move(pin));
        }
      }
    }
    targets.insert(s.target);
    out.push_back(s);
  }
  plan.mounts = std::move(out);
}

std::string vanished_narrowing(const MountStep& via, const std::string& hide) {
  if (via.kind != MountKind::Bind || !via.writable) return {};
  const std::string dir = parent_of(hide);
  if (!path_is_under(dir, via.target)) return {};
  const std::string host = via.source + dir.substr(via.target.size());
  struct stat st {};
  if (::lstat(host.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
  return "hide path " + hide + ": its directory " + dir +
         " is gone from the write path " + via.target +
         " (a jail can rename a directory it writes, moving what was hidden out of reach under another name); "
         "find where it went and move it back, create " + dir + ", or remove the entry";
}

}  // namespace mcpjail
