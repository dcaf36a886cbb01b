// Mount ordering: see mount_order.hpp. Pure: nothing here touches the
// filesystem.
#include "mcpjail/plan/mount_order.hpp"

#include <algorithm>

#include "mcpjail/paths.hpp"

namespace mcpjail::planning {

bool component_less(std::string_view a, std::string_view b) { return path_components(a) < path_components(b); }

Deduplicated drop_duplicates(std::vector<MountCandidate> candidates) {
  Deduplicated d;
  for (auto& c : candidates) {
    auto same = std::find_if(d.kept.begin(), d.kept.end(),
                             [&](const MountCandidate& k) { return k.step.target == c.step.target; });
    if (same == d.kept.end()) {
      d.kept.push_back(std::move(c));
      continue;
    }
    const auto& a = same->step;
    const auto& b = c.step;
    if (a.kind == b.kind && a.writable == b.writable && a.source == b.source) {
      d.merged.push_back(b.target + ": listed twice the same way (" + a.why + "; " + b.why + "), mounted once");
      continue;
    }
    d.conflicts.push_back({SourceLoc{b.why}, b.target + " is listed twice with different meanings: " + a.why + " and " + b.why});
  }
  return d;
}

void sort_mounts(std::vector<MountCandidate>& candidates) {
  std::stable_sort(candidates.begin(), candidates.end(), [](const MountCandidate& a, const MountCandidate& b) {
    return component_less(a.step.target, b.step.target);
  });
}

void symlink_steps(std::vector<MountCandidate>& sorted) {
  for (auto& c : sorted) {
    auto& s = c.step;
    if (s.kind != MountKind::Bind || s.target == s.source || !c.listed_symlink || s.writable) continue;
    const bool has_children = std::any_of(sorted.begin(), sorted.end(), [&](const MountCandidate& o) {
      return o.step.target != s.target && path_is_under(o.step.target, s.target);
    });
    const bool target_visible = std::any_of(sorted.begin(), sorted.end(), [&](const MountCandidate& o) {
      return &o.step != &s && o.step.kind == MountKind::Bind && o.step.source == o.step.target &&
             path_is_under(s.source, o.step.source);
    });
    if (has_children || !target_visible) continue;
    s.kind = MountKind::Symlink;
    s.why += ", a symlink to a path already visible";
  }
}

std::vector<MountStep> drop_noops(const std::vector<MountCandidate>& sorted) {
  auto noop = [&](const MountStep& s) {
    if (s.kind != MountKind::Symlink && !(s.kind == MountKind::Bind && s.source == s.target)) return false;
    const MountStep* parent = nullptr;
    for (const auto& o : sorted)
      if (&o.step != &s && o.step.target != s.target && path_is_under(s.target, o.step.target) &&
          (!parent || o.step.target.size() > parent->target.size()))
        parent = &o.step;
    return parent && parent->kind == MountKind::Bind && parent->source == parent->target &&
           (s.kind == MountKind::Symlink || parent->writable == s.writable);
  };
  std::vector<MountStep> out;
  for (const auto& c : sorted)
    if (!noop(c.step)) out.push_back(c.step);
  return out;
}

Ordered order_mounts(std::vector<MountCandidate> candidates) {
  Deduplicated d = drop_duplicates(std::move(candidates));
  sort_mounts(d.kept);
  symlink_steps(d.kept);
  return Ordered{drop_noops(d.kept), std::move(d.conflicts), std::move(d.merged)};
}

const MountStep* covering(const std::vector<MountCandidate>& candidates, std::string_view host_path) {
  const MountStep* best = nullptr;
  for (const auto& c : candidates) {
    const auto& s = c.step;
    if (s.kind != MountKind::Bind || s.source != s.target) continue;
    if (path_is_under(host_path, s.source) && (!best || s.target.size() > best->target.size())) best = &s;
  }
  return best;
}

const MountStep* visible_through(const std::vector<MountStep>& mounts, std::string_view p) {
  const MountStep* best = nullptr;
  for (const auto& s : mounts) {
    if (s.kind != MountKind::Bind && s.kind != MountKind::Tmpfs) continue;
    if (path_is_under(p, s.target) && (!best || s.target.size() >= best->target.size())) best = &s;
  }
  return best;
}

bool jail_visible(const std::vector<MountStep>& mounts, std::string_view p) {
  const MountStep* via = visible_through(mounts, p);
  if (!via || via->kind != MountKind::Bind || via->source != via->target) return false;
  return std::none_of(mounts.begin(), mounts.end(),
                      [&](const MountStep& s) { return s.kind == MountKind::Mask && path_is_under(p, s.target); });
}

}  // namespace mcpjail::planning
