// One planner pass on its own (launcher/plan/): the context it runs in, with
// the profile and invocation it reads and the notes it writes.
#pragma once
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

}  // namespace support
