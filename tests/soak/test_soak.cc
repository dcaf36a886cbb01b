// The soak, bounded for CI: the leak checks are shown to find a planted leak
// of each kind (positive control), then 150 launches of the real binary,
// root and rootless, network none and allowlist, servers that exit, hang or
// fork, killed at random moments or not, must leave no process, mount,
// cgroup, network namespace or temporary file behind, and every launch must
// end with a status its kill explains. scripts/soak runs the long version.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "../support/skip.hpp"
#include "soak.hpp"

using namespace std::chrono_literals;

namespace {

soak::Config config() {
  soak::Config c;
  c.jail_bin = MCPJAIL_BIN;
  c.server_bin = SOAK_SERVER_BIN;
  return c;
}

#define REQUIRE_SOAK_TOOLS()                                                                           \
  do {                                                                                                 \
    if (::geteuid() != 0) SKIP_TEST("the soak needs root (namespaces, root and rootless launches)");    \
    if (::access("/usr/bin/pasta", X_OK) != 0 || ::access("/usr/bin/setpriv", X_OK) != 0)              \
      SKIP_TEST("the soak needs pasta (passt) and setpriv (util-linux)");                               \
  } while (0)

}  // namespace

TEST_CASE("the leak checks find a planted leak of every kind", "[soak]") {
  REQUIRE_SOAK_TOOLS();
  auto c = config();
  c.plant = true;
  c.settle = 100ms;
  const auto f = soak::run(c);
  const std::string text = soak::report(f);
  INFO(text);
  REQUIRE(f.error.empty());
  for (const auto& kind : soak::leak_kinds()) {
    INFO(kind);
    CHECK(f.leaks.at(kind) >= 1);
  }
}

TEST_CASE("launches killed at random moments leave nothing behind", "[soak]") {
  REQUIRE_SOAK_TOOLS();
  auto c = config();
  c.launches = 150;
  if (const char* n = std::getenv("MCPJAIL_SOAK_LAUNCHES")) c.launches = std::atoi(n);
  c.seed = 1;  // the same draws every run; the moments differ anyway
  const auto f = soak::run(c);
  const std::string text = soak::report(f);
  std::fputs(text.c_str(), stdout);
  INFO(text);
  REQUIRE(f.error.empty());
  CHECK(f.launches == c.launches);
  for (const auto& kind : soak::leak_kinds()) {
    INFO(kind);
    CHECK(f.leaks.at(kind) == 0);
  }
  CHECK(f.unexpected.empty());
  // Every kind of launch and of kill was there.
  CHECK(f.modes.size() == 4);
  CHECK(f.servers.size() == 4);
  CHECK(f.kills.size() == 4);
}
