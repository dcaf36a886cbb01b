// Skipping a Catch2 test case from inside it (Catch2 v2 has no SKIP).
//
//   if (::geteuid() != 0) SKIP_TEST("needs root (creates cgroups)");
//
// SKIP_TEST prints "SKIP: <test case>: <why>", warns, and returns from the
// test case. The test binary's main (catch_main.hpp) exits 77 when every test
// case it ran was skipped and made no assertion: CTest, run with
// SKIP_RETURN_CODE 77 on one test case per process, reports it as skipped.
// Test cases that ran in the same process keep their verdict; the skipped
// ones are listed at the end.
#pragma once
#include <catch2/catch.hpp>
#include <string>

namespace support {

// Records that the running test case skips, and why.
void note_skip(const std::string& why);

namespace skip_detail {
// For the listener in catch_main.hpp: whether the test case that just ended
// skipped (and forgets it), and the tally of the run.
bool take_skip();
void case_ended(const std::string& name, bool skipped_without_assertions);
int cases_run();
int cases_skipped();
std::string summary();  // "" when nothing was skipped
}  // namespace skip_detail

}  // namespace support

#define SKIP_TEST(why)                \
  do {                                \
    ::support::note_skip(why);        \
    return;                           \
  } while (0)
