// Planning: Profile + command line -> ordered mounts, command files, env, ids.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "../support/plan_world.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/state.hpp"

using namespace mcpjail;
namespace fs = std::filesystem;

namespace {

std::size_t index_of(const Plan& p, const std::string& target) {
  for (std::size_t i = 0; i < p.mounts.size(); ++i)
    if (p.mounts[i].target == target) return i;
  return SIZE_MAX;
}

const char* kBase = "version = 1\nextends = \"base\"\n";

}  // namespace

TEST_CASE("plan: mounts are ordered parents first, read narrows write, tmpfs holds binds") {
  World w;
  const auto plan = w.plan(std::string(kBase) + "[filesystem]\nwrite = [\"${WORKSPACE}\"]\nread = [\"${WORKSPACE}/sub\"]\n"
                                                "tmpfs = [\"" + w.p("ws/sub/cache") + "\"]\n");
  const auto ws = index_of(plan, w.p("ws"));
  const auto sub = index_of(plan, w.p("ws/sub"));
  const auto cache = index_of(plan, w.p("ws/sub/cache"));
  REQUIRE(ws != SIZE_MAX);
  REQUIRE(sub != SIZE_MAX);
  REQUIRE(cache != SIZE_MAX);
  CHECK(ws < sub);
  CHECK(sub < cache);
  CHECK(plan.mounts[ws].writable);
  CHECK_FALSE(plan.mounts[sub].writable);
  CHECK(plan.mounts[cache].kind == MountKind::Tmpfs);
  CHECK(plan.mounts[cache].size == 64ULL << 20);
  CHECK(support::mount_at(plan, "/usr")->kind == MountKind::Bind);
  CHECK_FALSE(support::mount_at(plan, "/usr")->writable);
  CHECK(support::mount_at(plan, "/proc")->kind == MountKind::Proc);
  CHECK(support::mount_at(plan, "/dev")->kind == MountKind::Dev);
  CHECK(support::mount_at(plan, "/etc/hosts")->kind == MountKind::File);
  // nothing of $HOME
  for (const auto& m : plan.mounts) CHECK_FALSE(path_is_under(m.target, w.p("home")));
  if (fs::is_symlink("/lib")) {
    REQUIRE(support::mount_at(plan, "/lib"));
    CHECK(support::mount_at(plan, "/lib")->kind == MountKind::Symlink);
    CHECK(support::mount_at(plan, "/lib")->source == fs::canonical("/lib").string());
  }
}

TEST_CASE("plan: a missing path is an error at its location unless optional") {
  World w;
  try {
    w.plan("version = 1\n[filesystem]\nread = [\"/usr\",\n  \"" + w.p("nope") + "\"]\n");
    FAIL("accepted");
  } catch (const ProfileError& e) {
    REQUIRE(e.diagnostics().size() == 1);
    CHECK(e.diagnostics()[0].loc.line == 4);
    CHECK(e.diagnostics()[0].loc.column == 3);
    CHECK_THAT(e.diagnostics()[0].message, Catch::Contains("does not exist") && Catch::Contains("leading '-'"));
  }
  const auto plan = w.plan("version = 1\n[filesystem]\nread = [\"/usr\", \"-" + w.p("nope") + "\"]\n");
  CHECK_FALSE(support::mount_at(plan, w.p("nope")));
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& n) { return n.find("skipped") != std::string::npos; }));
}

TEST_CASE("plan: reserved and conflicting paths are refused") {
  World w;
  CHECK_THROWS_WITH(w.plan("version = 1\n[filesystem]\nread = [\"/proc\"]\n"), Catch::Contains("provided by mcp-jail"));
  CHECK_THROWS_WITH(w.plan("version = 1\n[filesystem]\nread = [\"/dev/null\"]\n"), Catch::Contains("provided by mcp-jail"));
  CHECK_THROWS_WITH(w.plan("version = 1\n[filesystem]\nwrite = [\"/\"]\n"), Catch::Contains("cannot be writable"));
  CHECK_THROWS_WITH(w.plan("version = 1\n[filesystem]\nread = [\"" + w.p("ws") + "\"]\nwrite = [\"" + w.p("ws") + "\"]\n"),
                    Catch::Contains("listed twice"));
  // the same path listed twice the same way is fine
  CHECK_NOTHROW(w.plan("version = 1\n[filesystem]\nread = [\"/usr\", \"/usr\"]\n"));
}

TEST_CASE("plan: symlinks inside writable paths are never followed") {
  World w;
  fs::create_directory_symlink(w.p("home/alice/.ssh"), w.p("ws/docs"));
  CHECK_THROWS_WITH(w.plan(std::string(kBase) + "[filesystem]\nwrite = [\"${WORKSPACE}\"]\nread = [\"${WORKSPACE}/docs\"]\n"),
                    Catch::Contains("inside the writable path"));
}

TEST_CASE("plan: hide masks what exists, skips what cannot be seen") {
  World w;
  fs::create_symlink(w.p("ws/.env"), w.p("ws/envlink"));
  const std::string prof = std::string(kBase) + "[filesystem]\nwrite = [\"${WORKSPACE}\"]\nhide = [\"${WORKSPACE}/.env\", \"${WORKSPACE}/.aws\", \"~/.ssh\"]\n";
  const auto plan = w.plan(prof);
  const auto* m = support::mount_at(plan, w.p("ws/.env"));
  REQUIRE(m);
  CHECK(m->kind == MountKind::Mask);
  CHECK_FALSE(m->is_dir);
  CHECK(index_of(plan, w.p("ws/.env")) > index_of(plan, w.p("ws")));
  CHECK(plan.hide_skipped.size() == 2);
  CHECK_THROWS_WITH(w.plan(std::string(kBase) + "[filesystem]\nwrite = [\"${WORKSPACE}\"]\nhide = [\"${WORKSPACE}/envlink\"]\n"),
                    Catch::Contains("is a symlink"));
}

TEST_CASE("plan: the command's own files - executable and script project") {
  World w;
  SECTION("a script inside node_modules: the directory holding the outermost node_modules") {
    if (!fs::exists("/usr/bin/node")) return;
    const auto plan = w.plan("version = 1\n", w.inv({"node", w.p("opt/app/node_modules/@scope/pkg/dist/index.js"), "x"}));
    CHECK(plan.exe == fs::canonical("/usr/bin/node").string());
    const auto* proj = support::mount_at(plan, w.p("opt/app"));
    REQUIRE(proj);
    CHECK_FALSE(proj->writable);
    CHECK_THAT(proj->why, Catch::Contains("node_modules"));
    CHECK(support::mount_at(plan, plan.exe));  // the interpreter itself, since /usr is not listed
    CHECK(plan.argv[0] == "node");
  }
  SECTION("a script in a project: the nearest package.json") {
    if (!fs::exists("/usr/bin/node")) return;
    auto i = w.inv({"/usr/bin/node", "--enable-source-maps", "src/deep/server.js"});
    i.load.pwd = w.p("proj");
    const auto plan = w.plan("version = 1\n", i);
    REQUIRE(support::mount_at(plan, w.p("proj")));
    CHECK_THAT(support::mount_at(plan, w.p("proj"))->why, Catch::Contains("package.json"));
  }
  SECTION("a script directly in $HOME: only the file, never $HOME") {
    if (!fs::exists("/usr/bin/node")) return;
    const auto plan = w.plan("version = 1\n", w.inv({"node", w.p("home/alice/loose.js")}));
    CHECK_FALSE(support::mount_at(plan, w.p("home/alice")));
    REQUIRE(support::mount_at(plan, w.p("home/alice/loose.js")));
    CHECK_FALSE(support::mount_at(plan, w.p("home/alice/loose.js"))->is_dir);
  }
  SECTION("already visible files are not added twice") {
    const auto plan = w.plan(kBase, w.inv({"true"}));
    CHECK(std::count_if(plan.mounts.begin(), plan.mounts.end(), [&](const MountStep& m) { return m.target == plan.exe; }) == 0);
  }
  SECTION("not found is 127, not executable is 126") {
    try {
      w.plan(kBase, w.inv({"no-such-command-anywhere"}));
      FAIL("accepted");
    } catch (const LaunchError& e) {
      CHECK(e.exit_code() == 127);
    }
    try {
      w.plan(kBase, w.inv({w.p("proj/package.json")}));
      FAIL("accepted");
    } catch (const LaunchError& e) {
      CHECK(e.exit_code() == 126);
    }
    try {
      w.plan(kBase, w.inv({}));
      FAIL("accepted");
    } catch (const LaunchError& e) {
      CHECK(e.exit_code() == 125);
    }
  }
  SECTION("--read and --write add paths for one launch") {
    auto i = w.inv();
    i.extra_read.push_back(w.p("proj"));
    i.extra_write.push_back(w.p("ws"));
    const auto plan = w.plan(kBase, i);
    REQUIRE(support::mount_at(plan, w.p("proj")));
    CHECK_FALSE(support::mount_at(plan, w.p("proj"))->writable);
    REQUIRE(support::mount_at(plan, w.p("ws")));
    CHECK(support::mount_at(plan, w.p("ws"))->writable);
  }
}

TEST_CASE("plan: environment is pass + set only") {
  World w;
  const auto plan = w.plan("version = 1\n[env]\npass = [\"PATH\", \"LC_*\", \"UNSET_VAR\"]\nset = { NODE_ENV = \"production\", PATH = \"/usr/bin\" }\n");
  CHECK(plan.env == std::vector<std::string>{"HOME=/mcp-jail/home", "LC_ALL=C", "NODE_ENV=production", "PATH=/usr/bin"});
}

TEST_CASE("plan: --env passes a name from the launcher's environment or sets a value, after the profile") {
  World w;
  Invocation i = w.inv();
  auto arg = [](const std::string& a) {
    std::string why;
    auto e = parse_env_arg(a, &why);
    INFO(a << ": " << why);
    REQUIRE(e);
    return *e;
  };
  i.env_args = {arg("GITHUB_TOKEN"), arg("FOO=a=b"), arg("NODE_ENV"), arg("NOT_SET"), arg("PATH=/opt/bin")};
  const auto plan = w.plan("version = 1\n[env]\npass = [\"PATH\"]\nset = { NODE_ENV = \"production\" }\n", i);
  // NODE_ENV: --env NODE_ENV, but the launcher has none: the profile's value stays.
  CHECK(plan.env == std::vector<std::string>{"FOO=a=b", "GITHUB_TOKEN=ghp_x", "HOME=/mcp-jail/home", "NODE_ENV=production",
                                             "PATH=/opt/bin"});
  CHECK(plan.env_cli == std::map<std::string, bool>{{"FOO", false}, {"GITHUB_TOKEN", true}, {"PATH", false}});
  CHECK(plan.env_cli_unset == std::vector<std::string>{"NODE_ENV", "NOT_SET"});
  const std::string text = render_plan(plan);
  CHECK_THAT(text, Catch::Contains("  GITHUB_TOKEN=(5 characters from the launcher's environment, not shown)  --env GITHUB_TOKEN\n"));
  CHECK_THAT(text, !Catch::Contains("ghp_x"));
  CHECK_THAT(text, Catch::Contains("  FOO=a=b  --env\n"));
  CHECK_THAT(text, Catch::Contains("  --env NOT_SET: not set in the launcher's environment, not passed\n"));
  CHECK_THAT(text, !Catch::Contains("AWS_SECRET_ACCESS_KEY"));

  // The last --env of a name decides.
  i.env_args = {arg("FOO=1"), arg("FOO=2"), arg("GITHUB_TOKEN=set"), arg("GITHUB_TOKEN")};
  const auto again = w.plan("version = 1\n", i);
  CHECK(again.env == std::vector<std::string>{"FOO=2", "GITHUB_TOKEN=ghp_x", "HOME=/mcp-jail/home",
                                              "PATH=/usr/local/bin:/usr/bin:/bin"});
}

TEST_CASE("plan: --env arguments that are not NAME or NAME=VALUE are refused") {
  std::string why;
  CHECK(parse_env_arg("A_1", &why) == EnvArg{"A_1", std::nullopt});
  CHECK(parse_env_arg("_x=", &why) == EnvArg{"_x", std::string()});
  CHECK(parse_env_arg("K=v=w", &why) == EnvArg{"K", std::string("v=w")});
  for (const char* bad : {"", "=v", "1A", "A-B", "A B", "LC_*", "A.B=v", "\xc3\xa9=v"}) {
    INFO(bad);
    CHECK_FALSE(parse_env_arg(bad, &why));
  }
  CHECK_FALSE(parse_env_arg("BAD-NAME=hunter2", &why));
  CHECK_THAT(why, Catch::Contains("\"BAD-NAME\"") && !Catch::Contains("hunter2"));
}

TEST_CASE("plan: working directory") {
  World w;
  CHECK(w.plan(std::string(kBase) + "[filesystem]\nwrite = [\"${WORKSPACE}\"]\n").cwd == w.p("ws"));
  CHECK(w.plan(kBase).cwd == "/");
  CHECK_THROWS_WITH(w.plan(std::string(kBase) + "[exec]\ncwd = \"${WORKSPACE}\"\n"), Catch::Contains("not visible in the jail"));
}

TEST_CASE("plan: host network needs explicit consent") {
  World w;
  try {
    w.plan("version = 1\n[network]\nmode = \"host\"\n");
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK(e.diagnostics()[0].loc.line == 3);
    CHECK_THAT(e.diagnostics()[0].message, Catch::Contains("allow_host_network = true"));
  }
  CHECK(w.plan("version = 1\n[network]\nmode = \"host\"\nallow_host_network = true\n").network.mode == NetMode::Host);
}

TEST_CASE("plan: paths below ${PROFILE_STATE} are planned, created only by run") {
  World w;
  const std::string state = w.p("home/alice/.local/state/mcp-jail/t");
  const std::string prof = std::string(kBase) + "[filesystem]\nwrite = [\"${PROFILE_STATE}/data/db\"]\nread = [\"${PROFILE_STATE}/ro\"]\n";
  auto plan = w.plan(prof);
  CHECK(plan.state.dir == state);
  CHECK(plan.state.canonical == state);
  CHECK(plan.state.paths == std::vector<std::string>{"ro", "data/db"});
  CHECK(plan.state.missing == std::vector<std::string>{state, state + "/ro", state + "/data/db"});
  const MountStep* m = support::mount_at(plan, state + "/data/db");
  REQUIRE(m);
  CHECK(m->writable);
  CHECK(m->is_dir);
  CHECK(m->source == state + "/data/db");
  CHECK_FALSE(fs::exists(w.p("home/alice/.local")));  // planning changes nothing
  CHECK_THAT(render_plan(plan), Catch::Contains("state        " + state) && Catch::Contains("(run creates it)"));
  // not used: no state directory at all
  CHECK(w.plan(kBase).state.dir.empty());
  // the state home may be reached through the user's own symlink; below it, nothing is followed
  fs::create_directories(w.p("data/state"));
  fs::create_directories(w.p("home/alice/.local"));
  fs::create_directory_symlink(w.p("data/state"), w.p("home/alice/.local/state"));
  plan = w.plan(prof);
  CHECK(plan.state.canonical == w.p("data/state/mcp-jail/t"));
  CHECK(support::mount_at(plan, state + "/data/db")->source == w.p("data/state/mcp-jail/t/data/db"));
  fs::create_directories(w.p("data/state/mcp-jail/t"));
  fs::create_directory_symlink(w.p("home/alice/.ssh"), w.p("data/state/mcp-jail/t/ro"));
  CHECK_THROWS_WITH(w.plan(prof), Catch::Contains("inside the writable path") || Catch::Contains("symlink"));
}

TEST_CASE("plan: npx gets a package cache private to the profile, offline without network") {
  if (!fs::exists("/usr/bin/npx") || !fs::exists("/usr/bin/node")) return;
  World w;
  const std::string state = w.p("home/alice/.local/state/mcp-jail/t");
  auto i = w.inv({"npx", "-y", "@scope/server@1.2.3", "--flag"});
  i.host_env["NPM_CONFIG_CACHE"] = w.p("home/alice/.npm");  // the user's shared cache: never used in the jail
  i.host_env["npm_config_registry"] = "https://registry.example";
  const std::string prof = std::string(kBase) + "[env]\npass = [\"NPM_CONFIG_*\", \"npm_config_*\"]\n";
  auto plan = w.plan(prof, i);
  CHECK(plan.state.dir == state);
  const MountStep* cache = support::mount_at(plan, state + "/npm");
  REQUIRE(cache);
  CHECK(cache->writable);
  CHECK(std::find(plan.state.missing.begin(), plan.state.missing.end(), state + "/npm/_npx") != plan.state.missing.end());
  auto has_env = [&](const std::string& kv) { return std::find(plan.env.begin(), plan.env.end(), kv) != plan.env.end(); };
  CHECK(has_env("npm_config_cache=" + state + "/npm"));
  CHECK(has_env("npm_config_offline=true"));
  CHECK(has_env("npm_config_yes=true"));
  CHECK(has_env("npm_config_update_notifier=false"));
  CHECK(std::none_of(plan.env.begin(), plan.env.end(), [](const std::string& e) {
    return e.starts_with("NPM_CONFIG_") || e.starts_with("npm_config_registry");
  }));
  // Landlock: npx and its interpreters, sh (npm runs bins through it), and
  // what is installed in the cache's _npx; nothing else.
  const auto& ll = plan.landlock;
  CHECK(std::find(ll.exec_allow.begin(), ll.exec_allow.end(), "/usr/bin/sh") != ll.exec_allow.end());
  CHECK(std::any_of(ll.rules.begin(), ll.rules.end(), [&](const LandlockRule& r) {
    return r.path == state + "/npm/_npx" && r.exec && !r.write;
  }));
  // one tree only (the noexec-exempt bind of _npx adds a second rule for the same path)
  CHECK(std::all_of(ll.rules.begin(), ll.rules.end(), [&](const LandlockRule& r) { return !r.exec || r.path == state + "/npm/_npx"; }));
  CHECK(support::mount_at(plan, state + "/npm/_npx"));
  CHECK(support::mount_at(plan, state + "/npm/_npx")->exec);
  CHECK_FALSE(cache->exec);
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [&](const std::string& n) {
    return n.find("npm exec --yes --ignore-scripts --package=@scope/server@1.2.3 -- true") != std::string::npos;
  }));
  // with a network, npx prefers the cache but may fetch
  plan = w.plan(prof + "[network]\nmode = \"allowlist\"\nallow = [\"registry.npmjs.org:443\"]\n", i);
  CHECK(std::find(plan.env.begin(), plan.env.end(), "npm_config_prefer_offline=true") != plan.env.end());
  CHECK(std::none_of(plan.env.begin(), plan.env.end(), [](const std::string& e) { return e.starts_with("npm_config_offline"); }));
  // the node form gets no cache and no shell
  plan = w.plan(kBase, w.inv({"node", w.p("opt/app/node_modules/@scope/pkg/dist/index.js")}));
  CHECK(plan.state.dir.empty());
  CHECK(std::find(plan.landlock.exec_allow.begin(), plan.landlock.exec_allow.end(), "/usr/bin/sh") == plan.landlock.exec_allow.end());
}

TEST_CASE("plan: an exec.allow directory allows what lies beneath it") {
  World w;
  const std::string state = w.p("home/alice/.local/state/mcp-jail/t");
  const auto plan = w.plan(std::string(kBase) + "[exec]\nallow = [\"/usr/bin/true\", \"/usr/lib\", \"${PROFILE_STATE}/bin\"]\n"
                           "[filesystem]\nwrite = [\"${PROFILE_STATE}\"]\n");
  const auto& ll = plan.landlock;
  CHECK(ll.exec_allow == std::vector<std::string>{"/usr/bin/true"});
  CHECK(std::any_of(ll.rules.begin(), ll.rules.end(), [](const LandlockRule& r) { return r.path == "/usr/lib" && r.exec; }));
  // a missing directory below ${PROFILE_STATE} is created by run
  CHECK(std::any_of(ll.rules.begin(), ll.rules.end(), [&](const LandlockRule& r) { return r.path == state + "/bin" && r.exec; }));
  CHECK(std::find(plan.state.missing.begin(), plan.state.missing.end(), state + "/bin") != plan.state.missing.end());
  CHECK_THAT(render_plan(plan), Catch::Contains("/usr/lib  (+ execute beneath)"));
}

TEST_CASE("plan: an optional exec.allow file that does not exist is skipped, with a note") {
  World w;
  // Visible (below /usr) but missing on this host: skipped, not handed to Landlock.
  const auto plan = w.plan(std::string(kBase) + "[exec]\nallow = [\"-/usr/bin/true\", \"-/usr/lib/mcpjail-no-such/prog\"]\n");
  const auto& ll = plan.landlock;
  CHECK(std::find(ll.exec_allow.begin(), ll.exec_allow.end(), "/usr/bin/true") != ll.exec_allow.end());
  CHECK(std::find(ll.exec_allow.begin(), ll.exec_allow.end(), "/usr/lib/mcpjail-no-such/prog") == ll.exec_allow.end());
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& n) {
    return n == "exec.allow /usr/lib/mcpjail-no-such/prog (optional) does not exist; skipped";
  }));
}

TEST_CASE("plan: identities") {
  World w;
  auto i = w.inv();
  SECTION("root launches drop to nobody by default, never to uid 0") {
    i.uid = i.euid = 0;
    i.gid = 0;
    auto plan = w.plan(kBase, i);
    CHECK(plan.id.root_mode);
    CHECK(plan.id.uid == 65534);
    CHECK(plan.id.gid == 65534);
    CHECK(w.plan(std::string(kBase) + "[exec]\nuser = \"1234:2345\"\n", i).id.uid == 1234);
    CHECK(w.plan(std::string(kBase) + "[exec]\nuser = \"1234:2345\"\n", i).id.gid == 2345);
    CHECK_THROWS_WITH(w.plan(std::string(kBase) + "[exec]\nuser = \"root\"\n", i), Catch::Contains("never runs as root"));
    CHECK_THROWS_WITH(w.plan(std::string(kBase) + "[exec]\nuser = 0\n", i), Catch::Contains("never runs as root"));
    CHECK_THROWS_WITH(w.plan(std::string(kBase) + "[exec]\nuser = \"no-such-user-x\"\n", i), Catch::Contains("no user named"));
  }
  SECTION("rootless launches keep the invoking ids; exec.user is noted, not applied") {
    i.uid = i.euid = 1000;
    i.gid = 1000;
    auto plan = w.plan(std::string(kBase) + "[exec]\nuser = \"nobody\"\n", i);
    CHECK_FALSE(plan.id.root_mode);
    CHECK(plan.id.uid == 1000);
    CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& n) { return n.find("exec.user") != std::string::npos; }));
  }
  SECTION("a setuid install is refused") {
    i.uid = 1000;
    i.euid = 0;
    CHECK_THROWS_AS(w.plan(kBase, i), LaunchError);
  }
}

TEST_CASE("plan: the rendered plan names every mount and why") {
  World w;
  const auto plan = w.plan(std::string(kBase) + "[filesystem]\nwrite = [\"${WORKSPACE}\"]\nhide = [\"${WORKSPACE}/.env\"]\n");
  const auto text = render_plan(plan);
  CHECK_THAT(text, Catch::Contains("rw    " + w.p("ws")));
  CHECK_THAT(text, Catch::Contains("hide  " + w.p("ws/.env")));
  CHECK_THAT(text, Catch::Contains("t.toml:"));
  CHECK_THAT(text, Catch::Contains("pivot_root"));
  CHECK_THAT(text, Catch::Contains("seccomp"));
}

TEST_CASE("plan: the state home is worked out in one place") {
  LoadOptions o;
  o.home = "/home/alice";
  CHECK(state_home(o) == "/home/alice/.local/state");
  o.state_home = "/var/lib/alice";
  CHECK(state_home(o) == "/var/lib/alice");
  o = {};
  CHECK(state_home(o).empty());
  o.home = "/";
  CHECK(state_home(o) == "/.local/state");
  CHECK(xdg_state_home({{"XDG_STATE_HOME", "/x//y/"}}) == "/x/y");
  CHECK(xdg_state_home({{"XDG_STATE_HOME", "relative"}}).empty());
  CHECK(xdg_state_home({}).empty());
  // the profile's ${PROFILE_STATE} and the plan's state directory are below it
  World w;
  const Invocation i = w.inv();
  const auto plan = w.plan(std::string(kBase) + "[filesystem]\nwrite = [\"${PROFILE_STATE}\"]\n", i);
  CHECK(plan.state.dir == state_home(i.load) + "/mcp-jail/t");
  CHECK(plan.state.home_canonical == state_home(i.load));
  // a profile loaded for another state home is not planned with this one
  const Profile pr = load_profile_text(std::string(kBase) + "[filesystem]\nwrite = [\"${PROFILE_STATE}\"]\n", "t.toml",
                                       w.d.string(), i.load);
  Invocation other = i;
  other.load.home = w.p("home/bob");
  CHECK_THROWS_WITH(make_plan(pr, other), Catch::Contains("not in the state home of this launch"));
}

TEST_CASE("check: a summary comes first: identity, what can be written, run and reached, what may be skipped") {
  World w;
  const auto plan = w.plan(std::string(kBase) + "[filesystem]\nwrite = [\"${WORKSPACE}\"]\n");
  const std::string text = render_plan(plan);
  REQUIRE(text.starts_with("summary      (the full plan follows)\n  runs as    uid " + std::to_string(plan.id.uid)));
  const std::string summary = text.substr(0, text.find("\n\n"));
  CHECK_THAT(summary, Catch::Contains(", " + w.p("ws") + ", "));
  CHECK_THAT(summary, Catch::Contains("/dev/shm (tmpfs "));
  CHECK_THAT(summary, Catch::Contains("  can run    /usr/bin/true (+ the ELF and #! interpreters these need); nothing else, "
                                      "nothing written in the jail"));
  CHECK_THAT(summary, Catch::Contains("  network    none (loopback only)"));
  CHECK_THAT(summary, Catch::Contains("  may skip   nothing"));
  CHECK_THAT(summary, !Catch::Contains(w.p("ws/sub")));  // read-only paths are not "can write"

  const auto narrow = w.plan(std::string(kBase) +
                             "best_effort = [\"limits\"]\n[exec]\nallow = [\"/usr/bin/env\"]\n[network]\nmode = \"allowlist\"\n"
                             "allow = [\"api.example.test:443\"]\ndns = [\"198.18.0.53\"]\n");
  const std::string s2 = render_plan(narrow);
  const std::string sum2 = s2.substr(0, s2.find("\n\n"));
  CHECK_THAT(sum2, Catch::Contains("  can run    /usr/bin/true, /usr/bin/env (+ the ELF and #! interpreters these need)"));
  CHECK_THAT(sum2, Catch::Contains("  network    allowlist: api.example.test:443;"));
  CHECK_THAT(sum2, Catch::Contains("  may skip   limits (best_effort"));
}

TEST_CASE("plan: HOME is the jail's own and PATH never root's") {
  World w;
  Invocation i = w.inv();
  auto plan = w.plan(kBase, i);
  auto has_env = [&](const Plan& p, const std::string& kv) { return std::find(p.env.begin(), p.env.end(), kv) != p.env.end(); };
  CHECK(has_env(plan, "HOME=/mcp-jail/home"));
  const MountStep* home = support::mount_at(plan, "/mcp-jail/home");
  REQUIRE(home);
  CHECK(home->kind == MountKind::Tmpfs);
  CHECK_THAT(render_plan(plan), Catch::Contains("HOME, private to this launch"));
  // root: the launcher's PATH (pass lists it) does not reach the server; rootless: it does
  i.host_env["PATH"] = "/root/.cargo/bin:/usr/bin:/bin";
  i.uid = i.euid = 0;
  plan = w.plan(kBase, i);
  CHECK(has_env(plan, "PATH=/usr/local/bin:/usr/bin:/bin"));
  i.uid = i.euid = 1000;
  i.gid = 1000;
  plan = w.plan(kBase, i);
  CHECK(has_env(plan, "PATH=/root/.cargo/bin:/usr/bin:/bin"));
  CHECK(has_env(plan, "HOME=/mcp-jail/home"));
  // the profile may set either; env.home = "state" puts HOME in ${PROFILE_STATE}
  plan = w.plan(std::string(kBase) + "[env]\nset = { HOME = \"/tmp\" }\n", i);
  CHECK(has_env(plan, "HOME=/tmp"));
  CHECK_FALSE(support::mount_at(plan, "/mcp-jail/home"));
  plan = w.plan(std::string(kBase) + "[env]\nhome = \"state\"\n", i);
  const std::string state = w.p("home/alice/.local/state/mcp-jail/t");
  CHECK(has_env(plan, "HOME=" + state + "/home"));
  REQUIRE(support::mount_at(plan, state + "/home"));
  CHECK(support::mount_at(plan, state + "/home")->writable);
}

TEST_CASE("plan: exec.allow adds to what the command needs, and check says why") {
  World w;
  const auto plan = w.plan(std::string(kBase) + "[exec]\nallow = [\"/usr/bin/env\"]\n");
  const auto& ll = plan.landlock;
  CHECK(ll.exec_allow == std::vector<std::string>{"/usr/bin/true", "/usr/bin/env"});
  REQUIRE(ll.exec_why.size() == 2);
  CHECK(ll.exec_why[0] == "the command");
  CHECK_THAT(ll.exec_why[1], Catch::Contains("exec.allow ("));
  const std::string text = render_plan(plan);
  CHECK_THAT(text, Catch::Contains("execute    /usr/bin/true  (the command)"));
  CHECK_THAT(text, !Catch::Contains("Landlock will refuse"));
  // the jail's root can be listed, and only listed
  CHECK(std::any_of(ll.rules.begin(), ll.rules.end(),
                    [](const LandlockRule& r) { return r.path == "/" && r.list && !r.write && !r.exec; }));
}
