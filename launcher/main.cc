#include "mcpjail/cli.hpp"

int main(int argc, char** argv) { return mcpjail::cli_main(argc, argv); }
