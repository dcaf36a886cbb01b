// One planner pass on its own (launcher/plan/): the context it runs in, with
// the profile and invocation it reads and the notes it writes; and whether a
// list of what a pass returned holds a word.
#pragma once
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "mcpjail/plan/passes.hpp"

namespace support {

struct Pass {
  mcpjail::Profile profile;
  mcpjail::Invocation inv;
  std::vector<std::string> notes;
  mcpjail::planning::Context c;
  Pass(mcpjail::Profile pr, mcpjail::Invocation i) : profile(std::move(pr)), inv(std::move(i)), c(profile, inv, notes) {}
};

inline bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace support
