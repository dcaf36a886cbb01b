// Loading profile text in the profile unit tests: the options of a user
// (alice), the first diagnostic of a text that fails, and tables of such
// failures with where they are reported.
#pragma once
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "mcpjail/profile.hpp"

namespace support {

// HOME /home/alice, working directory /work/proj, ${WORKSPACE} /home/alice/ws.
inline mcpjail::LoadOptions alice_options() {
  mcpjail::LoadOptions o;
  o.home = "/home/alice";
  o.pwd = "/work/proj";
  o.vars["WORKSPACE"] = "/home/alice/ws";
  return o;
}

// The first diagnostic of `text` (as t.toml in /profiles) failing to load
// with `o`; fails the test when it loads.
inline mcpjail::Diagnostic first_error(const std::string& text, const mcpjail::LoadOptions& o) {
  try {
    mcpjail::load_profile_text(text, "t.toml", "/profiles", o);
  } catch (const mcpjail::ProfileError& e) {
    REQUIRE_FALSE(e.diagnostics().empty());
    return e.diagnostics().front();
  }
  FAIL("profile was accepted:\n" << text);
  return {};
}

// A profile text that fails, where (column 0: any column of the line) and
// a part of the message.
struct ErrorCase {
  std::string text;
  unsigned line, column;
  std::string needle;
};

inline void check_errors(const std::vector<ErrorCase>& cases, const mcpjail::LoadOptions& o) {
  for (const auto& c : cases) {
    INFO(c.text);
    const auto d = first_error(c.text, o);
    CHECK(d.loc.file == "t.toml");
    CHECK(d.loc.line == c.line);
    if (c.column) CHECK(d.loc.column == c.column);
    CHECK_THAT(d.message, Catch::Contains(c.needle));
  }
}

}  // namespace support
