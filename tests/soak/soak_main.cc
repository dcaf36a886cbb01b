// mcpjail-soak [N] [--seed S] [--jail PATH] [--verbose]: the long soak (scripts/soak
// runs it); --jail soaks another mcp-jail binary than the one built beside it.
// Prints the figures; exits 0 when nothing leaked and every status was
// explained, 1 otherwise, 2 when it could not run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "soak.hpp"

int main(int argc, char** argv) {
  soak::Config c;
  c.jail_bin = MCPJAIL_BIN;
  c.server_bin = SOAK_SERVER_BIN;
  c.launches = 1000;
  c.seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) c.seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--verbose") c.verbose = true;
    else if (a == "--jail" && i + 1 < argc) c.jail_bin = argv[++i];
    else if (!a.empty() && a.find_first_not_of("0123456789") == std::string::npos) c.launches = std::atoi(a.c_str());
    else {
      std::fprintf(stderr, "usage: mcpjail-soak [N] [--seed S] [--jail PATH] [--verbose]\n");
      return 2;
    }
  }
  std::fprintf(stderr, "soak: %d launches, seed %llu\n", c.launches, static_cast<unsigned long long>(c.seed));
  const auto f = soak::run(c);
  std::fputs(soak::report(f).c_str(), stdout);
  if (!f.error.empty()) return 2;
  return f.total_leaks() == 0 && f.unexpected.empty() ? 0 : 1;
}
