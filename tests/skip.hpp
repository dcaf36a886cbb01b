// Skipping a Catch2 test case from inside it.
#pragma once
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

// Skips the rest of the current test case. Run by CTest (one test case per
// process, selected by name) it exits 77, reported as skipped; run as a whole
// it warns and goes on with the next test case.
#define SKIP_TEST(why)                                                   \
  do {                                                                   \
    const std::string skip_why_ = (why);                                 \
    if (Catch::getCurrentContext().getConfig()->hasTestFilters()) {      \
      std::printf("SKIP: %s\n", skip_why_.c_str());                      \
      std::fflush(stdout);                                               \
      std::exit(77);                                                     \
    }                                                                    \
    WARN("skipped: " << skip_why_);                                      \
    return;                                                              \
  } while (0)
