// Mount layer: builds the jail's root filesystem from plan.mounts and pivots
// into it. Runs in the jail's first process, inside its new mount namespace.
#pragma once
#include "mcpjail/plan.hpp"

namespace mcpjail::mnt {

// 1. make every mount a slave (nothing propagates back to the host);
// 2. mount a staging tmpfs and pivot into it, so the host root is at /oldroot;
// 3. mount a fresh tmpfs for the jail's root at /newroot and apply each step
//    of plan.mounts there, in order (sources re-resolved symlink-safely
//    below /oldroot; mount points created only on the jail's own tmpfs);
// 4. pivot_root into /newroot and detach the old root entirely;
// 5. remount the jail's root read-only.
// Throws LaunchError("mounts", ...).
void build_root(const Plan& plan);

// The throw-away layer of learning plans (MountStep::layer; mnt_layer.cc):
// the tmpfs that holds every layer's upper and work directories (detached,
// `size` bytes), and one layer's overlay (detached) for step `s`, whose
// lower is the directory `lower` (an fd; `proc_self_fd` + its number names
// it), its upper and work directories made as number `n` in `dir` (on the
// layer tmpfs). `userns`: mounted in the jail's user namespace (rootless).
// Throws LaunchError("mounts", ...) naming the layer, the cause and the fix.
UniqueFd layer_tmpfs(std::uint64_t size);
UniqueFd layer_tree(const MountStep& s, int lower, const std::string& proc_self_fd, const std::string& dir, int n,
                    bool userns);

// What the server may write in /dev (the rest of it is read-only): Landlock
// gives each entry without `link` a write rule; the watch counts all of them
// writable. An entry with `link` is a symlink into another one (/dev/ptmx ->
// pts/ptmx, writable through /dev/pts), listed for the watch, which judges
// paths without following links.
struct DevWritable {
  const char* path;
  const char* link;  // nullptr, or the symlink's target
};
inline constexpr DevWritable kDevWritable[] = {
    {"/dev/null", nullptr}, {"/dev/zero", nullptr}, {"/dev/full", nullptr},
    {"/dev/shm", nullptr},  {"/dev/pts", nullptr},  {"/dev/ptmx", "pts/ptmx"},
    // The controlling terminal: the server runs in a session of its own with
    // none (open fails with ENXIO), or one of its own ptys.
    {"/dev/tty", nullptr},
};

// /proc entries made read-only, and those masked, inside the jail.
extern const char* const kProcReadOnly[];
extern const char* const kProcMasked[];

}  // namespace mcpjail::mnt
