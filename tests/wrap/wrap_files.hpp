// What the wrap tests share: the fixture configurations, the options of a
// wrap as a user runs it, and reading and writing whole files (a failure
// fails the test).
#pragma once
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "mcpjail/frontends/wrap.hpp"

namespace wrap_files {

inline const std::string kFixtures = std::string(MCPJAIL_SOURCE_DIR) + "/tests/wrap/fixtures/";

// mcp-jail at /usr/local/bin, for the user whose home is `home`.
inline mcpjail::WrapOptions wrap_opts(std::string profile = {}, std::string home = "/home/alice") {
  mcpjail::WrapOptions o;
  o.jail_path = "/usr/local/bin/mcp-jail";
  o.profile = std::move(profile);
  o.home = std::move(home);
  return o;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out);
}

}  // namespace wrap_files
