// Pieces of launcher/cgroup/ shared between its files (not a public
// interface):
//   files.cc        reading and writing cgroupfs and /proc files
//   layout.cc       where the controllers are (CgroupLayout), for create and check
//   directories.cc  where a launch's directories go (v2, or v1 on hybrid
//                   hosts), and the limits written into them
//   stale.cc        directory names that record their launcher, and the
//                   removal of those left by launchers that were killed
//   cgroup.cc       the Cgroup of a launch: create_cgroup(), moving the jail
//                   in, limit hits, killing what is left, removal
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/paths.hpp"
#include "mcpjail/limits.hpp"
#include "mcpjail/text.hpp"

namespace mcpjail::limits::detail {

using Clock = std::chrono::steady_clock;

// The directory below which each launch makes its own, in every hierarchy.
inline constexpr const char* kParentName = "mcp-jail";
// The controllers a plan can limit.
inline constexpr const char* kControllers[] = {"memory", "pids", "cpu"};

// ---- files.cc ----------------------------------------------------------------

// The words of `s` split at `sep` and newlines (and tabs when `sep` is ' ').
std::vector<std::string> words(const std::string& s, char sep = ' ');
// 0 or errno. One write(2): cgroup files take a value per write.
int write_text(const std::string& path, const std::string& value);
bool exists(const std::string& path);
// "key value" lines (memory.events, pids.events, memory.oom_control, cgroup.events).
std::optional<std::uint64_t> key_value(const std::string& text, const std::string& key);
void sleep_for(std::chrono::milliseconds d);
std::string parent_of(const std::string& dir);

// ---- directories.cc ------------------------------------------------------------

// A per-launch directory: v2 (all controllers) or one v1 hierarchy.
struct Dir {
  std::string path;
  int version = 2;
  std::vector<std::string> controllers;
};

// The per-launch directory exists already: never reuse it.
struct LeafExists : LaunchError {
  using LaunchError::LaunchError;
};

// The directory `leaf` for `ctrls` in the v2 hierarchy of `l`, with the limits
// of `plan` written. Throws LeafExists, or LaunchError("limits", ...) with
// every place that was tried and why it could not be used.
Dir setup_v2(const CgroupLayout& l, const std::vector<std::string>& ctrls, const std::string& leaf,
             const LimitsPlan& plan);
// The same in the v1 hierarchy `h`. Sets *denied when the hierarchy refuses
// this user (v1 is never delegated).
Dir setup_v1(const CgroupLayout::V1& h, const std::vector<std::string>& ctrls, const std::string& leaf,
             const LimitsPlan& plan, bool* denied);

// ---- stale.cc ------------------------------------------------------------------

// A launch id that is safe as (the start of) a directory name.
bool valid_id(const std::string& id);

}  // namespace mcpjail::limits::detail
