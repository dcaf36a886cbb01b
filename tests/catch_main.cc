// The Catch2 main of the test binaries (skipped test cases: support/skip.hpp).
#define CATCH_CONFIG_RUNNER
#include "support/catch_main.hpp"
#include "support/pre_main.hpp"

// Defined by the binaries that need it (support/pre_main.hpp).
int mcpjail_test_pre_main(int argc, char** argv) __attribute__((weak));

int main(int argc, char** argv) {
  if (mcpjail_test_pre_main)
    if (const int rc = mcpjail_test_pre_main(argc, argv); rc >= 0) return rc;
  return support::run_catch(argc, argv);
}
