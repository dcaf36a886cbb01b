// The Catch2 main of the test binaries (skipped test cases: support/skip.hpp).
#define CATCH_CONFIG_RUNNER
#include "support/catch_main.hpp"

int main(int argc, char** argv) { return support::run_catch(argc, argv); }
