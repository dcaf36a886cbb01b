// The planner's passes one at a time (launcher/plan/), each with only the
// inputs it takes; make_plan() as a whole is tested in test_plan.cc.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mcpjail/mounts.hpp"
#include "mcpjail/plan/passes.hpp"
#include "../support/plan_pass.hpp"
#include "../support/scratch.hpp"

using namespace mcpjail;
using namespace mcpjail::planning;
namespace fs = std::filesystem;

namespace {

struct PassWorld : support::ScratchDir {
  PassWorld() : ScratchDir("passes") {
    dir("home/alice");
    dir("ws");
  }
  Invocation inv(std::vector<std::string> command = {"/bin/true"}) const {
    Invocation i = support::invocation_as_me(p("home/alice"), p("ws"));
    i.host_env = {{"PATH", "/usr/bin:/bin"}, {"HOME", p("home/alice")}, {"npm_config_registry", "https://x"},
                  {"NPM_CONFIG_CACHE", "/home/alice/.npm"}, {"LANG", "C"}};
    i.command = std::move(command);
    return i;
  }
  Profile profile(const std::string& text, const Invocation& i) const {
    return load_profile_text(text, "t.toml", d.string(), i.load);
  }
};

using support::Pass;

using support::has;

}  // namespace

TEST_CASE("passes: the npx adapter names everything npx needs, and nothing for other commands") {
  const std::string state = "/s/mcp-jail/p";
  Identity id;
  const std::vector<std::string> node = {"node", "server.js"};
  CHECK_FALSE(npx_runtime().detect({node, NetMode::None, state, id}));
  const std::vector<std::string> npx = {"/usr/bin/npx", "-y", "--package=@scope/srv@1", "srv"};
  auto r = npx_runtime().detect({npx, NetMode::None, state, id});
  REQUIRE(r);
  CHECK(r->runtime == "npx");
  CHECK_FALSE(r->state_reason.empty());
  REQUIRE(r->binds.size() == 1);
  CHECK(r->binds[0].path == state + "/npm");
  CHECK(r->binds[0].writable);
  CHECK(r->state_dirs == std::vector<std::string>{state + "/npm/_npx"});
  CHECK(r->env.at("npm_config_cache") == state + "/npm");
  CHECK(r->env.at("npm_config_offline") == "true");
  CHECK(r->env_drop_prefixes == std::vector<std::string>{"npm_config_"});
  REQUIRE(r->exec_programs.size() == 1);
  CHECK(r->exec_programs[0].name == "sh");
  CHECK(r->exec_dirs == std::vector<std::string>{state + "/npm/_npx"});
  REQUIRE(r->notes.size() == 1);
  CHECK_THAT(r->notes[0], Catch::Contains("--package=@scope/srv@1 -- true") && !Catch::Contains("chown"));
  // with a network: prefers the cache; as root: the chown the cache needs
  id.root_mode = true;
  id.uid = id.gid = 65534;
  const std::vector<std::string> cli = {"npx-cli.js", "srv"};
  r = npx_runtime().detect({cli, NetMode::Allowlist, state, id});
  REQUIRE(r);
  CHECK(r->env.at("npm_config_prefer_offline") == "true");
  CHECK_FALSE(r->env.count("npm_config_offline"));
  CHECK_THAT(r->notes[0], Catch::Contains("chown -R 65534:65534 " + state));
  // the registry asks every adapter
  CHECK(std::find(runtimes().begin(), runtimes().end(), &npx_runtime()) != runtimes().end());
}

TEST_CASE("passes: env takes pass, then runtime settings, then set, then --env") {
  PassWorld w;
  auto i = w.inv();
  i.env_args = {EnvArg{"npm_config_cache", std::string("/mine")}};
  Pass ps(w.profile("version = 1\n[env]\npass = [\"PATH\", \"npm_*\", \"NPM_*\"]\nset = { npm_config_fund = \"true\" }\n", i), i);
  RuntimeBinds rt;
  rt.env_drop_prefixes = {"npm_config_"};
  rt.env = {{"npm_config_cache", "/state/npm"}, {"npm_config_fund", "false"}, {"npm_config_yes", "true"}};
  const EnvPlan env = plan_env(ps.c, {rt});
  // the launcher's npm settings, in any case, are gone; the profile's set and --env win over the runtime's
  // HOME is the jail's own; PATH the launcher's only rootless (root gets a fixed one)
  const std::string path = i.euid == 0 ? kServerPath : "/usr/bin:/bin";
  CHECK(env.env == std::vector<std::string>{std::string("HOME=") + kPrivateHome, "PATH=" + path, "npm_config_cache=/mine",
                                            "npm_config_fund=true", "npm_config_yes=true"});
  CHECK(env.cli == std::map<std::string, bool>{{"npm_config_cache", false}});
  CHECK(has(env.dropped, "NPM_CONFIG_CACHE"));
  CHECK(has(env.dropped, "npm_config_registry"));
}

TEST_CASE("passes: the command's interpreter named by #!/usr/bin/env -S VAR=val PROG is found on the server's PATH") {
  PassWorld w;
  const std::string prog = w.write("jailbin/myinterp", "#!/bin/sh\n");
  w.write("launcherbin/myinterp", "#!/bin/sh\n");  // the launcher's: not what env finds in the jail
  const std::string script = w.write("app/server", "#!/usr/bin/env -S NODE_OPTIONS=--no-warnings myinterp --x\n");
  auto i = w.inv({script});
  i.host_env["PATH"] = w.p("launcherbin") + ":/usr/bin:/bin";
  Pass ps(w.profile("version = 1\n", i), i);
  const TrustPolicy trust{::getuid(), {}};
  const CommandPlan cmd = resolve_command(ps.c, trust, "/usr/bin:" + w.p("jailbin"));
  CHECK(cmd.exe == script);
  CHECK(cmd.exec_files == std::vector<std::string>{script, "/usr/bin/env", prog});
  auto bound = [&](const std::string& path) {
    return std::any_of(cmd.binds.begin(), cmd.binds.end(), [&](const AutoBind& b) { return b.path == path; });
  };
  CHECK(bound(prog));
  CHECK_FALSE(bound(w.p("launcherbin/myinterp")));
  CHECK(bound(w.p("app")));  // the script's directory
  CHECK(cmd.project == w.p("app"));
  // not on the server's PATH: 127, naming the program (not the assignment)
  try {
    resolve_command(ps.c, trust, "/usr/bin");
    FAIL("accepted");
  } catch (const LaunchError& e) {
    CHECK(e.exit_code() == 127);
    CHECK_THAT(e.what(), Catch::Contains("myinterp: command not found on the server's PATH") &&
                             !Catch::Contains("NODE_OPTIONS=--no-warnings:"));
  }
  // without -S the kernel hands env one word: refused before the launch
  const std::string bad = w.write("app/bad", "#!/usr/bin/env myinterp --x\n");
  i.command = {bad};
  Pass ps2(w.profile("version = 1\n", i), i);
  try {
    resolve_command(ps2.c, trust, w.p("jailbin"));
    FAIL("accepted");
  } catch (const LaunchError& e) {
    CHECK(e.exit_code() == 126);
    CHECK_THAT(e.what(), Catch::Contains("env -S"));
  }
}

TEST_CASE("passes: the command's binds are added unless a bind shows them already") {
  PassWorld w;
  const auto i = w.inv();
  Pass ps(w.profile("version = 1\n", i), i);
  std::vector<MountCandidate> c(1);
  c[0].step.kind = MountKind::Bind;
  c[0].step.target = c[0].step.source = "/usr";
  c[0].step.why = "filesystem.read (base.toml:9:9)";
  add_auto_binds(ps.c, c, {{"/usr/bin/node", false, "command executable"}, {"/opt/app", true, "script project"}});
  REQUIRE(c.size() == 2);
  CHECK(c[1].step.target == "/opt/app");
  CHECK(c[1].step.is_dir);
  CHECK(ps.notes == std::vector<std::string>{"command executable: /usr/bin/node already visible (filesystem.read (base.toml:9:9))"});
}

TEST_CASE("passes: what the state directory must hold is gathered in order, each once") {
  StatePlan st;
  finish_state(st, {{"/s/x", true}});
  CHECK(st.paths.empty());  // no state directory in use
  st.dir = "/s/mcp-jail/p";
  st.missing = {st.dir};
  finish_state(st, {{st.dir, true}, {st.dir + "/ro", true}, {st.dir + "/data/db", false}, {st.dir + "/ro", true},
                    {st.dir + "/npm/_npx", true}});
  CHECK(st.paths == std::vector<std::string>{"ro", "data/db", "npm/_npx"});
  CHECK(st.missing == std::vector<std::string>{st.dir, st.dir + "/ro", st.dir + "/npm/_npx"});
}

TEST_CASE("passes: Landlock mirrors the mounts, /dev's writable entries come from one list") {
  PassWorld w;
  const auto i = w.inv();
  Pass ps(w.profile("version = 1\n", i), i);
  std::vector<MountStep> mounts(3);
  mounts[0].kind = MountKind::Bind;
  mounts[0].target = mounts[0].source = "/usr";
  mounts[1].kind = MountKind::Dev;
  mounts[1].target = "/dev";
  mounts[2].kind = MountKind::Tmpfs;
  mounts[2].target = "/tmp";
  CommandPlan cmd;
  cmd.exe = "/usr/bin/true";
  cmd.exec_files = {"/usr/bin/true"};
  const TrustPolicy trust;
  const StatePlan state;
  RuntimeBinds rt;
  rt.runtime = "x";
  rt.exec_programs = {{"sh", "x runs sh"}};
  rt.exec_dirs = {"/usr/lib/x"};
  const std::vector<std::string> best_effort = {"landlock"};
  const std::string path = "/usr/bin:/bin";
  auto ll = plan_landlock(ps.c, {mounts, path, cmd, trust, state, {rt}, best_effort}).plan;
  std::vector<std::string> writable;
  for (const auto& r : ll.rules)
    if (r.write) writable.push_back(r.path);
  std::vector<std::string> expected;
  for (const auto& d : mnt::kDevWritable)
    if (!d.link) expected.push_back(d.path);
  expected.push_back("/tmp");
  std::sort(writable.begin(), writable.end());
  std::sort(expected.begin(), expected.end());
  CHECK(writable == expected);
  CHECK_FALSE(has(writable, "/dev/ptmx"));  // a link into /dev/pts, covered by its rule
  CHECK(ll.exec_allow == std::vector<std::string>{"/usr/bin/true", "/usr/bin/sh"});  // sh found on the PATH, visible
  CHECK(std::any_of(ll.rules.begin(), ll.rules.end(), [](const LandlockRule& r) { return r.path == "/usr/lib/x" && r.exec; }));
  CHECK(ll.path_env == path);
  CHECK(ll.best_effort);
  // a runtime program not visible in the jail is an error naming the runtime
  mounts.erase(mounts.begin());
  plan_landlock(ps.c, {mounts, path, cmd, trust, state, {rt}, best_effort});
  CHECK_THROWS_WITH(ps.c.checkpoint(), Catch::Contains("x runs sh, which is not on the server's PATH"));
}

TEST_CASE("passes: identity, rootless and root") {
  PassWorld w;
  // exec.user = `user` launched by uid and gid `who`: the identity planned,
  // the pass's notes, and the error that stops the launch ("" when none).
  struct Planned {
    Identity id;
    std::vector<std::string> notes;
    std::string error;
  };
  auto plan_as = [&w](unsigned who, const std::string& user) {
    auto i = w.inv();
    i.uid = i.euid = who;
    i.gid = who;
    Pass ps(w.profile("version = 1\n[exec]\nuser = \"" + user + "\"\n", i), i);
    Planned out{plan_identity(ps.c), ps.notes, ""};
    try {
      ps.c.checkpoint();
    } catch (const std::exception& e) {
      out.error = e.what();
    }
    return out;
  };
  const Planned rootless = plan_as(1000, "nobody");
  CHECK_FALSE(rootless.id.root_mode);
  CHECK(rootless.id.uid == 1000);
  REQUIRE(rootless.notes.size() == 1);
  CHECK_THAT(rootless.notes[0], Catch::Contains("exec.user = \"nobody\" is not applied"));
  const Planned root = plan_as(0, "1234:2345");
  CHECK(root.id.root_mode);
  CHECK(root.id.uid == 1234);
  CHECK(root.id.gid == 2345);
  CHECK_THAT(plan_as(0, "0").error, Catch::Contains("never runs as root"));
}

TEST_CASE("passes: the state directory is located, or the launch stops when it is needed and undefined") {
  PassWorld w;
  auto i = w.inv();
  Pass unused(w.profile("version = 1\n", i), i);
  CHECK(locate_state(unused.c, {}).dir.empty());
  // a runtime that needs it makes it used
  RuntimeBinds rt;
  rt.state_reason = "x needs a cache";
  const StatePlan st = locate_state(unused.c, {rt});
  CHECK(st.dir == w.p("home/alice/.local/state/mcp-jail/t"));
  CHECK(st.canonical == st.dir);
  CHECK(st.missing == std::vector<std::string>{st.dir});
  i.load.home.clear();
  Pass no_home(w.profile("version = 1\n", i), i);
  CHECK_THROWS_WITH(locate_state(no_home.c, {rt}), Catch::StartsWith("x needs a cache, in ${PROFILE_STATE}, which is undefined"));
}

TEST_CASE("passes: filesystem binds, the trust policy, state binds and their uses") {
  PassWorld w;
  fs::create_directories(w.p("ws/sub"));
  fs::create_directory_symlink(w.p("ws/sub"), w.p("linked"));
  const auto i = w.inv();
  Pass ps(w.profile("version = 1\nname = \"t\"\n[filesystem]\nwrite = [\"" + w.p("ws") + "\", \"${PROFILE_STATE}/db\"]\nread = [\"" +
                        w.p("linked") + "\", \"-" + w.p("none") + "\"]\ntmpfs = [\"/tmp/x\"]\n",
                    i),
          i);
  const StatePlan st = locate_state(ps.c, {});
  const TrustPolicy trust = trust_policy(ps.c, st);
  CHECK(trust.trusted_uid == i.uid);
  CHECK(has(trust.untrusted_trees, w.p("ws")));
  CHECK(has(trust.untrusted_trees, st.dir));
  RuntimeBinds rt;
  rt.binds = {{st.dir + "/cache", true, "a cache", "the command is x"}};
  rt.state_dirs = {st.dir + "/cache/sub"};
  const FilesystemBinds fsb = plan_filesystem(ps.c, trust, st, {rt});
  ps.c.checkpoint();
  std::vector<std::string> targets;
  for (const auto& c : fsb.candidates) targets.push_back(c.step.target);
  // read, --read, write, --write, runtime binds, tmpfs: in that order
  CHECK(targets == std::vector<std::string>{w.p("linked"), w.p("ws"), st.dir + "/db", st.dir + "/cache", "/tmp/x",
                                            kPrivateHome});  // the server's HOME comes last
  CHECK(fsb.candidates[0].listed_symlink);  // recorded for mount ordering
  CHECK(fsb.candidates[0].step.source == w.p("ws/sub"));
  CHECK_FALSE(fsb.candidates[1].listed_symlink);
  CHECK(fsb.candidates[4].step.size == kDefaultTmpfsSize);
  CHECK_THAT(fsb.candidates[3].step.why, Catch::Contains("a cache (the command is x)"));
  REQUIRE(fsb.state_uses.size() == 3);
  CHECK(fsb.state_uses[2].path == st.dir + "/cache/sub");
  CHECK(fsb.state_uses[2].missing);
  CHECK_THAT(ps.notes.at(0), Catch::Contains(w.p("none") + " (optional, filesystem.read) does not exist; skipped"));
}

TEST_CASE("passes: generated mounts, hides and the working directory") {
  PassWorld w;
  w.write("ws/.env", "S=1", 0600);
  auto i = w.inv();
  Pass ps(w.profile("version = 1\n[exec]\nhostname = \"h1\"\n[network]\nmode = \"allowlist\"\n"
                    "[filesystem]\nhide = [\"" + w.p("ws/.env") + "\", \"" + w.p("ws/none") + "\", \"/elsewhere\"]\n",
                    i),
          i);
  Identity id;
  id.uid = id.gid = 1234;
  id.user_name = "srv";
  const auto gen = generated_mounts(ps.c, id);
  std::vector<std::string> targets;
  for (const auto& m : gen) targets.push_back(m.target);
  CHECK(targets == std::vector<std::string>{"/proc", "/dev", "/etc/hosts", "/etc/resolv.conf", "/etc/passwd", "/etc/group"});
  CHECK_THAT(gen[2].content, Catch::Contains("127.0.1.1\th1"));
  CHECK_THAT(gen[3].content, Catch::Contains("the jail's filtering resolver"));
  CHECK_THAT(gen[4].content, Catch::Contains(std::string("srv:x:1234:1234::") + kPrivateHome));  // the jail's HOME

  std::vector<MountStep> mounts(1);
  mounts[0].kind = MountKind::Bind;
  mounts[0].target = mounts[0].source = w.p("ws");
  const auto skipped = plan_hides(ps.c, mounts);
  REQUIRE(mounts.size() == 2);
  CHECK(mounts[1].kind == MountKind::Mask);
  CHECK(mounts[1].target == w.p("ws/.env"));
  CHECK(skipped == std::vector<std::string>{w.p("ws/none") + ": does not exist (nothing to hide)",
                                            "/elsewhere: not visible in the jail"});
  CHECK(plan_cwd(ps.c, mounts) == w.p("ws"));
  CHECK(plan_cwd(ps.c, {}) == "/");
  CHECK_THAT(ps.notes.back(), Catch::Contains("is not visible in the jail; the server starts in /"));
}

TEST_CASE("passes: network, settings and pins") {
  PassWorld w;
  auto i = w.inv();
  Pass ps(w.profile("version = 1\n[network]\nmode = \"allowlist\"\nallow = [\"example.com:443\", \"10.0.0.1:80\"]\n"
                    "dns = [\"192.0.2.53\"]\n[limits]\nmemory = \"64MiB\"\n[seccomp]\nbase = \"strict\"\n"
                    "[pin]\nfiles = [{ path = \"/usr/bin/true\", sha256 = \"" + std::string(64, '0') + "\" }]\n",
                    i),
          i);
  const NetworkPlan n = plan_network(ps.c);
  CHECK(n.mode == NetMode::Allowlist);
  CHECK(n.rules.size() == 1);  // the private address is refused
  CHECK(n.resolvers_from == "profile");
  CHECK_THROWS_WITH(ps.c.checkpoint(), Catch::Contains("'10.0.0.1:80' is in 10.0.0.0/8"));
  const Settings s = plan_settings(ps.c);
  CHECK(s.hostname == "mcp-jail");
  CHECK(s.limits.memory == 64ULL << 20);
  CHECK(s.limits.tmpfs_size == kDefaultTmpfsSize);
  CHECK(s.seccomp.base == "strict");
  CHECK(s.audit_log == "stderr");
  CommandPlan cmd;
  cmd.exe = "/usr/bin/true";
  ps.notes.clear();
  CHECK(plan_pins(ps.c, cmd).files.size() == 1);
  CHECK(ps.notes.empty());  // the entry point is pinned
  cmd.exe = "/usr/bin/false";
  plan_pins(ps.c, cmd);
  CHECK_THAT(ps.notes.at(0), Catch::Contains("does not cover the command's entry point /usr/bin/false"));
}

TEST_CASE("learning layer: read-only trees become layers, mounts below them are bound again, write paths stay") {
  support::ScratchDir w("layer");
  w.dir("tree/sub/deeper");
  w.dir("tree/hidden/mnt");
  w.dir("tree/proj/inner");
  w.dir("tree/with space");
  w.write("tree/file.txt", "x");
  const std::string tree = w.p("tree");
  Plan plan;
  auto bind = [&](const std::string& t, bool writable, bool is_dir) {
    MountStep s;
    s.kind = MountKind::Bind;
    s.target = s.source = t;
    s.writable = writable;
    s.is_dir = is_dir;
    s.why = "test";
    return s;
  };
  plan.mounts.push_back(bind(tree, false, true));
  plan.mounts.push_back(bind(w.p("tree/file.txt"), false, false));
  MountStep mask;
  mask.kind = MountKind::Mask;
  mask.target = w.p("tree/hidden");
  plan.mounts.push_back(mask);
  plan.mounts.push_back(bind(w.p("tree/proj"), true, true));
  plan.mounts.push_back(bind(w.p("tree/proj/inner"), false, true));  // a protected name in a write path
  plan.landlock.rules = {{"/", false, false, false, true}, {tree, false, true}, {w.p("tree/proj"), true, false}};
  // mountinfo: a mount below the tree, one below the hidden path, one in the
  // write path, the tree itself, one elsewhere; a space escaped.
  const std::string mountinfo = "1 0 8:1 / / rw - ext4 /dev/x rw\n"
                                "2 1 0:5 / " + tree + " rw - ext4 /dev/y rw\n"
                                "3 2 0:6 / " + w.p("tree/sub") + " rw - tmpfs t rw\n"
                                "4 3 0:7 / " + w.p("tree/sub/deeper") + " rw - tmpfs t rw\n"
                                "5 2 0:8 / " + w.p("tree/hidden/mnt") + " rw - tmpfs t rw\n"
                                "6 2 0:9 / " + w.p("tree/proj/inner") + " rw - tmpfs t rw\n"
                                "7 1 0:10 / /elsewhere\\040x rw - tmpfs t rw\n"
                                "8 2 0:11 / " + w.p("tree/with\\040space") + " rw - tmpfs t rw\n";
  Plan rootless = plan;
  plan.id.root_mode = true;
  add_throwaway_layer(plan, mountinfo, 1 << 20);
  REQUIRE(plan.mounts.size() == 7);
  // Each right after its tree, in the order of mountinfo's sorted points.
  CHECK(plan.mounts[1].target == w.p("tree/with space"));
  CHECK(plan.mounts[1].source == w.p("tree/with space"));
  plan.mounts.erase(plan.mounts.begin() + 1);
  CHECK(plan.mounts[0].layer);
  CHECK(plan.mounts[0].why.find("throw-away layer") != std::string::npos);
  // Right after its tree: the mount below it, read-only, no layer; the one
  // below it comes along with the (recursive) bind.
  CHECK(plan.mounts[1].target == w.p("tree/sub"));
  CHECK(plan.mounts[1].kind == MountKind::Bind);
  CHECK_FALSE(plan.mounts[1].writable);
  CHECK_FALSE(plan.mounts[1].layer);
  CHECK(plan.mounts[1].why.find("a mount below the layered") != std::string::npos);
  CHECK_FALSE(plan.mounts[2].layer);  // a file: no overlay
  CHECK(plan.mounts[3].kind == MountKind::Mask);
  CHECK_FALSE(plan.mounts[4].layer);  // writable: reaches the host
  CHECK_FALSE(plan.mounts[5].layer);  // inside a write path: stays read-only
  CHECK(plan.landlock.rules[1].write);
  CHECK_FALSE(plan.landlock.rules[0].write);
  REQUIRE_FALSE(plan.notes.empty());
  CHECK(plan.notes.back().find("throw-away layer over " + tree) != std::string::npos);
  CHECK(plan.layer_size == 1 << 20);
  // `check` writes each step with its reason: the layer as such.
  const std::string text = render_plan(plan);
  CHECK(text.find("layer " + tree + "  (overlay: the host's tree read-only below, writes kept in the jail's memory)\n"
                  "        why: test; learning: a throw-away layer") != std::string::npos);
  CHECK(text.find("ro    " + w.p("tree/sub") + "\n        why: a mount below the layered " + tree) != std::string::npos);

  // Rootless: a tree with a mount below it stays read-only, said in a note;
  // one without is layered.
  add_throwaway_layer(rootless, mountinfo, 1 << 20);
  REQUIRE(rootless.mounts.size() == 5);
  CHECK_FALSE(rootless.mounts[0].layer);
  CHECK_FALSE(rootless.landlock.rules[1].write);
  CHECK(rootless.notes.back().find("no throw-away layer over " + tree) != std::string::npos);
  Plan plain;
  plain.mounts.push_back(bind(tree, false, true));
  add_throwaway_layer(plain, "1 0 8:1 / / rw - ext4 /dev/x rw\n", 1 << 20);
  CHECK(plain.mounts[0].layer);
}
