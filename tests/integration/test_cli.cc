// The command line with real jails, root and rootless: the server's command
// with or without "--", and its arguments reaching it unchanged even when
// they look like mcp-jail's options.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace it;

namespace {

using Args = std::vector<std::string>;

// The server's own arguments, mcp-jail's option names among them.
const Args kServerArgs = {"--help", "--var", "X=1", "--write", "/tmp", "--", "-x", "--audit-log=stderr", ""};

// What `printf '[%s]\n' ARGS...` prints for them.
std::string bracketed(const Args& args) {
  std::string out;
  for (const auto& a : args) out += "[" + a + "]\n";
  return out;
}

Args concat(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("the server's command after PROFILE, with or without --, gets its arguments unchanged") {
  const Args server = concat({"/usr/bin/printf", "[%s]\\n"}, kServerArgs);
  const std::vector<Args> lines = {
      concat({"run", "base", "--audit-log", "none"}, server),
      concat({"run", "base", "--audit-log", "none", "--"}, server),
      concat({"run", "--audit-log=none", "base"}, server),
      concat({"run", "--var", "UNUSED=1", "base", "--env", "LANG=C", "--audit-log", "none", "--"}, server),
  };
  for (const Mode m : modes()) {
    for (const auto& line : lines) {
      std::string shown;
      for (const auto& a : line) shown += "'" + a + "' ";
      INFO(mode_name(m) << ": mcp-jail " << shown);
      const Result r = run(m, line);
      INFO("stderr: " << r.err);
      CHECK(r.status == 0);
      CHECK(r.out == bracketed(kServerArgs));
      // Positive control: the same launch with other arguments prints those.
      const Result c = run(m, {"run", "base", "--audit-log", "none", "/usr/bin/printf", "[%s]\\n", "plain"});
      CHECK(c.status == 0);
      CHECK(c.out == "[plain]\n");
    }
    // What the server's exit status says comes through as well (no `--`).
    CHECK(run(m, {"run", "base", "--audit-log", "none", "/bin/true"}).status == 0);
    CHECK(run(m, {"run", "base", "--audit-log", "none", "/bin/false"}).status == 1);
  }
}

TEST_CASE("before the server's command, a word starting with - is mcp-jail's: unknown ones start nothing") {
  for (const Mode m : modes()) {
    TempDir d(m);
    const std::string marker = d.path() + "/started";
    const Args writable = {"run", "base", "--audit-log", "none", "--write", d.path()};
    const Args server = {"/usr/bin/touch", marker};  // creates `marker` if it runs
    for (const Args& line : {concat(concat(writable, {"--bogus"}), server), concat(concat(writable, {"-x"}), server),
                             concat(writable, {"--var"})}) {
      const Result r = run(m, line);
      INFO(mode_name(m) << ": " << r.err);
      CHECK(r.status == 125);
      CHECK(r.out.empty());
      CHECK_THAT(r.err, Catch::StartsWith("mcp-jail: run: "));
      CHECK(::access(marker.c_str(), F_OK) != 0);
    }
    // Positive control: the same line without the bad option runs the server.
    const Result ok = run(m, concat(writable, server));
    INFO(mode_name(m) << ": " << ok.err);
    CHECK(ok.status == 0);
    CHECK(::access(marker.c_str(), F_OK) == 0);
  }
}

TEST_CASE("COMMAND --help prints that command's usage and options, exit 0, for every command") {
  const Mode m = modes().front();
  for (const std::string c : {"run", "check", "probe", "pin", "wrap", "profiles"}) {
    INFO(c);
    const Result r = run(m, {c, "--help"});
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::StartsWith("usage: mcp-jail " + c));
    CHECK_THAT(r.out, Catch::Contains("-h, --help"));
    CHECK(r.err.empty());
  }
  // check with a server's command: the server's --help is the server's.
  const Result r = run(m, {"check", "base", "/usr/bin/printf", "--help"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("command      /usr/bin/printf --help"));
}
