// Mount ordering: pure functions over planned mounts, no filesystem access
// (what they need to know of the host is recorded in the candidates when
// they are planned). order_mounts() runs them in this order:
//   1. drop_duplicates: a target listed twice the same way is kept once (and
//      noted); listed twice with different meanings is an error;
//   2. sort_mounts: parents before children (component-wise), stable;
//   3. symlink_steps: a listed path that is itself a symlink to a path
//      already visible becomes a symlink in the jail (merged /usr: /lib ->
//      /usr/lib), unless binds lie under it or it is writable;
//   4. drop_noops: a symlink, or a bind of a path at its own place, below a
//      bind of the same host directory changes nothing and is dropped.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/errors.hpp"
#include "mcpjail/plan.hpp"

namespace mcpjail::planning {

struct MountCandidate {
  MountStep step;
  // A Bind whose target (the path as listed) is itself a symlink on the
  // host, resolved to a source elsewhere.
  bool listed_symlink = false;
};

// Parents first: by path components ("/a/b" < "/a/b/c" < "/a/c", "/a" < "/a-b").
bool component_less(std::string_view a, std::string_view b);

struct Deduplicated {
  std::vector<MountCandidate> kept;
  std::vector<Diagnostic> conflicts;  // the same target with different meanings
  std::vector<std::string> merged;    // the same target the same way: kept once
};
Deduplicated drop_duplicates(std::vector<MountCandidate> candidates);
void sort_mounts(std::vector<MountCandidate>& candidates);
void symlink_steps(std::vector<MountCandidate>& sorted);
std::vector<MountStep> drop_noops(const std::vector<MountCandidate>& sorted);

struct Ordered {
  std::vector<MountStep> mounts;
  std::vector<Diagnostic> conflicts;
  std::vector<std::string> merged;
};
Ordered order_mounts(std::vector<MountCandidate> candidates);

// The Bind of a host path at its own place that shows `host_path` in the
// jail (the deepest), or nullptr.
const MountStep* covering(const std::vector<MountCandidate>& candidates, std::string_view host_path);

// The Bind or Tmpfs that makes jail path `p` visible, if any (the deepest;
// at equal depth the later).
const MountStep* visible_through(const std::vector<MountStep>& mounts, std::string_view p);

// Host path `p` is at the same path inside the jail: under a Bind of a path
// at its own place, not shadowed by a Tmpfs or a Mask.
bool jail_visible(const std::vector<MountStep>& mounts, std::string_view p);

}  // namespace mcpjail::planning
