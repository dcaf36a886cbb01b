// Pinning with real jails, root and rootless. A small Node project (script,
// package.json, package-lock.json, node_modules) is pinned with a profile
// file that lives inside it; the pinned server runs (positive control), and
// one changed byte in a dependency, the entry point or the lockfile refuses
// the launch: exit 125, a pin_mismatch event naming the file, and the server
// never started (the marker it would write is absent).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../integration/harness.hpp"

using namespace it;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Rewrites a file in place, keeping its inode, owner and mode.
void overwrite(const std::string& p, const std::string& content) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

// The audit events in a launcher's stderr.
std::vector<json> events(const std::string& err) {
  std::vector<json> out;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("{")) out.push_back(json::parse(line, nullptr, false));
  return out;
}

std::vector<json> of_type(const std::vector<json>& evs, const std::string& type) {
  std::vector<json> out;
  for (const auto& e : evs)
    if (e.is_object() && e.value("event", "") == type) out.push_back(e);
  return out;
}

// A directory owned by the user who launches mcp-jail in mode `m` (root, or
// the rootless test user): the launcher's XDG_STATE_HOME for the test.
struct LauncherDir {
  std::string path;
  explicit LauncherDir(Mode m) {
    char tmpl[] = "/tmp/mcpjail-pinstate-XXXXXX";
    path = ::mkdtemp(tmpl);
    if (m == Mode::Rootless && ::geteuid() == 0 &&
        ::chown(path.c_str(), Harness::get().uid(m), Harness::get().gid(m)) != 0)
      throw std::runtime_error("chown");
  }
  ~LauncherDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

const char* kProfile = R"(version = 1
name = "pinned"
# a comment that must survive
extends = "base"

[filesystem]
write = ["${WORKSPACE}"]
)";

const char* kServer = R"(const fs = require('fs');
const dep = require('dep');
fs.writeFileSync(process.argv[2], 'started');
console.log('server started: ' + dep.greeting);
)";

struct Project {
  Mode mode;
  TempDir proj, ws;
  LauncherDir state;
  std::string profile, server, lock, dep, marker;
  explicit Project(Mode m) : mode(m), proj(m), ws(m), state(m) {
    proj.file("package.json", R"({"name": "pinned-server", "version": "1.0.0"})");
    lock = proj.file("package-lock.json", R"({"lockfileVersion": 3, "packages": {}})");
    server = proj.file("server.js", kServer);
    dep = proj.file("node_modules/dep/index.js", "exports.greeting = 'hello';\n");
    proj.file("node_modules/dep/package.json", R"({"name": "dep", "main": "index.js"})");
    profile = proj.file("mcp-jail.toml", kProfile, 0640);
    marker = ws.path() + "/marker";
  }
  std::vector<std::string> args(const std::string& cmd) const {
    std::vector<std::string> a = {cmd, profile, "--var", "WORKSPACE=" + ws.path()};
    if (cmd == "run") a.insert(a.end(), {"--audit-log", "stderr"});
    a.insert(a.end(), {"--", "/usr/bin/node", server, marker});
    return a;
  }
  Result launch(const std::string& cmd) const {
    RunOptions o;
    o.env = {"XDG_STATE_HOME=" + state.path + "/xdg"};
    return run(mode, args(cmd), o);
  }
};

// The launch ran the server: its output arrived and it left the marker.
void expect_started(Project& p) {
  const auto r = p.launch("run");
  INFO(mode_name(p.mode) << "\nstderr: " << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == "server started: hello\n");
  CHECK(fs::exists(p.marker));
  CHECK(of_type(events(r.err), "pin_mismatch").empty());
  fs::remove(p.marker);
}

// The launch was refused because of `file`; nothing ran.
json expect_refused(Project& p, const std::string& file) {
  const auto r = p.launch("run");
  INFO(mode_name(p.mode) << "\nstderr: " << r.err);
  CHECK(r.status == 125);
  CHECK(r.out.empty());
  CHECK_FALSE(fs::exists(p.marker));
  const auto evs = events(r.err);
  CHECK(of_type(evs, "start").empty());
  const auto mism = of_type(evs, "pin_mismatch");
  REQUIRE_FALSE(mism.empty());
  CHECK_THAT(r.err, Catch::Contains("mcp-jail: pin: " + file));
  CHECK_THAT(r.err, Catch::Contains("nothing was started") && Catch::Contains("mcp-jail pin " + p.profile));
  return mism.front();
}

}  // namespace

TEST_CASE("a pinned server runs, and one changed byte in node_modules, the entry point or the lockfile refuses the launch") {
  if (!fs::exists("/usr/bin/node")) return;
  for (Mode m : modes()) {
    Project p(m);
    struct stat before {};
    REQUIRE(::stat(p.profile.c_str(), &before) == 0);

    auto r = p.launch("pin");
    INFO(mode_name(m) << "\nstderr: " << r.err);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.err, Catch::Contains("2 files and 1 tree pinned") && Catch::Contains("[pin] written to " + p.profile));
    // the profile: what was there stays byte for byte, the section follows
    const std::string text = slurp(p.profile);
    REQUIRE(text.starts_with(std::string(kProfile) + "\n[pin]\n"));
    CHECK_THAT(text, Catch::Contains("{ path = \"" + p.server + "\", sha256 = \""));
    CHECK_THAT(text, Catch::Contains("{ path = \"" + p.lock + "\", sha256 = \""));
    CHECK_THAT(text, Catch::Contains("{ path = \"" + p.proj.path() + "\", sha256 = \"") &&
                         Catch::Contains("files = 5, exclude = [\"mcp-jail.toml\"] }"));
    struct stat after {};
    REQUIRE(::stat(p.profile.c_str(), &after) == 0);
    CHECK((after.st_mode & 07777) == 0640);
    CHECK(after.st_uid == before.st_uid);
    CHECK(after.st_gid == before.st_gid);

    expect_started(p);

    SECTION("a dependency") {
      const std::string orig = slurp(p.dep);
      overwrite(p.dep, "exports.greeting = 'hellO';\n");
      const json ev = expect_refused(p, p.dep);
      CHECK(ev["kind"] == "tree");
      CHECK(ev["path"] == p.proj.path());
      CHECK(ev["first_difference"] == "node_modules/dep/index.js");
      CHECK(ev["change"] == "modified");
      CHECK(ev["expected"].get<std::string>().size() == 64);
      CHECK(ev["actual"].get<std::string>().size() == 64);
      CHECK(ev["expected"] != ev["actual"]);
      // check says the same, and starts nothing either
      const auto c = p.launch("check");
      CHECK(c.status == 125);
      CHECK_THAT(c.err, Catch::Contains("mcp-jail: pin: " + p.dep));
      // the byte back: the launch works again
      overwrite(p.dep, orig);
      expect_started(p);
    }
    SECTION("a file added to node_modules") {
      p.proj.file("node_modules/dep/postinstall.js", "");
      const json ev = expect_refused(p, p.proj.path() + "/node_modules/dep/postinstall.js");
      CHECK(ev["change"] == "added");
    }
    SECTION("the entry point") {
      overwrite(p.server, std::string(kServer) + " ");
      const json ev = expect_refused(p, p.server);
      // the file pin, reported first, and the tree that holds it
      CHECK(ev["kind"] == "file");
      CHECK(ev["path"] == p.server);
      CHECK(ev["actual"] != ev["expected"]);
    }
    SECTION("the lockfile") {
      overwrite(p.lock, R"({"lockfileVersion": 3, "packages": {"x": {}}})");
      const json ev = expect_refused(p, p.lock);
      CHECK(ev["kind"] == "file");
      CHECK(ev["path"] == p.lock);
    }
    SECTION("the lockfile removed") {
      fs::remove(p.lock);
      const json ev = expect_refused(p, p.lock);
      CHECK(ev["actual"] == "missing");
    }
    SECTION("an update, reviewed and pinned again, runs") {
      overwrite(p.dep, "exports.greeting = 'hello again';\n");
      expect_refused(p, p.dep);
      r = p.launch("pin");
      CHECK(r.status == 0);
      const auto rr = p.launch("run");
      INFO(rr.err);
      CHECK(rr.status == 0);
      CHECK(rr.out == "server started: hello again\n");
      // the section was replaced, not added twice
      const std::string again = slurp(p.profile);
      CHECK(again.find("[pin]") == again.rfind("[pin]"));
    }
  }
}

TEST_CASE("pin refuses to write a built-in profile, and --print writes nothing") {
  if (!fs::exists("/usr/bin/node")) return;
  for (Mode m : modes()) {
    Project p(m);
    const std::string before = slurp(p.profile);
    RunOptions o;
    o.env = {"XDG_STATE_HOME=" + p.state.path + "/xdg"};
    auto r = run(m, {"pin", "base", "--", "/usr/bin/node", p.server, p.marker}, o);
    INFO(mode_name(m) << "\nstderr: " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("built-in profile") && Catch::Contains("extends = \"base\""));
    r = run(m, {"pin", "base", "--print", "--", "/usr/bin/node", p.server, p.marker}, o);
    CHECK(r.status == 0);
    CHECK(r.out.starts_with("[pin]\n"));
    CHECK_THAT(r.out, Catch::Contains(p.server));
    r = run(m, {"pin", p.profile, "--print", "--var", "WORKSPACE=" + p.ws.path(), "--", "/usr/bin/node", p.server, p.marker}, o);
    CHECK(r.status == 0);
    CHECK(slurp(p.profile) == before);
    CHECK_FALSE(fs::exists(p.marker));  // pin never runs the server
  }
}
