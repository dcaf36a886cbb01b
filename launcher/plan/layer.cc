// The learning jail's throw-away layer (`mcp-jail learn`, plan.hpp's
// add_throwaway_layer): what is visible read-only becomes writable in a layer
// that the jail's end throws away. Pure planning: reads the host's view of
// the mount points below a layered tree, changes nothing.
//
// Why the mounts below a tree are bound again: an overlay shows the file
// system of its lower directory only; a mount below it (a separate /home
// partition's children, /boot/efi, a tmpfs under /mnt) would show as the
// empty directory it is mounted on. Each is bound read-only at its place
// instead (recursively, as every bind is): visible as on the host, its
// writes failing with EROFS and recorded, as before the layer existed.
// Rootless launches cannot do that: the jail's user namespace holds the
// host's mounts locked (what they cover must stay covered), and the kernel
// refuses an overlay whose lower directory holds one. There a tree with a
// mount below it gets no layer: it stays read-only, as the note says.
#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "mcpjail/paths.hpp"
#include "mcpjail/plan.hpp"

namespace mcpjail {

namespace {

// A mount point of /proc/self/mountinfo (field 5), its octal escapes undone.
std::string unescape_mount_point(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto octal = [&](std::size_t k) { return s[k] >= '0' && s[k] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] <= '3' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> layer_mount_points(const std::string& mountinfo) {
  std::vector<std::string> out;
  std::istringstream in(mountinfo);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    if (f >> id >> parent >> dev >> root >> point) out.push_back(unescape_mount_point(point));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The step that decides what the jail shows at `p`: the deepest one above
// it, at equal depth the later one.
const MountStep* layer_deciding(const std::vector<MountStep>& mounts, const std::string& p) {
  const MountStep* best = nullptr;
  for (const auto& s : mounts)
    if (path_is_under(p, s.target) && (!best || s.target.size() >= best->target.size())) best = &s;
  return best;
}

}  // namespace

void add_throwaway_layer(Plan& plan, const std::string& mountinfo, std::uint64_t size) {
  plan.layer_size = size;
  const std::vector<std::string> points = layer_mount_points(mountinfo);
  std::vector<std::string> layered, unlayered;
  for (auto& s : plan.mounts) {
    if (s.kind != MountKind::Bind || s.writable || !s.is_dir) continue;
    // Inside a write path (a protected name bound read-only over itself):
    // stays read-only.
    bool in_write = false;
    for (const auto& o : plan.mounts)
      if (&o != &s && o.kind == MountKind::Bind && o.writable && path_is_under(s.target, o.target)) in_write = true;
    if (in_write) continue;
    // Rootless: the mounts the jail's user namespace copied from the host are
    // locked to what they cover, and the kernel refuses an overlay whose
    // lower holds one (EINVAL): such a tree stays read-only.
    if (!plan.id.root_mode && std::any_of(points.begin(), points.end(), [&](const std::string& m) {
          return m != s.source && path_is_under(m, s.source);
        })) {
      s.why += "; learning: read-only, no throw-away layer (rootless: mounts below it; writes there fail and are "
               "recorded)";
      unlayered.push_back(s.target);
      continue;
    }
    s.layer = true;
    s.why += "; learning: a throw-away layer (writes succeed in the jail's memory, never on the host)";
    layered.push_back(s.target);
    for (auto& r : plan.landlock.rules)
      if (r.path == s.target && !r.list) r.write = true;
  }
  if (!unlayered.empty()) {
    std::string note = "learning: no throw-away layer over";
    for (const auto& t : unlayered) note += " " + t;
    note += " (rootless: the kernel stacks no overlay on a directory with mounts below it that the jail's user "
            "namespace cannot uncover); writes there fail (EROFS) and are recorded";
    plan.notes.push_back(std::move(note));
  }
  if (layered.empty()) return;

  // The mounts below a layered tree, bound read-only where the layer decides
  // what is shown; each right after its tree (a deeper step, a mask say,
  // still comes later and lies on top).
  std::vector<std::string> rebound;
  for (const auto& point : points) {
    for (std::size_t i = 0; i < plan.mounts.size(); ++i) {
      const MountStep tree = plan.mounts[i];
      if (!tree.layer || point == tree.source || !path_is_under(point, tree.source)) continue;
      const std::string target = lexical_path(tree.target, "." + point.substr(tree.source.size()));
      const MountStep* d = layer_deciding(plan.mounts, target);
      if (!d || d->target != tree.target || !d->layer) continue;  // another step decides there
      struct stat st {};
      if (::lstat(point.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) continue;  // covered by a later mount
      MountStep b;
      b.kind = MountKind::Bind;
      b.target = target;
      b.source = point;
      b.is_dir = S_ISDIR(st.st_mode);
      b.why = "a mount below the layered " + tree.target +
              ": bound read-only (the layer shows only the file system of " + tree.source +
              "); writes there fail and are recorded";
      plan.mounts.insert(plan.mounts.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(b));
      rebound.push_back(target);
      break;
    }
  }
  std::string note = "learning: throw-away layer over";
  for (const auto& t : layered) note += " " + t;
  note += " (an overlay each: the host's tree its read-only lower, its upper in one tmpfs of " +
          std::to_string(size >> 20) + " MiB that ends with the jail)";
  if (!rebound.empty()) {
    note += "; mounts below them bound read-only:";
    for (const auto& r : rebound) note += " " + r;
  }
  plan.notes.push_back(std::move(note));
}

}  // namespace mcpjail
