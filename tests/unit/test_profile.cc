// Profile loading: the schema, strictness with file:line:column, extends, variables.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mcpjail/profile.hpp"
#include "../support/profile_text.hpp"
#include "../support/scratch.hpp"

using namespace mcpjail;
namespace fs = std::filesystem;

namespace {

LoadOptions opts() { return support::alice_options(); }

Profile load(const std::string& text, const std::string& dir = "/profiles") {
  return load_profile_text(text, "t.toml", dir, opts());
}

// The first diagnostic of a failing load.
Diagnostic first_error(const std::string& text) { return support::first_error(text, opts()); }

}  // namespace

TEST_CASE("profile: the full schema loads") {
  const auto p = load(R"(version = 1
name = "full"
description = "every key"
best_effort = ["landlock"]

[exec]
allow = ["/usr/bin/node"]
cwd = "${WORKSPACE}"
user = "nobody"
hostname = "srv"

[env]
pass = ["PATH", "HOME", "LC_*"]
set = { NODE_ENV = "production", DATA = "${WORKSPACE}/data" }

[filesystem]
read = ["/usr", "-/opt/maybe", { path = "/etc/ssl/certs", optional = true }, "${PROFILE_DIR}/node_modules"]
write = ["${WORKSPACE}"]
tmpfs = ["/tmp"]
hide = ["${WORKSPACE}/.env", "~/.ssh"]

[network]
mode = "allowlist"
allow = ["api.github.com:443", "*.githubusercontent.com:443", "203.0.113.0/24:8080"]
allow_private = ["10.1.0.0/16"]
dns = ["10.255.255.53"]

[limits]
memory = "512MiB"
pids = 64
cpu = 1.5
nofile = 1024
file_size = "64MiB"
tmpfs_size = "32MiB"
wall_time = "1h30m"

[seccomp]
base = "strict"
deny = ["ptrace"]
allow = ["personality"]
action = "log"

[audit]
log = "~/mcp-audit.jsonl"
)");
  CHECK(p.name == "full");
  CHECK(p.description == "every key");
  CHECK(p.best_effort == std::vector<std::string>{"landlock"});
  REQUIRE(p.exec.allow.size() == 1);
  CHECK(p.exec.cwd == "/home/alice/ws");
  CHECK(p.exec.user == "nobody");
  CHECK(p.exec.hostname == "srv");
  CHECK(p.env.pass == std::vector<std::string>{"PATH", "HOME", "LC_*"});
  CHECK(p.env.set.at("DATA") == "/home/alice/ws/data");
  REQUIRE(p.filesystem.read.size() == 4);
  CHECK_FALSE(p.filesystem.read[0].optional);
  CHECK(p.filesystem.read[1].optional);
  CHECK(p.filesystem.read[1].path == "/opt/maybe");
  CHECK(p.filesystem.read[2].optional);
  CHECK(p.filesystem.read[3].path == "/profiles/node_modules");
  CHECK(p.filesystem.read[0].loc.line == 17);
  CHECK(p.filesystem.hide[1].path == "/home/alice/.ssh");
  CHECK(p.network.mode == NetMode::Allowlist);
  CHECK(p.network.allow.size() == 3);
  CHECK(p.limits.memory == 512ULL << 20);
  CHECK(p.limits.pids == 64U);
  CHECK(p.limits.cpu == Approx(1.5));
  CHECK(p.limits.nofile == 1024U);
  CHECK(p.limits.wall_time == std::chrono::minutes(90));
  CHECK(p.seccomp.base == "strict");
  CHECK(p.seccomp.action == SeccompAction::Log);
  CHECK(p.audit.log == "/home/alice/mcp-audit.jsonl");
}

TEST_CASE("profile: each class of error names file:line:column and what is allowed") {
  support::check_errors({
      // unknown keys, top level and in a table
      {"version = 1\nbogus = 2\n", 2, 1, "unknown key 'bogus'"},
      {"version = 1\n[exec]\ncmd = \"x\"\n", 3, 1, "allowed: allow, cwd, user, hostname"},
      {"version = 1\n[filesystem]\nreed = [\"/usr\"]\n", 3, 1, "unknown key 'reed' in [filesystem]"},
      // wrong types
      {"version = 1\n[filesystem]\nread = \"/usr\"\n", 3, 8, "must be an array of paths"},
      {"version = 1\n[filesystem]\nread = [\"/usr\", 3]\n", 3, 17, "must be paths (strings)"},
      {"version = 1\n[limits]\npids = \"many\"\n", 3, 8, "integer from 1"},
      {"version = 1\nexec = 3\n", 2, 1, "must be a table"},
      {"version = 1\n[network]\nallow_host_network = \"yes\"\n", 3, 22, "true or false"},
      // bad sizes and durations
      {"version = 1\n[limits]\nmemory = \"512MB\"\n", 3, 10, "size such as \"512MiB\""},
      {"version = 1\n[limits]\nmemory = -5\n", 3, 10, "positive size"},
      {"version = 1\n[limits]\nwall_time = \"10\"\n", 3, 13, "duration"},
      {"version = 1\n[limits]\nwall_time = 10\n", 3, 13, "duration"},
      {"version = 1\n[limits]\ncpu = 0\n", 3, 7, "number of CPUs"},
      // relative paths and ".."
      {"version = 1\n[filesystem]\nread = [\"usr/lib\"]\n", 3, 9, "must be absolute"},
      {"version = 1\n[filesystem]\nwrite = [\"/home/../etc\"]\n", 3, 10, "'..'"},
      // unset variables, bad variable syntax
      {"version = 1\n[filesystem]\nwrite = [\"${NOPE}/x\"]\n", 3, 10, "${NOPE} is not set"},
      {"version = 1\n[filesystem]\nwrite = [\"$HOME/x\"]\n", 3, 10, "stray '$'"},
      {"version = 1\n[filesystem]\nwrite = [\"${HOME\"]\n", 3, 10, "unterminated"},
      // enumerations
      {"version = 1\n[network]\nmode = \"open\"\n", 3, 8, "\"none\", \"allowlist\" or \"host\""},
      {"version = 1\n[network]\nallow = [\"example.com\"]\n", 3, 10, "HOST:PORT"},
      {"version = 1\n[seccomp]\ndeny = [\"ptrase\"]\n", 3, 9, "unknown system call 'ptrase'"},
      {"version = 1\n[seccomp]\naction = \"ignore\"\n", 3, 10, "errno"},
      {"version = 1\nbest_effort = [\"seccomp\"]\n", 2, 16, "allowed: landlock, limits"},
      {"version = 2\n", 1, 11, "'version' must be 1"},
      {"name = \"x\"\n", 1, 1, "missing 'version = 1'"},
      {"version = 1\n[env]\npass = [\"BAD-NAME\"]\n", 3, 9, "not a variable name"},
      // TOML syntax errors keep their position
      {"version = 1\n[filesystem\nread = []\n", 2, 0, "TOML syntax"},
  }, opts());
}

TEST_CASE("profile: all problems of a file are reported together, in file order") {
  try {
    load("version = 1\nzzz = 1\n[limits]\npids = 0\nmemory = \"lots\"\n");
    FAIL("accepted");
  } catch (const ProfileError& e) {
    REQUIRE(e.diagnostics().size() == 3);
    CHECK(e.diagnostics()[0].loc.line == 2);
    CHECK(e.diagnostics()[1].loc.line == 4);
    CHECK(e.diagnostics()[2].loc.line == 5);
    CHECK_THAT(std::string(e.what()), Catch::Contains("t.toml:4:8: error:"));
  }
}

TEST_CASE("profile: hostile input is refused cleanly") {
  CHECK_THROWS_AS(load(std::string(kMaxProfileBytes + 10, '#')), ProfileError);
  CHECK_THROWS_AS(load(std::string("version = 1\0", 12)), ProfileError);
  CHECK_THROWS_AS(load("version = 1\nx = " + std::string(5000, '[')), ProfileError);
  CHECK_THROWS_AS(load("version = 1\nx = " + std::string(100, '{')), ProfileError);
  CHECK_THROWS_AS(load("\xff\xfe garbage \x01\x02"), ProfileError);
}

TEST_CASE("profile: variables") {
  auto p = load(R"(version = 1
[filesystem]
read = ["~", "~/x", "${HOME}/y", "${PWD}/z", "${PROFILE_DIR}/w", "/a/$${literal}"]
[env]
set = { T = "~/not-expanded", U = "${WORKSPACE}" }
)");
  const auto& r = p.filesystem.read;
  CHECK(r[0].path == "/home/alice");
  CHECK(r[1].path == "/home/alice/x");
  CHECK(r[2].path == "/home/alice/y");
  CHECK(r[3].path == "/work/proj/z");
  CHECK(r[4].path == "/profiles/w");
  CHECK(r[5].path == "/a/${literal}");
  CHECK(p.env.set.at("T") == "~/not-expanded");
  CHECK(p.env.set.at("U") == "/home/alice/ws");
  // --var overrides, and ${PROFILE_DIR} is undefined for built-ins
  LoadOptions o = opts();
  o.vars["HOME"] = "/elsewhere";
  CHECK(load_profile_text("version = 1\n[filesystem]\nread=[\"~\"]\n", "t", "/p", o).filesystem.read[0].path == "/elsewhere");
  CHECK_THROWS_WITH(load_profile_text("version = 1\n[filesystem]\nread=[\"${PROFILE_DIR}\"]\n", "t", "", opts()),
                    Catch::Contains("not defined for a built-in"));
}

TEST_CASE("profile: ${PROFILE_STATE} is the top-level profile's own directory") {
  const std::string uses = "version = 1\n[filesystem]\nwrite = [\"${PROFILE_STATE}/data\"]\n[env]\nset = { F = \"${PROFILE_STATE}/f\" }\n";
  // named after the file when the profile has no name; under ~/.local/state by default
  auto p = load(uses);
  CHECK(p.state_dir == "/home/alice/.local/state/mcp-jail/t");
  CHECK(p.filesystem.write.at(0).path == "/home/alice/.local/state/mcp-jail/t/data");
  CHECK(p.env.set.at("F") == "/home/alice/.local/state/mcp-jail/t/f");
  CHECK(p.state_used);
  // its name when it has one; $XDG_STATE_HOME when set
  LoadOptions o = opts();
  o.state_home = "/var/lib/alice";
  p = load_profile_text("version = 1\nname = \"mine\"\n" + uses.substr(12), "t.toml", "/p", o);
  CHECK(p.state_dir == "/var/lib/alice/mcp-jail/mine");
  CHECK(p.filesystem.write.at(0).path == "/var/lib/alice/mcp-jail/mine/data");
  // unused: still known (for npx), but not used
  p = load("version = 1\n");
  CHECK(p.state_dir == "/home/alice/.local/state/mcp-jail/t");
  CHECK_FALSE(p.state_used);
  // --var cannot redirect it
  o = opts();
  o.vars["PROFILE_STATE"] = "/home/alice/.ssh";
  CHECK(load_profile_text(uses, "t.toml", "/p", o).filesystem.write.at(0).path == "/home/alice/.local/state/mcp-jail/t/data");
  // a name that cannot be a directory is an error where the variable is used, not before
  CHECK_NOTHROW(load("version = 1\nname = \"../../x\"\n"));
  try {
    load("version = 1\nname = \"../../x\"\n[filesystem]\nread = [\"/usr\",\n  \"${PROFILE_STATE}\"]\n");
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK(e.diagnostics()[0].loc.line == 5);
    CHECK_THAT(e.what(), Catch::Contains("${PROFILE_STATE} cannot be formed") && Catch::Contains("\"../../x\""));
  }
  for (const std::string bad : {"", ".hidden", "a/b", "a b", "..", "\xc3\xa9"}) CHECK_FALSE(valid_state_name(bad));
  CHECK_FALSE(valid_state_name(std::string(65, 'x')));
  CHECK(valid_state_name(std::string(64, 'x')));
  for (const std::string good : {"memory", "my-server_2.v1", "x"}) CHECK(valid_state_name(good));
  // neither HOME nor XDG_STATE_HOME
  o = opts();
  o.home.clear();
  CHECK_THROWS_WITH(load_profile_text(uses, "t.toml", "/p", o), Catch::Contains("neither XDG_STATE_HOME"));
}

TEST_CASE("profile: a profile that extends another has its own ${PROFILE_STATE}") {
  support::ScratchDir d("unit");
  d.write("parent.toml", "version = 1\nname = \"parent\"\n[filesystem]\nwrite = [\"${PROFILE_STATE}/db\"]\n");
  const auto child = d.write("child.toml", "version = 1\nname = \"child\"\nextends = \"parent.toml\"\n");
  auto p = load_profile(child, opts());
  CHECK(p.filesystem.write.at(0).path == "/home/alice/.local/state/mcp-jail/child/db");
  CHECK(p.state_dir == "/home/alice/.local/state/mcp-jail/child");
  CHECK(p.state_used);
  // unnamed: the file name of the profile being run
  const auto unnamed = d.write("other.toml", "version = 1\nextends = \"parent.toml\"\n");
  CHECK(load_profile(unnamed, opts()).filesystem.write.at(0).path == "/home/alice/.local/state/mcp-jail/other/db");
  CHECK(load_profile(d.p("parent.toml"), opts()).state_dir == "/home/alice/.local/state/mcp-jail/parent");
}

TEST_CASE("profile: extends - built-in and path, lists append, scalars override") {
  support::ScratchDir d("unit");
  d.write("parent.toml", R"(version = 1
name = "parent"
description = "p"
extends = "base"
[filesystem]
read = ["/opt/parent"]
[limits]
pids = 10
memory = "1GiB"
[network]
mode = "host"
allow_host_network = true
)");
  const auto child = d.write("child.toml", R"(version = 1
extends = "parent.toml"
[filesystem]
read = ["/opt/child"]
[limits]
pids = 20
[network]
mode = "none"
)");
  const auto p = load_profile(child, opts());
  CHECK(p.name == "child");
  CHECK(p.description == "p");
  CHECK(p.sources.size() == 3);
  std::vector<std::string> reads;
  for (const auto& r : p.filesystem.read) reads.push_back(r.path);
  CHECK(reads.front() == "/usr");  // from base
  CHECK(std::find(reads.begin(), reads.end(), "/opt/parent") != reads.end());
  CHECK(reads.back() == "/opt/child");
  CHECK(p.limits.pids == 20U);
  CHECK(p.limits.memory == 1ULL << 30);
  CHECK(p.network.mode == NetMode::None);
  CHECK(p.network.allow_host_network);
  // the child's errors point into the child, the parent's into the parent
  d.write("badparent.toml", "version = 1\n[limits]\npids = -1\n");
  const auto c2 = d.write("c2.toml", "version = 1\nextends = \"badparent.toml\"\n");
  try {
    load_profile(c2, opts());
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK_THAT(e.diagnostics()[0].loc.file, Catch::EndsWith("badparent.toml"));
    CHECK(e.diagnostics()[0].loc.line == 3);
  }
}

TEST_CASE("profile: extends cycles, missing parents and unknown built-ins") {
  support::ScratchDir d("unit");
  d.write("a.toml", "version = 1\nextends = \"b.toml\"\n");
  d.write("b.toml", "version = 1\nextends = \"a.toml\"\n");
  CHECK_THROWS_WITH(load_profile(d.p("a.toml"), opts()), Catch::Contains("'extends' cycle"));
  d.write("self.toml", "version = 1\nextends = \"./self.toml\"\n");
  CHECK_THROWS_WITH(load_profile(d.p("self.toml"), opts()), Catch::Contains("cycle"));
  d.write("m.toml", "version = 1\nextends = \"missing.toml\"\n");
  try {
    load_profile(d.p("m.toml"), opts());
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK(e.diagnostics()[0].loc.line == 2);
    CHECK_THAT(e.what(), Catch::Contains("cannot read profile"));
  }
  CHECK_THROWS_WITH(load_profile("no-such-builtin", opts()), Catch::Contains("no built-in profile named"));
  CHECK_THROWS_WITH(load_profile(d.p() + "/", opts()), Catch::Contains("is a directory"));
}

TEST_CASE("profile: built-in profiles load and are described") {
  REQUIRE(builtin_profiles().size() >= 2);
  LoadOptions with_repo = opts();  // git needs REPO
  with_repo.vars["REPO"] = "/home/alice/repo";
  for (const auto& b : builtin_profiles()) {
    INFO(b.name);
    CHECK_NOTHROW(load_profile(b.name, with_repo));
    CHECK_FALSE(profile_description(b.text).empty());
  }
  const auto fsp = load_profile("filesystem", opts());
  CHECK(fsp.filesystem.write.at(0).path == "/home/alice/ws");
  CHECK(fsp.exec.cwd == "/home/alice/ws");
  // filesystem needs WORKSPACE
  LoadOptions o = opts();
  o.vars.clear();
  CHECK_THROWS_WITH(load_profile("filesystem", o), Catch::Contains("${WORKSPACE} is not set"));
  // git: REPO writable and the cwd, git allowed, ~/.gitconfig optional and git's global file
  const auto git = load_profile("git", with_repo);
  CHECK(git.filesystem.write.back().path == "/home/alice/repo");
  CHECK(git.exec.cwd == "/home/alice/repo");
  CHECK(git.exec.allow.at(0).path == "/usr/bin/git");
  CHECK_FALSE(git.exec.allow.at(0).optional);
  CHECK(git.filesystem.read.back().path == "/home/alice/.gitconfig");
  CHECK(git.filesystem.read.back().optional);
  CHECK(git.env.set.at("GIT_CONFIG_GLOBAL") == "/home/alice/.gitconfig");
  CHECK(git.network.mode == NetMode::None);
  CHECK_THROWS_WITH(load_profile("git", opts()), Catch::Contains("${REPO} is not set"));
}

TEST_CASE("profile: malformed UTF-8 is refused before parsing, with its position") {
  // Found by fuzz_profile: toml11 3.7 read past its buffer on this input.
  std::ifstream in(std::string(MCPJAIL_SOURCE_DIR) + "/tests/fuzz/regressions/profile-toml11-utf8-overflow", std::ios::binary);
  const std::string crash((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(crash.size() > 100);
  CHECK_THROWS_WITH(load(crash), Catch::Contains("not valid UTF-8"));
  try {
    load("version = 1\nname = \"ok \xc3\xa9 ok\"\ndescription = \"x\xf4-\"\n");
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK(e.diagnostics()[0].loc.line == 3);
    CHECK(e.diagnostics()[0].loc.column == 17);
  }
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"})
    CHECK_THROWS_WITH(load(std::string("version = 1\nname = \"") + bad + "\"\n"), Catch::Contains("UTF-8"));
  CHECK(load("version = 1\nname = \"\xf0\x9f\x94\x92 \xe2\x82\xac\"\n").name == "\xf0\x9f\x94\x92 \xe2\x82\xac");
}

TEST_CASE("profile: loopback in network.allow or allow_private is refused where it is written, saying why") {
  struct Case {
    std::string text;
    unsigned line, column;
  };
  const std::string head = "version = 1\n[network]\nmode = \"allowlist\"\n";
  const std::vector<Case> cases = {
      {head + "allow = [\"127.0.0.1:8765\"]\n", 4, 10},
      {head + "allow = [\"api.test:443\", \"[::1]:8765\"]\n", 4, 26},
      {head + "allow = [\"127.0.0.0/8:80\"]\n", 4, 10},
      {head + "allow = [\"localhost:8765\"]\n", 4, 10},
      {head + "allow = [\"app.localhost:80\"]\n", 4, 10},
      {head + "allow = [\"[::ffff:127.0.0.1]:80\"]\n", 4, 10},
      {head + "allow_private = [\"127.0.0.1/32\"]\n", 4, 18},
      {head + "allow_private = [\"::1\"]\n", 4, 18},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto d = first_error(c.text);
    CHECK(d.loc.file == "t.toml");
    CHECK(d.loc.line == c.line);
    CHECK(d.loc.column == c.column);
    CHECK_THAT(d.message, Catch::Contains("loopback") && Catch::Contains("the jail's own") &&
                              Catch::Contains("host's loopback is not reachable"));
  }
  // control: other addresses and names load
  const Profile p = load(head + "allow = [\"api.test:443\", \"198.18.0.1:80\", \"*:443\"]\nallow_private = [\"10.0.0.0/8\"]\n");
  CHECK(p.network.allow.size() == 3);
}
