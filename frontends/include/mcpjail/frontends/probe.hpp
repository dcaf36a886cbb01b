// `mcp-jail probe PROFILE`: a built-in battery of escape and exfiltration
// attempts, run inside a jail built from the profile, and a containment report.
#pragma once
#include <string>
#include <vector>

namespace mcpjail::cli {
struct Arguments;
}

namespace mcpjail::probe {

// Hidden first argument that runs the battery (inside the jail).
inline constexpr const char* kInsideCommand = "__probe-inside";

struct Attempt {
  std::string name;      // e.g. "read a secret in $HOME"
  std::string category;  // secrets, persistence, escape, network, ...
  bool contained = false;
  std::string detail;    // what happened (errno, signal, ...)
};

// Inside the jail: runs every attempt described by the JSON config in
// argv[2] and prints one JSON object per line on stdout. Returns 0.
int inside_main(int argc, char** argv);

// `mcp-jail probe`, outside: plants canaries (a secret in $HOME, an
// environment variable, an inherited fd, an abstract unix socket and a TCP
// listener on the host's loopback), launches the battery in a jail built from
// the profile (launch()), and prints the report. Returns 0 only when every
// attempt was contained, 1 when not, 125 when the jail could not be built.
int probe_command(const cli::Arguments& args);

// Parses the battery's output lines (unparseable lines become failed attempts).
std::vector<Attempt> parse_results(const std::string& output);

}  // namespace mcpjail::probe
