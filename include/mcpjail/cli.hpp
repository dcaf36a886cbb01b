// Command line (Boost.Program_options).
#pragma once

namespace mcpjail {

// Parses and runs one mcp-jail command; returns the process exit status.
int cli_main(int argc, char** argv);

}  // namespace mcpjail
