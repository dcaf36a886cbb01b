// The soak: N sequential launches of the real mcp-jail binary, root and
// rootless, network none and allowlist, with servers that exit, hang or fork;
// each launch is killed at a random moment (SIGKILL to the launcher, SIGKILL
// or SIGTERM to the server) or left alone. After each launch, and at the end,
// whatever it left behind is counted against a baseline taken at the start:
// processes, mounts, cgroups, network namespaces and temporary files.
//
// One driver for both uses: the CTest test (a bounded run, tests/soak/
// test_soak.cc) and the long run (scripts/soak N, tests/soak/soak_main.cc).
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace soak {

struct Config {
  int launches = 150;
  std::uint64_t seed = 1;
  std::string jail_bin;    // the built mcp-jail
  std::string server_bin;  // the built soak_server
  // Self-test of the leak checks: plant one leak of each kind, launch nothing,
  // count what the checks find (every kind must be found).
  bool plant = false;
  std::chrono::milliseconds settle{2000};     // how long a leak may take to clear before it counts
  std::chrono::milliseconds max_delay{200};   // kills land 0..max_delay after the launch
  bool verbose = false;                       // a line per launch on stderr
};

struct Leak {
  std::string kind;  // one of leak_kinds()
  std::string what;
  std::string launch;  // the launch that left it ("#17 root/allowlist fork-hang, launcher SIGKILL at 83 ms")
};

struct Figures {
  std::string error;  // the soak could not be set up; empty when it ran
  int launches = 0;
  std::uint64_t seed = 0;
  std::map<std::string, int> modes, servers, kills;
  int kills_missed = 0;  // the target had already ended when its kill was due
  std::map<int, int> statuses;
  std::map<std::string, int> leaks;  // by kind; every kind present
  std::vector<Leak> leak_details;
  // Launches whose exit status is no possible outcome of what was done to
  // them (a 125 from the launcher under load, say), with the launcher's stderr.
  std::vector<std::string> unexpected;
  double seconds = 0;
  // The longest a launch took to leave nothing behind (after its launcher
  // ended): how much of the settle time is used.
  double slowest_settle_ms = 0;
  std::string slowest_settle;
  int total_leaks() const;
};

const std::vector<std::string>& leak_kinds();  // processes, mounts, cgroups, netns, temp files

// Runs the soak. Needs root (it creates namespaces, runs root and rootless
// launches, and the rootless ones as the user mcpjail-test, created when
// missing). Figures::error says why it could not run.
Figures run(const Config& cfg);

// The figures as text, for people.
std::string report(const Figures& f);

}  // namespace soak
