// A test binary that must handle some command lines itself before Catch2
// sees them (e.g. to act as a helper that the tests run as another user)
// defines this; the shared main (tests/catch_main.cc) calls it first. It
// returns an exit status to end there, or -1 to go on with the tests.
#pragma once

int mcpjail_test_pre_main(int argc, char** argv);
