// The test binaries' Catch2 session, for the one translation unit that
// defines CATCH_CONFIG_RUNNER (tests/catch_main.cc). Counts skipped test
// cases (skip.hpp) and exits 77 when every test case that ran was skipped.
#pragma once
#ifndef CATCH_CONFIG_RUNNER
#error "catch_main.hpp is for the translation unit that defines CATCH_CONFIG_RUNNER"
#endif
#include <catch2/catch.hpp>
#include <cstdio>

#include "skip.hpp"

namespace support {

struct SkipListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseEnded(Catch::TestCaseStats const& stats) override {
    const bool skipped = skip_detail::take_skip();
    skip_detail::case_ended(stats.testInfo.name, skipped && stats.totals.assertions.total() == 0);
  }
};
CATCH_REGISTER_LISTENER(SkipListener)

inline int run_catch(int argc, char** argv) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  const int rc = session.run();
  const int run = skip_detail::cases_run(), skipped = skip_detail::cases_skipped();
  if (skipped > 0) std::printf("%d of %d test case(s) skipped:\n%s", skipped, run, skip_detail::summary().c_str());
  if (rc == 0 && run > 0 && skipped == run) return 77;
  return rc;
}

}  // namespace support
