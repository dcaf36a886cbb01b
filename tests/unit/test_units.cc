#include <catch2/catch.hpp>

#include "mcpjail/units.hpp"

using namespace mcpjail;
using namespace std::chrono_literals;

TEST_CASE("sizes: binary units, bare bytes, and refusals") {
  CHECK(parse_size("512MiB") == 512ULL << 20);
  CHECK(parse_size("512M") == 512ULL << 20);
  CHECK(parse_size("64K") == 64ULL << 10);
  CHECK(parse_size("64KiB") == 64ULL << 10);
  CHECK(parse_size("2GiB") == 2ULL << 30);
  CHECK(parse_size("1T") == 1ULL << 40);
  CHECK(parse_size("123") == 123U);
  CHECK(parse_size("123B") == 123U);
  for (const char* bad : {"", "MiB", "12MB", "1.5G", "-1", "12 MiB", "12mib", "1X", "99999999999999999999", "20000000TiB"})
    CHECK_FALSE(parse_size(bad).has_value());
  CHECK(format_size(512ULL << 20) == "512MiB");
  CHECK(format_size(1000) == "1000B");
}

TEST_CASE("durations: units, combinations, and refusals") {
  CHECK(parse_duration("0") == 0ms);
  CHECK(parse_duration("0s") == 0ms);
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("30s") == 30s);
  CHECK(parse_duration("5m") == 5min);
  CHECK(parse_duration("1h30m") == 90min);
  CHECK(parse_duration("1d") == 24h);
  for (const char* bad : {"", "s", "30", "1.5s", "-1s", "30 s", "1w", "400d", "5mm"})
    CHECK_FALSE(parse_duration(bad).has_value());
  CHECK(format_duration(30s) == "30s");
  CHECK(format_duration(1500ms) == "1500ms");
}
