#include "skip.hpp"

#include <cstdio>
#include <vector>

namespace support {

namespace {

struct Tally {
  bool current = false;          // the running test case called SKIP_TEST
  std::string current_why;
  int run = 0;
  std::vector<std::string> skipped;  // "name: why"
};

Tally& tally() {
  static Tally t;
  return t;
}

}  // namespace

void note_skip(const std::string& why) {
  const std::string name = Catch::getResultCapture().getCurrentTestName();
  std::printf("SKIP: %s: %s\n", name.c_str(), why.c_str());
  std::fflush(stdout);
  WARN("skipped: " << why);
  tally().current = true;
  tally().current_why = why;
}

namespace skip_detail {

bool take_skip() {
  const bool s = tally().current;
  tally().current = false;
  return s;
}

void case_ended(const std::string& name, bool skipped_without_assertions) {
  ++tally().run;
  if (skipped_without_assertions) tally().skipped.push_back(name + ": " + tally().current_why);
}

int cases_run() { return tally().run; }
int cases_skipped() { return static_cast<int>(tally().skipped.size()); }

std::string summary() {
  std::string s;
  for (const auto& k : tally().skipped) s += "  skipped: " + k + "\n";
  return s;
}

}  // namespace skip_detail

}  // namespace support
