// `mcp-jail wrap` with the configuration's place known: the catalog's
// servers and servers it does not know get profiles of their own, written
// beside the configuration (or below the user's configuration directory),
// least privilege, never where a server may write, and never rewritten over
// a user's edit. Library level (wrap_config); each written profile is loaded.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mcpjail/frontends/wrap.hpp"
#include "mcpjail/profile.hpp"
#include "../support/scratch.hpp"
#include "wrap_files.hpp"
#include "../../frontends/wrap/catalog.hpp"

namespace fs = std::filesystem;
using mcpjail::GeneratedProfile;
using mcpjail::WrapAction;
using mcpjail::WrapOptions;
using mcpjail::WrapResult;

namespace {

using wrap_files::write_text;

WrapOptions options(const support::ScratchDir& d, const std::string& config = "/cfg/mcp.json") {
  WrapOptions o;
  o.jail_path = "/usr/local/bin/mcp-jail";
  o.home = d.p() + "/home";
  o.config_path = d.p() + config;
  o.env_file_dir = fs::path(o.config_path).parent_path().string();
  o.config_home = d.p() + "/home/.config";
  fs::create_directories(o.home);
  fs::create_directories(o.env_file_dir);
  return o;
}

const mcpjail::ServerReport& report(const WrapResult& r, const std::string& name) {
  for (const auto& s : r.servers)
    if (s.name == name) return s;
  FAIL("no report for " << name);
  throw 0;
}

const GeneratedProfile& profile_of(const WrapResult& r, const std::string& server) {
  for (const auto& g : r.profiles)
    if (g.server == server) return g;
  FAIL("no profile for " << server);
  throw 0;
}

mcpjail::Profile load(const GeneratedProfile& g, std::map<std::string, std::string> vars = {}) {
  mcpjail::LoadOptions lo;
  lo.home = "/home/alice";
  lo.pwd = "/";
  lo.vars = std::move(vars);
  return mcpjail::load_profile_text(g.text, g.path, fs::path(g.path).parent_path().string(), lo);
}

std::string entry(const std::string& command, const std::string& args, const std::string& env = "{}") {
  return R"({"command": ")" + command + R"(", "args": )" + args + R"(, "env": )" + env + "}";
}

std::string config(const std::vector<std::pair<std::string, std::string>>& servers) {
  std::string s = "{\"mcpServers\": {";
  for (std::size_t i = 0; i < servers.size(); ++i)
    s += (i ? ", \"" : "\"") + servers[i].first + "\": " + servers[i].second;
  return s + "}}\n";
}

}  // namespace

TEST_CASE("the catalog: each form of a package finds its row, as a whole word", "[lib]") {
  using mcpjail::wrap::catalog_match;
  auto id = [](std::vector<std::string> tokens) -> std::string {
    auto m = catalog_match(tokens);
    return m ? m->entry->id : "";
  };
  CHECK(id({"npx", "-y", "@modelcontextprotocol/server-github@2025.4.8"}) == "github");
  CHECK(id({"node", "/x/node_modules/@modelcontextprotocol/server-sequential-thinking/dist/index.js"}) ==
        "sequential-thinking");
  CHECK(id({"/home/a/.local/share/pipx/venvs/mcp-server-time/bin/mcp-server-time"}) == "time");
  CHECK(id({"/p/.venv/bin/python", "-m", "mcp_server_sqlite", "--db-path", "/d/x.db"}) == "sqlite");
  CHECK(id({"uvx", "mcp-server-git==0.6", "--repository", "/r"}) == "git");
  CHECK(id({"/usr/local/bin/github-mcp-server", "stdio"}) == "github");
  CHECK(id({"npx", "-y", "@modelcontextprotocol/server-filesystem", "/w"}) == "filesystem");
  // Not a word of its own: mcp-server-github is not mcp-server-git.
  CHECK(id({"uvx", "mcp-server-github-extra"}).empty());
  CHECK(id({"node", "my-mcp-server-time.js"}).empty());
  // Every row: a reason, and a profile or needs that stand alone.
  for (const auto& row : mcpjail::wrap::catalog()) {
    INFO(row.id);
    CHECK(*row.reason);
    CHECK(!row.packages.empty());
    for (const char* n : row.network) CHECK(std::string(n).find(':') != std::string::npos);
  }
}

TEST_CASE("a catalog server needing the network gets a profile with its allowlist and its variables", "[lib]") {
  support::ScratchDir d("wrap-catalog");
  const WrapOptions o = options(d);
  const std::string cfg = config({{"github", entry("npx", R"(["-y", "@modelcontextprotocol/server-github"])",
                                                   R"({"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secret"})")}});
  const WrapResult r = mcpjail::wrap_config(cfg, o);
  const auto& s = report(r, "github");
  REQUIRE(s.action == WrapAction::Wrapped);
  const auto& g = profile_of(r, "github");
  CHECK(g.state == GeneratedProfile::State::New);
  CHECK(g.path == d.p() + "/cfg/mcp.mcp-jail/github.toml");
  CHECK(s.profile == g.path);
  CHECK(s.jail_args == std::vector<std::string>{"--env", "GITHUB_PERSONAL_ACCESS_TOKEN"});
  const mcpjail::Profile p = load(g);
  CHECK(p.network.mode == mcpjail::NetMode::Allowlist);
  CHECK(p.network.allow == std::vector<std::string>{"api.github.com:443"});
  CHECK(p.filesystem.write.empty());
  CHECK(std::find(p.env.pass.begin(), p.env.pass.end(), "GITHUB_PERSONAL_ACCESS_TOKEN") != p.env.pass.end());
  // Its own state directory (npx's cache): named after the entry and the configuration.
  CHECK(p.name.starts_with("github-"));
  CHECK(g.text.find("ghp_secret") == std::string::npos);
  CHECK(r.text.find("ghp_secret") != std::string::npos);  // the env block stays as it is
  CHECK(s.note.find("npx runs offline") != std::string::npos);
}

TEST_CASE("an unknown server: its directory arguments and data paths of env, nothing else", "[lib]") {
  support::ScratchDir d("wrap-catalog");
  const WrapOptions o = options(d);
  fs::create_directories(d.p() + "/data");
  fs::create_directories(d.p() + "/store");
  fs::create_directories(d.p() + "/certs");
  write_text(d.p() + "/certs/ca.pem", "x");
  write_text(d.p() + "/server.py", "x");
  const std::string env = R"({"NOTES_DATA_FILE": ")" + d.p() + R"(/store/notes.json", "CA_FILE": ")" + d.p() +
                          R"(/certs/ca.pem", "API_TOKEN": "s3cret", "HOME_DIR": ")" + d.p() + R"(/home"})";
  const std::string cfg = config({{"notes", entry("/usr/bin/python3", R"([")" + d.p() + R"(/server.py", ")" + d.p() +
                                                                          R"(/data", "--root=/", "~"])",
                                                  env)}});
  const WrapResult r = mcpjail::wrap_config(cfg, o);
  const auto& s = report(r, "notes");
  REQUIRE(s.action == WrapAction::Wrapped);
  const auto& g = profile_of(r, "notes");
  const mcpjail::Profile p = load(g);
  CHECK(p.network.mode == mcpjail::NetMode::None);
  std::vector<std::string> writes, reads;
  for (const auto& w : p.filesystem.write) writes.push_back(w.path);
  for (const auto& w : p.filesystem.read) reads.push_back(w.path);
  CHECK(writes == std::vector<std::string>{d.p() + "/data", d.p() + "/store"});
  CHECK(std::find(reads.begin(), reads.end(), d.p() + "/certs/ca.pem") != reads.end());
  CHECK(std::find(reads.begin(), reads.end(), d.p() + "/server.py") == reads.end());  // the script: run binds it
  // A host variable for the home directory: never either.
  const WrapResult rh = mcpjail::wrap_config(
      config({{"h", entry("/usr/bin/python3", R"(["-m", "h", "${userHome}", "${workspaceFolder}/data"])")}}), o);
  const auto& gh = profile_of(rh, "h");
  CHECK(report(rh, "h").jail_args == std::vector<std::string>{"--var", "DIR_1=${workspaceFolder}/data"});
  CHECK(report(rh, "h").note.find("not made visible: ${userHome}") != std::string::npos);
  const mcpjail::Profile ph = load(gh, {{"DIR_1", "/w/data"}});
  REQUIRE(ph.filesystem.write.size() == 1);
  CHECK(ph.filesystem.write[0].path == "/w/data");
  // /, and the home directory: never.
  CHECK(s.note.find("not made visible: /, " + d.p() + "/home") != std::string::npos);
  CHECK(s.jail_args ==
        std::vector<std::string>{"--env", "NOTES_DATA_FILE", "--env", "CA_FILE", "--env", "API_TOKEN", "--env", "HOME_DIR"});
  CHECK(s.note.find("mcp-jail learn -o " + g.path) != std::string::npos);
  CHECK(g.text.find("s3cret") == std::string::npos);
  CHECK(g.text.find("mcp-jail learn") != std::string::npos);
}

TEST_CASE("a written profile is never inside a directory a server of the configuration may write", "[lib]") {
  support::ScratchDir d("wrap-catalog");
  // The configuration in the filesystem server's workspace (.vscode/mcp.json).
  const WrapOptions o = options(d, "/ws/.vscode/mcp.json");
  const std::string cfg = config({{"files", entry("npx", R"(["-y", "@modelcontextprotocol/server-filesystem", ")" + d.p() +
                                                             R"(/ws"])")},
                                  {"think", entry("npx", R"(["-y", "@modelcontextprotocol/server-sequential-thinking"])")}});
  const WrapResult r = mcpjail::wrap_config(cfg, o);
  const auto& g = profile_of(r, "think");
  CHECK(g.path.starts_with(o.config_home + "/mcp-jail/wrap/mcp-"));
  CHECK(!g.path.starts_with(d.p() + "/ws/"));
  CHECK(load(g).filesystem.write.empty());

  // A host variable could name any directory: not beside the configuration either.
  const WrapOptions o2 = options(d, "/cfg2/mcp.json");
  const std::string cfg2 = config(
      {{"files", entry("npx", R"(["-y", "@modelcontextprotocol/server-filesystem", "${workspaceFolder}"])")},
       {"think", entry("npx", R"(["-y", "@modelcontextprotocol/server-sequential-thinking"])")}});
  CHECK(profile_of(mcpjail::wrap_config(cfg2, o2), "think").path.starts_with(o2.config_home + "/"));

  // Both places writable (the home directory is a workspace): not wrapped, and why.
  WrapOptions o3 = options(d, "/home/.config/Claude/claude_desktop_config.json");
  const std::string cfg3 = config({{"files", entry("npx", R"(["-y", "@modelcontextprotocol/server-filesystem", ")" + d.p() +
                                                              R"(/home"])")},
                                   {"think", entry("npx", R"(["-y", "@modelcontextprotocol/server-sequential-thinking"])")}});
  const WrapResult r3 = mcpjail::wrap_config(cfg3, o3);
  CHECK(report(r3, "think").action == WrapAction::Skipped);
  CHECK(report(r3, "think").note.find("no place for its profile") != std::string::npos);
  CHECK(r3.profiles.empty());

  // A server wrapped before, whose workspace holds the configuration: the same.
  const WrapOptions o5 = options(d, "/ws5/mcp.json");
  const std::string cfg5 = config(
      {{"files", R"({"command": "/usr/local/bin/mcp-jail", "args": ["run", "filesystem", "--var", "WORKSPACE=)" + d.p() +
                     R"(/ws5", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", ")" + d.p() + R"(/ws5"]})"},
       {"think", entry("npx", R"(["-y", "@modelcontextprotocol/server-sequential-thinking"])")}});
  const WrapResult r5 = mcpjail::wrap_config(cfg5, o5);
  CHECK(report(r5, "files").action == WrapAction::AlreadyWrapped);
  CHECK(profile_of(r5, "think").path.starts_with(o5.config_home + "/"));

  // A profile given with --profile SERVER=FILE that writes the configuration's directory: the same.
  WrapOptions o6 = options(d, "/cfg6/mcp.json");
  write_text(d.p() + "/wide.toml", "version = 1\nname = \"wide\"\nextends = \"base\"\n[filesystem]\nwrite = [\"" + d.p() +
                                   "/cfg6\"]\n");
  o6.server_profiles = {{"mine", d.p() + "/wide.toml"}};
  const WrapResult r6 = mcpjail::wrap_config(
      config({{"mine", entry("/usr/bin/python3", R"(["-m", "mine"])")},
              {"think", entry("npx", R"(["-y", "@modelcontextprotocol/server-sequential-thinking"])")}}),
      o6);
  CHECK(report(r6, "mine").profile == d.p() + "/wide.toml");
  CHECK(profile_of(r6, "think").path.starts_with(o6.config_home + "/"));

  // An unknown server's own directory argument holding the configuration: the same.
  const WrapOptions o4 = options(d, "/data4/mcp.json");
  const WrapResult r4 =
      mcpjail::wrap_config(config({{"mine", entry("/usr/bin/python3", R"(["-m", "mine", ")" + d.p() + R"(/data4"])")}}), o4);
  CHECK(profile_of(r4, "mine").path.starts_with(o4.config_home + "/"));
}

TEST_CASE("wrap writes a profile once: unchanged, rewritten when unedited, kept when edited", "[lib]") {
  support::ScratchDir d("wrap-catalog");
  WrapOptions o = options(d);
  fs::create_directories(d.p() + "/db");
  auto cfg = [&](const std::string& db) {
    return config({{"sqlite", entry("uvx", R"(["mcp-server-sqlite", "--db-path", ")" + d.p() + db + R"("])")}});
  };
  WrapResult r = mcpjail::wrap_config(cfg("/db/a.sqlite"), o);
  GeneratedProfile g = profile_of(r, "sqlite");
  CHECK(g.state == GeneratedProfile::State::New);
  std::vector<std::string> writes;
  for (const auto& w : load(g).filesystem.write) writes.push_back(w.path);
  CHECK(writes == std::vector<std::string>{d.p() + "/db"});
  fs::create_directories(fs::path(g.path).parent_path());
  write_text(g.path, g.text);

  r = mcpjail::wrap_config(cfg("/db/a.sqlite"), o);
  CHECK(profile_of(r, "sqlite").state == GeneratedProfile::State::Unchanged);

  // The entry changed, the profile is wrap's own: rewritten.
  fs::create_directories(d.p() + "/db2");
  r = mcpjail::wrap_config(cfg("/db2/a.sqlite"), o);
  CHECK(profile_of(r, "sqlite").state == GeneratedProfile::State::Update);

  // Edited by the user: kept, and said so.
  write_text(g.path, g.text + "# mine\n");
  r = mcpjail::wrap_config(cfg("/db2/a.sqlite"), o);
  CHECK(profile_of(r, "sqlite").state == GeneratedProfile::State::Kept);
  CHECK(report(r, "sqlite").note.find("kept as it is") != std::string::npos);
  CHECK(report(r, "sqlite").note.find("does not load") == std::string::npos);
  CHECK(report(r, "sqlite").profile == g.path);
  // Edited so that it no longer loads: kept, and that said too.
  write_text(g.path, g.text + "bogus = 1\n");
  r = mcpjail::wrap_config(cfg("/db2/a.sqlite"), o);
  CHECK(profile_of(r, "sqlite").state == GeneratedProfile::State::Kept);
  CHECK(report(r, "sqlite").note.find("does not load as it is") != std::string::npos);

  // Cut short after wrap's first words: kept, read without a fault.
  write_text(g.path, "# mcp-jail wrap: sha256 abc");
  r = mcpjail::wrap_config(cfg("/db2/a.sqlite"), o);
  CHECK(profile_of(r, "sqlite").state == GeneratedProfile::State::Kept);
  write_text(g.path, "# mcp-jail wrap: sha256 " + std::string(64, '0') + "\n");
  r = mcpjail::wrap_config(cfg("/db2/a.sqlite"), o);
  CHECK(profile_of(r, "sqlite").state == GeneratedProfile::State::Kept);

  // Not a regular file: not wrapped.
  fs::remove(g.path);
  fs::create_symlink("/etc/passwd", g.path);
  r = mcpjail::wrap_config(cfg("/db/a.sqlite"), o);
  CHECK(report(r, "sqlite").action == WrapAction::Skipped);
  CHECK(r.profiles.empty());
}

TEST_CASE("git: the built-in profile's ${REPO} from --repository, or a profile of its own", "[lib]") {
  support::ScratchDir d("wrap-catalog");
  const WrapOptions o = options(d);
  fs::create_directories(d.p() + "/repo");
  const std::string cfg = config(
      {{"git", entry(d.p() + "/venv/bin/mcp-server-git", R"(["--repository", ")" + d.p() + R"(/repo"])")}});
  const WrapResult r = mcpjail::wrap_config(cfg, o);
  const auto& s = report(r, "git");
  REQUIRE(s.action == WrapAction::Wrapped);
  bool builtin = false;
  for (const auto& b : mcpjail::builtin_profiles()) builtin = builtin || std::string(b.name) == "git";
  if (builtin) {
    CHECK(s.profile == "git");
    CHECK(s.jail_args == std::vector<std::string>{"--var", "REPO=" + d.p() + "/repo"});
  } else {
    const auto& g = profile_of(r, "git");
    std::vector<std::string> writes;
    for (const auto& w : load(g).filesystem.write) writes.push_back(w.path);
    CHECK(writes == std::vector<std::string>{d.p() + "/repo"});
    CHECK(load(g).network.mode == mcpjail::NetMode::None);
  }
}

TEST_CASE("without the configuration's place, servers without a built-in profile get base", "[lib]") {
  support::ScratchDir d("wrap-catalog");
  WrapOptions o = options(d);
  o.config_path.clear();
  const WrapResult r = mcpjail::wrap_config(
      config({{"think", entry("npx", R"(["-y", "@modelcontextprotocol/server-sequential-thinking"])")}}), o);
  CHECK(report(r, "think").profile == "base");
  CHECK(r.profiles.empty());
}
