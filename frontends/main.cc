#include "mcpjail/frontends/cli.hpp"

int main(int argc, char** argv) { return mcpjail::cli::main(argc, argv); }
