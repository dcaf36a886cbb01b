// `mcp-jail wrap`: the rewrite itself (wrap_config, pure) and the command
// through the real binary (backup, atomic replace, --dry-run, errors).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mcpjail/profile.hpp"
#include "mcpjail/frontends/wrap.hpp"
#include "../support/scratch.hpp"
#include "wrap_files.hpp"

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using mcpjail::WrapAction;
using mcpjail::WrapError;
using mcpjail::WrapOptions;
using mcpjail::WrapResult;

namespace {

using wrap_files::kFixtures;
using wrap_files::read_text;
using wrap_files::wrap_opts;
using wrap_files::write_text;

const std::string kJail = wrap_opts().jail_path;

// JSONC -> JSON, written independently of wrap.cc: drop comments, then
// trailing commas.
ordered_json parse_jsonc(const std::string& text) {
  std::string s;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') {
      const std::size_t start = i++;
      while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
      s += text.substr(start, i - start + 1);
    } else if (text.compare(i, 2, "//") == 0) {
      while (i < text.size() && text[i] != '\n') ++i;
      s += '\n';
    } else if (text.compare(i, 2, "/*") == 0) {
      i = text.find("*/", i) + 1;
    } else {
      s += text[i];
    }
  }
  std::string t;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') {
      const std::size_t start = i++;
      while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
      t += s.substr(start, i - start + 1);
      continue;
    }
    if (s[i] == ',') {
      std::size_t j = i + 1;
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j < s.size() && (s[j] == '}' || s[j] == ']')) continue;
    }
    t += s[i];
  }
  return ordered_json::parse(t);
}

bool builtin(const std::string& name) {
  for (const auto& b : mcpjail::builtin_profiles())
    if (name == b.name) return true;
  return false;
}

// Where the servers of a configuration are; nullptr entries are absent.
std::vector<std::pair<std::string, const ordered_json*>> sections(const ordered_json& doc) {
  std::vector<std::pair<std::string, const ordered_json*>> out;
  if (doc.contains("mcpServers")) out.emplace_back("mcpServers", &doc["mcpServers"]);
  if (doc.contains("servers")) out.emplace_back("servers", &doc["servers"]);
  if (doc.contains("mcp") && doc["mcp"].contains("servers")) out.emplace_back("mcp.servers", &doc["mcp"]["servers"]);
  return out;
}

ordered_json* section_in(ordered_json& doc, const std::string& name) {
  if (name == "mcp.servers") return &doc["mcp"]["servers"];
  return &doc[name];
}

const mcpjail::ServerReport& report_for(const WrapResult& r, const std::string& section, const std::string& name) {
  for (const auto& s : r.servers)
    if (s.section == section && s.name == name) return s;
  FAIL("no report for " << section << "." << name);
  throw;
}

// The rewritten document equals the original with, for each wrapped server,
// "command" and "args" replaced (args inserted right after command when it was
// missing) and nothing else changed - key order included.
void check_round_trip(const std::string& original, const WrapResult& r, const std::string& jail) {
  const ordered_json before = parse_jsonc(original);
  const ordered_json after = parse_jsonc(r.text);  // still parses
  ordered_json expected = before;
  for (const auto& [sec, servers] : sections(before)) {
    for (const auto& [name, entry] : servers->items()) {
      const auto& rep = report_for(r, sec, name);
      if (rep.action != WrapAction::Wrapped) continue;
      ordered_json args = ordered_json::array({"run", rep.profile});
      for (const auto& a : rep.jail_args) args.push_back(a);
      args.push_back("--");
      args.push_back(entry["command"]);
      for (const auto& a : entry.value("args", ordered_json::array())) args.push_back(a);
      ordered_json rebuilt = ordered_json::object();
      for (const auto& [k, v] : entry.items()) {
        if (k == "command") {
          rebuilt["command"] = jail;
          if (!entry.contains("args")) rebuilt["args"] = args;
        } else if (k == "args") {
          rebuilt["args"] = args;
        } else {
          rebuilt[k] = v;
        }
      }
      (*section_in(expected, sec))[name] = rebuilt;
    }
  }
  CHECK(after == expected);
}

struct Expect {
  WrapAction action;
  std::string reference = {};                  // reference server NAME: profile NAME if built in, else base
  std::vector<std::string> jail_args = {};     // between "run PROFILE" and "--"
};

void check_reports(const WrapResult& r, const std::map<std::string, Expect>& want) {
  CHECK(r.servers.size() == want.size());
  for (const auto& s : r.servers) {
    INFO(s.section << "." << s.name << ": " << s.note);
    const auto it = want.find(s.name);
    REQUIRE(it != want.end());
    CHECK(s.action == it->second.action);
    if (s.action != WrapAction::Wrapped) continue;
    const std::string& ref = it->second.reference;
    const std::string profile = !ref.empty() && builtin(ref) ? ref : "base";
    // A profile that needs a variable wrap cannot tell falls back to base, and says so.
    if (s.profile == "base" && profile != "base") {
      CHECK(s.note.find("using base") != std::string::npos);
    } else {
      CHECK(s.profile == profile);
    }
    CHECK(s.jail_args == it->second.jail_args);
  }
}

const std::map<std::string, std::map<std::string, Expect>> kFixtureExpect = {
    {"claude_desktop_config.json",
     {{"filesystem",
       {WrapAction::Wrapped, "filesystem",
        {"--var", "WORKSPACE=/home/alice/Desktop", "--write", "/home/alice/Downloads"}}},
      {"notes", {WrapAction::Wrapped, "", {"--env", "NOTES_DIR", "--env", "LOG_LEVEL"}}},
      {"fetch", {WrapAction::Wrapped, "fetch"}},
      {"github", {WrapAction::Wrapped, "github", {"--env", "GITHUB_PERSONAL_ACCESS_TOKEN"}}},
      {"memory", {WrapAction::Wrapped, "memory", {}}},  // the profile sets MEMORY_FILE_PATH itself
      {"sqlite", {WrapAction::Skipped}},
      {"linear", {WrapAction::NotStdio}}}},
    {"cursor_mcp.json",
     {{"project-files",
       {WrapAction::Wrapped, "filesystem",
        {"--var", "WORKSPACE=/home/alice/projects/webapp", "--write", "/home/alice/shared/design"}}},
      {"postgres", {WrapAction::Wrapped, "postgres"}},
      {"time", {WrapAction::Wrapped, "time"}},
      {"internal-tools", {WrapAction::Wrapped, "", {"--env", "API_BASE_URL", "--env", "NODE_ENV"}}},
      {"everything", {WrapAction::Wrapped, "everything"}},
      {"sentry", {WrapAction::NotStdio}},
      {"context7", {WrapAction::NotStdio}}}},
    {"vscode_mcp.json",
     {{"filesystem", {WrapAction::Wrapped, "filesystem", {"--var", "WORKSPACE=${workspaceFolder}"}}},
      {"perplexity", {WrapAction::Wrapped, "", {"--env", "PERPLEXITY_API_KEY"}}},
      {"git", {WrapAction::Wrapped, "git", {"--var", "REPO=${workspaceFolder}"}}},
      {"local-tools", {WrapAction::Wrapped}},
      {"github", {WrapAction::NotStdio}},
      {"legacy-sse", {WrapAction::NotStdio}}}},
    {"vscode_settings.json",
     {{"workspace-fs", {WrapAction::Wrapped, "filesystem", {"--var", "WORKSPACE=/home/alice/work"}}},
      {"fetch", {WrapAction::Wrapped, "fetch"}},
      {"sequential-thinking", {WrapAction::Wrapped, "sequential-thinking"}},
      {"my-server", {WrapAction::Wrapped, "", {"--env", "MY_SERVER_DEBUG"}}},
      {"weather", {WrapAction::Wrapped}},
      {"remote-docs", {WrapAction::NotStdio}}}},
};

WrapError wrap_error(const std::string& text, const WrapOptions& o = wrap_opts()) {
  try {
    mcpjail::wrap_config(text, o);
  } catch (const WrapError& e) {
    return e;
  }
  FAIL("no WrapError for: " << text);
  throw;
}

mcpjail::ServerReport only(const WrapResult& r) {
  REQUIRE(r.servers.size() == 1);
  return r.servers[0];
}

}  // namespace

// ---------------------------------------------------------------- library

TEST_CASE("each fixture: stdio servers go through mcp-jail, the rest is kept", "[lib]") {
  for (const auto& [file, want] : kFixtureExpect) {
    SECTION(file) {
      const std::string original = read_text(kFixtures + file);
      const WrapResult r = mcpjail::wrap_config(original, wrap_opts());
      CHECK(r.changed);
      check_reports(r, want);
      check_round_trip(original, r, kJail);
    }
  }
}

TEST_CASE("wrapping twice changes nothing", "[lib]") {
  for (const auto& [file, want] : kFixtureExpect) {
    SECTION(file) {
      const WrapResult once = mcpjail::wrap_config(read_text(kFixtures + file), wrap_opts());
      const WrapResult twice = mcpjail::wrap_config(once.text, wrap_opts());
      CHECK_FALSE(twice.changed);
      CHECK(twice.text == once.text);
      for (std::size_t i = 0; i < once.servers.size(); ++i) {
        INFO(once.servers[i].name);
        if (once.servers[i].action == WrapAction::Wrapped)
          CHECK(twice.servers[i].action == WrapAction::AlreadyWrapped);
        else
          CHECK(twice.servers[i].action == once.servers[i].action);
      }
      // Another mcp-jail binary counts as wrapped too.
      WrapOptions other = wrap_opts();
      other.jail_path = "/opt/mcp-jail/bin/mcp-jail";
      CHECK_FALSE(mcpjail::wrap_config(once.text, other).changed);
    }
  }
}

TEST_CASE("only command and args lines change, comments and layout stay", "[lib]") {
  for (const auto& [file, want] : kFixtureExpect) {
    SECTION(file) {
      const std::string original = read_text(kFixtures + file);
      const WrapResult r = mcpjail::wrap_config(original, wrap_opts());
      const std::string diff = mcpjail::unified_diff(original, r.text, "a", "b");
      std::istringstream in(diff);
      std::string line;
      int removed = 0;
      while (std::getline(in, line)) {
        if (line.starts_with("---") || line.starts_with("+++") || line.starts_with("@@")) continue;
        INFO(line);
        if (line.starts_with("-")) {
          ++removed;
          CHECK((line.find("\"command\":") != std::string::npos || line.find("\"args\":") != std::string::npos));
        } else if (line.starts_with("+")) {
          const bool command_or_args =
              line.find("\"command\": \"" + kJail + "\"") != std::string::npos || line.find("\"args\": [") != std::string::npos;
          // an element of a multi-line args array
          const bool element = line.find_first_not_of(' ', 1) != std::string::npos &&
                               line[line.find_first_not_of(' ', 1)] == '"' && line.find("\": ") == std::string::npos;
          CHECK((command_or_args || element));
        }
      }
      CHECK(removed > 0);
    }
  }
  SECTION("multi-line args keep their layout, inline args stay inline") {
    const WrapResult r = mcpjail::wrap_config(read_text(kFixtures + "claude_desktop_config.json"), wrap_opts());
    CHECK(r.text.find("      \"args\": [\n        \"run\",\n        \"filesystem\",\n        \"--var\",\n") !=
          std::string::npos);
    CHECK(r.text.find("\"args\": [\"run\", \"base\", \"--env\", \"NOTES_DIR\", \"--env\", \"LOG_LEVEL\", \"--\", \"node\", "
                      "\"/home/alice/src/notes-mcp/dist/index.js\", \"--stdio\"],\n") != std::string::npos);
  }
  SECTION("comments and trailing commas of JSONC survive") {
    const std::string original = read_text(kFixtures + "vscode_mcp.json");
    const WrapResult r = mcpjail::wrap_config(original, wrap_opts());
    for (const char* kept : {"  // MCP servers for this workspace (.vscode/mcp.json).\n",
                             "    /* Web search through Perplexity; the key is asked for once. */\n",
                             "\"url\": \"http://localhost:3001/sse\", // started by `npm run mcp`\n    },\n  }\n}\n"})
      CHECK(r.text.find(kept) != std::string::npos);
  }
}

TEST_CASE("entries that are left alone", "[lib]") {
  auto one = [](const std::string& entry) {
    return mcpjail::wrap_config("{\"mcpServers\": {\"s\": " + entry + "}}", wrap_opts());
  };
  struct Case {
    const char* entry;
    WrapAction action;
  };
  for (const Case& c : {
           Case{R"({"type": "sse", "url": "http://localhost:3001/sse"})", WrapAction::NotStdio},
           Case{R"({"type": "http", "url": "https://example.com/mcp"})", WrapAction::NotStdio},
           Case{R"({"type": "streamable-http", "url": "https://example.com/mcp"})", WrapAction::NotStdio},
           Case{R"({"url": "https://example.com/mcp"})", WrapAction::NotStdio},
           Case{R"({"serverUrl": "https://example.com/sse"})", WrapAction::NotStdio},
           Case{R"({"transportType": "sse", "url": "https://example.com/sse"})", WrapAction::NotStdio},
           Case{R"({"command": "/usr/bin/mcp-jail", "args": ["run", "base", "--", "node", "x.js"]})",
                WrapAction::AlreadyWrapped},
           Case{R"({"command": "mcp-jail", "args": ["run", "filesystem", "--var", "WORKSPACE=/w", "--", "npx"]})",
                WrapAction::AlreadyWrapped},
           Case{R"({"command": "mcp-jail", "args": ["check", "base"]})", WrapAction::Skipped},
           Case{R"({"command": "docker", "args": ["run", "-i", "--rm", "mcp/fetch"]})", WrapAction::Skipped},
           Case{R"({"command": "/usr/bin/podman", "args": ["run", "-i", "mcp/time"]})", WrapAction::Skipped},
           Case{R"({"args": ["x"]})", WrapAction::Skipped},
           Case{R"({"command": ""})", WrapAction::Skipped},
           Case{R"({"command": ["npx", "x"]})", WrapAction::Skipped},
           Case{R"({"command": "npx", "args": "-y x"})", WrapAction::Skipped},
           Case{R"({"command": "npx", "args": ["-y", 3]})", WrapAction::Skipped},
           Case{R"({"type": 1, "command": "npx"})", WrapAction::Skipped},
           Case{R"("npx -y x")", WrapAction::Skipped},
           Case{R"(null)", WrapAction::Skipped},
       }) {
    INFO(c.entry);
    const WrapResult r = one(c.entry);
    CHECK(only(r).action == c.action);
    CHECK_FALSE(r.changed);
    CHECK_FALSE(only(r).note.empty());
  }
  SECTION("type stdio, transportType stdio and a plain command are stdio") {
    CHECK(only(one(R"({"type": "stdio", "command": "node", "args": ["s.js"]})")).action == WrapAction::Wrapped);
    CHECK(only(one(R"({"transportType": "stdio", "command": "node"})")).action == WrapAction::Wrapped);
    CHECK(only(one(R"({"command": "node", "url": "ignored-for-stdio", "type": "stdio"})")).action == WrapAction::Wrapped);
  }
}

TEST_CASE("a missing args is inserted after command", "[lib]") {
  CHECK(mcpjail::wrap_config(R"({"mcpServers":{"w":{"command":"/opt/w","env":{}}}})", wrap_opts()).text ==
        R"({"mcpServers":{"w":{"command":"/usr/local/bin/mcp-jail", "args": ["run", "base", "--", "/opt/w"],"env":{}}}})");
  CHECK(mcpjail::wrap_config("{\n  \"servers\": {\n    \"w\": {\n      \"command\": \"w\"\n    }\n  }\n}\n", wrap_opts()).text ==
        "{\n  \"servers\": {\n    \"w\": {\n      \"command\": \"/usr/local/bin/mcp-jail\",\n"
        "      \"args\": [\"run\", \"base\", \"--\", \"w\"]\n    }\n  }\n}\n");
  CHECK(mcpjail::wrap_config("{\"servers\": {\"w\": {\"command\": \"w\", \"args\": []}}}", wrap_opts()).text ==
        "{\"servers\": {\"w\": {\"command\": \"/usr/local/bin/mcp-jail\", \"args\": [\"run\", \"base\", \"--\", \"w\"]}}}");
}

TEST_CASE("profile matching", "[lib]") {
  auto wrap_args = [](const std::string& args_json, const std::string& extra = {}, const WrapOptions& o = wrap_opts()) {
    return mcpjail::wrap_config(
        R"({"mcpServers": {"s": {"command": "npx", "args": )" + args_json + extra + "}}}", o);
  };
  SECTION("the filesystem server, however it is started") {
    for (const char* args : {
             R"(["-y", "@modelcontextprotocol/server-filesystem", "/srv/data"])",
             R"(["-y", "@modelcontextprotocol/server-filesystem@2025.7.1", "/srv/data"])",
             R"(["/x/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js", "/srv/data"])",
             R"(["-y", "--package=@modelcontextprotocol/server-filesystem", "mcp-server-filesystem", "/srv/data"])",
         }) {
      INFO(args);
      const auto& s = only(wrap_args(args));
      CHECK(s.profile == "filesystem");
      CHECK(s.jail_args == std::vector<std::string>{"--var", "WORKSPACE=/srv/data"});
    }
  }
  SECTION("look-alike packages are not the filesystem server") {
    for (const char* args : {
             R"(["-y", "@modelcontextprotocol/server-filesystem-extra", "/srv/data"])",
             R"(["-y", "@acme/server-filesystem", "/srv/data"])",
             R"(["-y", "my-mcp-server-filesystem2", "/srv/data"])",
         }) {
      INFO(args);
      CHECK(only(wrap_args(args)).profile == "base");
    }
  }
  SECTION("directory arguments: ~, relative to cwd, host variables, options skipped, duplicates once") {
    CHECK(only(wrap_args(R"(["@modelcontextprotocol/server-filesystem", "~/docs", "~"])")).jail_args ==
          std::vector<std::string>{"--var", "WORKSPACE=/home/alice/docs", "--write", "/home/alice"});
    CHECK(only(wrap_args(R"(["@modelcontextprotocol/server-filesystem", ".", "../shared/"])", R"(, "cwd": "/w/app")"))
              .jail_args == std::vector<std::string>{"--var", "WORKSPACE=/w/app", "--write", "/w/shared"});
    CHECK(only(wrap_args(R"(["@modelcontextprotocol/server-filesystem", "${userHome}/notes"])")).jail_args ==
          std::vector<std::string>{"--var", "WORKSPACE=${userHome}/notes"});
    CHECK(only(wrap_args(R"(["@modelcontextprotocol/server-filesystem", "--verbose", "/a", "/b", "/a"])")).jail_args ==
          std::vector<std::string>{"--var", "WORKSPACE=/a", "--write", "/b"});
    CHECK(only(wrap_args(R"(["--package=@modelcontextprotocol/server-filesystem", "mcp-server-filesystem", "."])",
                         R"(, "cwd": "/w")"))
              .jail_args == std::vector<std::string>{"--var", "WORKSPACE=/w"});
  }
  SECTION("no usable directory: base, and the report says why") {
    const auto& roots_only = only(wrap_args(R"(["-y", "@modelcontextprotocol/server-filesystem"])"));
    CHECK(roots_only.action == WrapAction::Wrapped);
    CHECK(roots_only.profile == "base");
    CHECK(roots_only.note.find("WORKSPACE") != std::string::npos);
    const auto& relative = only(wrap_args(R"(["@modelcontextprotocol/server-filesystem", "data"])"));
    CHECK(relative.profile == "base");
    CHECK(relative.note.find("\"data\" is relative") != std::string::npos);
    const auto& no_home = only(wrap_args(R"(["@modelcontextprotocol/server-filesystem", "~/x"])", "", wrap_opts("", "")));
    CHECK(no_home.profile == "base");
  }
  SECTION("the reference servers map onto built-in profiles of the same name, when there are any") {
    for (const auto& [args, name] : std::vector<std::pair<std::string, std::string>>{
             {R"(["-y", "@modelcontextprotocol/server-memory"])", "memory"},
             {R"(["-y", "@modelcontextprotocol/server-everything@latest"])", "everything"},
             {R"(["mcp-server-fetch"])", "fetch"},
             {R"(["--from", "mcp-server-fetch==2025.1.14", "mcp-server-fetch"])", "fetch"},
             {R"(["-m", "mcp_server_fetch"])", "fetch"},
             {R"(["-y", "mcp-fetch-server@1.1.2"])", "fetch"},
             {R"(["/opt/mcp/node_modules/mcp-fetch-server/dist/index.js"])", "fetch"},
             {R"(["-y", "@modelcontextprotocol/server-sequential-thinking"])", "sequential-thinking"},
             {R"(["-y", "some-other-server"])", ""},
         }) {
      INFO(args);
      const auto& s = only(wrap_args(args));
      if (!name.empty() && builtin(name) && s.note.find("using base") == std::string::npos)
        CHECK(s.profile == name);
      else
        CHECK(s.profile == "base");
    }
  }
  SECTION("mcp-server-git: profile git, REPO from --repository or -r, else an absolute cwd") {
    for (const auto& [command, args, cwd, repo] : std::vector<std::array<std::string, 4>>{
             {"uvx", R"(["mcp-server-git", "--repository", "/src/app"])", "", "/src/app"},
             {"uvx", R"(["mcp-server-git==0.6.2", "--repository=~/src/app"])", "", "/home/alice/src/app"},
             {"python3", R"(["-m", "mcp_server_git", "-r", "/src/app"])", "", "/src/app"},
             {"/opt/venv/bin/mcp-server-git", R"(["-r", "app"])", R"(, "cwd": "/src")", "/src/app"},
             {"/opt/venv/bin/mcp-server-git", "[]", R"(, "cwd": "/src/app")", "/src/app"},
         }) {
      INFO(command << " " << args);
      const auto& s = only(mcpjail::wrap_config(
          R"({"mcpServers": {"s": {"command": ")" + command + R"(", "args": )" + args + cwd + "}}}", wrap_opts()));
      CHECK(s.profile == "git");
      CHECK(s.jail_args == std::vector<std::string>{"--var", "REPO=" + repo});
    }
    // No repository and no absolute cwd: base, and the report says why.
    const auto& none = only(wrap_args(R"(["mcp-server-git"])"));
    CHECK(none.profile == "base");
    CHECK(none.note.find("needs ${REPO}") != std::string::npos);
    // Not the GitHub server.
    CHECK(only(wrap_args(R"(["-y", "@modelcontextprotocol/server-github"])")).profile != "git");
    CHECK(only(wrap_args(R"(["mcp-server-github", "--repository", "/src/app"])")).profile != "git");
  }
  SECTION("base is never chosen by name") {
    CHECK(only(wrap_args(R"(["mcp-server-base"])")).profile == "base");
  }
}

TEST_CASE("a forced profile (--profile) applies to every stdio server", "[lib]") {
  const std::string original = read_text(kFixtures + "claude_desktop_config.json");
  SECTION("base") {
    const WrapResult r = mcpjail::wrap_config(original, wrap_opts("base"));
    for (const auto& s : r.servers)
      if (s.action == WrapAction::Wrapped) CHECK(s.profile == "base");
    check_round_trip(original, r, kJail);
  }
  SECTION("filesystem: the filesystem server's directories, else an absolute cwd, else left alone") {
    const WrapResult r = mcpjail::wrap_config(
        R"({"mcpServers": {)"
        R"("fs": {"command": "npx", "args": ["@modelcontextprotocol/server-filesystem", "/d"]},)"
        R"("tool": {"command": "node", "args": ["dist/index.js"], "cwd": "/w/tool"},)"
        R"("other": {"command": "node", "args": ["/x/index.js"]}}})",
        wrap_opts("filesystem"));
    REQUIRE(r.servers.size() == 3);
    CHECK(r.servers[0].jail_args == std::vector<std::string>{"--var", "WORKSPACE=/d"});
    CHECK(r.servers[1].jail_args == std::vector<std::string>{"--var", "WORKSPACE=/w/tool"});
    CHECK(r.servers[2].action == WrapAction::Skipped);
    CHECK(r.servers[2].note.find("WORKSPACE") != std::string::npos);
  }
  SECTION("a profile file, by absolute path") {
    char dir[] = "/tmp/wrap-profile-XXXXXX";
    REQUIRE(::mkdtemp(dir));
    const std::string path = std::string(dir) + "/gh.toml";
    write_text(path, "version = 1\nname = \"gh\"\nextends = \"base\"\n[env]\npass = [\"GITHUB_*\"]\n");
    const WrapResult r = mcpjail::wrap_config(original, wrap_opts(path));
    const auto& gh = report_for(r, "mcpServers", "github");
    CHECK(gh.profile == path);
    CHECK(gh.jail_args == std::vector<std::string>{"--env", "GITHUB_PERSONAL_ACCESS_TOKEN"});
    CHECK(report_for(r, "mcpServers", "notes").jail_args ==
          std::vector<std::string>{"--env", "NOTES_DIR", "--env", "LOG_LEVEL"});
    write_text(path, "version = 1\nextends = \"base\"\n[filesystem]\nread = [\"${DATA}\"]\n");
    CHECK(std::string(wrap_error(original, wrap_opts(path)).what()).find("${DATA}") != std::string::npos);
    fs::remove_all(dir);
  }
  SECTION("an unknown profile is an error for the whole file") {
    CHECK(std::string(wrap_error(original, wrap_opts("no-such-profile")).what()).find("no-such-profile") !=
          std::string::npos);
  }
}

TEST_CASE("a profile for one server (--profile SERVER=NAME) wins over --profile NAME", "[lib]") {
  const std::string cfg =
      R"({"mcpServers": {"a": {"command": "node", "args": ["a.js"]}, "b": {"command": "node", "args": ["b.js"]},)"
      R"( "mem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}}})";
  WrapOptions o = wrap_opts();
  o.server_profiles = {{"b", "memory"}};
  WrapResult r = mcpjail::wrap_config(cfg, o);
  CHECK(report_for(r, "mcpServers", "a").profile == "base");
  CHECK(report_for(r, "mcpServers", "b").profile == "memory");
  CHECK(report_for(r, "mcpServers", "mem").profile == "memory");
  o.profile = "base";
  o.server_profiles = {{"mem", "memory"}};
  r = mcpjail::wrap_config(cfg, o);
  CHECK(report_for(r, "mcpServers", "a").profile == "base");
  CHECK(report_for(r, "mcpServers", "b").profile == "base");
  CHECK(report_for(r, "mcpServers", "mem").profile == "memory");
  // A server the file does not have, or a profile that does not load: the whole file is refused.
  o.server_profiles = {{"nope", "memory"}};
  CHECK(std::string(wrap_error(cfg, o).what()).find("no server called \"nope\"") != std::string::npos);
  o.server_profiles = {{"a", "no-such-profile"}};
  CHECK(std::string(wrap_error(cfg, o).what()).find("--profile a=no-such-profile") != std::string::npos);
}

TEST_CASE("envFile (Cursor): its names are passed with --env like env keys, its values never appear", "[lib]") {
  char dir[] = "/tmp/wrap-envfile-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  write_text(std::string(dir) + "/.env.mcp", "# tokens\nAPI_TOKEN=s3cret\nexport REGION = eu\n\nAPI_TOKEN=again\nnot a line\n");
  const std::string cfg = R"({"mcpServers": {"api": {"command": "node", "args": ["s.js"], "env": {"LANG": "C"}, "envFile": ".env.mcp"},)"
                          R"( "far": {"command": "node", "args": ["s.js"], "envFile": "${workspaceFolder}/.env"},)"
                          R"( "gone": {"command": "node", "args": ["s.js"], "envFile": "missing.env"}}})";
  WrapOptions o = wrap_opts();
  o.env_file_dir = dir;
  const WrapResult r = mcpjail::wrap_config(cfg, o);
  CHECK(report_for(r, "mcpServers", "api").jail_args ==
        std::vector<std::string>{"--env", "LANG", "--env", "API_TOKEN", "--env", "REGION"});
  CHECK(report_for(r, "mcpServers", "api").note.find("envFile") == std::string::npos);
  CHECK(r.text.find("s3cret") == std::string::npos);
  CHECK(report_for(r, "mcpServers", "far").note.find("variable of the host's") != std::string::npos);
  CHECK(report_for(r, "mcpServers", "gone").note.find("could not be read") != std::string::npos);
  // Not asked to read files (the library's default): only a remark.
  const WrapResult quiet = mcpjail::wrap_config(cfg, wrap_opts());
  CHECK(report_for(quiet, "mcpServers", "api").jail_args == std::vector<std::string>{"--env", "LANG"});
  CHECK(report_for(quiet, "mcpServers", "api").note.find("was not read") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("memory with MEMORY_FILE_PATH in env: the user's graph stays where it is, made writable", "[lib]") {
  char dir[] = "/tmp/wrap-memfile-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string d = dir;
  fs::create_directories(d + "/data");
  write_text(d + "/data/graph.jsonl", "");
  auto cfg = [](const std::string& path) {
    return R"({"mcpServers": {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"],)"
           R"( "env": {"MEMORY_FILE_PATH": ")" + path + R"("}}}})";
  };
  WrapOptions o = wrap_opts("", d + "/home");
  o.env_file_dir = d;
  // Its directory (the server renames a new file over the old one).
  auto r = mcpjail::wrap_config(cfg(d + "/data/graph.jsonl"), o);
  CHECK(only(r).jail_args == std::vector<std::string>{"--write", d + "/data", "--env", "MEMORY_FILE_PATH"});
  CHECK(only(r).note.find("keeps using " + d + "/data/graph.jsonl") != std::string::npos);
  // Not there yet: the same.
  r = mcpjail::wrap_config(cfg(d + "/data/new.jsonl"), o);
  CHECK(only(r).jail_args == std::vector<std::string>{"--write", d + "/data", "--env", "MEMORY_FILE_PATH"});
  // Not there, and its directory is the home directory, a top-level one or /: the profile's value stays.
  fs::create_directories(d + "/home");
  for (const std::string& p : {d + "/home/memory.jsonl", d + "/memory.jsonl", std::string("/memory.jsonl"),
                               std::string("/tmp/x/../m.jsonl")}) {
    INFO(p);
    r = mcpjail::wrap_config(cfg(p), o);
    CHECK(only(r).jail_args.empty());
    CHECK(only(r).note.find("sets its own value") != std::string::npos);
  }
  // "~" is the home directory.
  fs::create_directories(d + "/home/.memory");
  r = mcpjail::wrap_config(cfg("~/.memory/g.jsonl"), o);
  CHECK(only(r).jail_args == std::vector<std::string>{"--write", d + "/home/.memory", "--env", "MEMORY_FILE_PATH"});
  // A directory where the file should be: not followed.
  r = mcpjail::wrap_config(cfg(d + "/data"), o);
  CHECK(only(r).jail_args.empty());
  // Without looking at the host (the library's default), nothing is followed.
  r = mcpjail::wrap_config(cfg(d + "/data/graph.jsonl"), wrap_opts());
  CHECK(only(r).jail_args.empty());
  fs::remove_all(d);
}

TEST_CASE("a container server is left alone, pointing to mcp-jail export", "[lib]") {
  const WrapResult r = mcpjail::wrap_config(
      R"({"mcpServers": {"d": {"command": "docker", "args": ["run", "-i", "--rm", "mcp/fetch"]}}})", wrap_opts());
  REQUIRE(r.servers.size() == 1);
  CHECK(r.servers[0].action == WrapAction::Skipped);
  CHECK(r.servers[0].note.find("mcp-jail export") != std::string::npos);
  CHECK_FALSE(r.changed);
}

TEST_CASE("each key of env becomes --env NAME, in file order, and the env block stays", "[lib]") {
  const std::string original =
      R"({"mcpServers": {"gh": {"command": "npx", "args": ["x"], "env": {"GITHUB_TOKEN": "t", "LANG": "C", "A_1": ""}}}})";
  const WrapResult r = mcpjail::wrap_config(original, wrap_opts());
  CHECK(only(r).jail_args == std::vector<std::string>{"--env", "GITHUB_TOKEN", "--env", "LANG", "--env", "A_1"});
  CHECK(only(r).note.find("not passed") == std::string::npos);
  CHECK(r.text == R"({"mcpServers": {"gh": {"command": "/usr/local/bin/mcp-jail", "args": ["run", "base", "--env", )"
                  R"("GITHUB_TOKEN", "--env", "LANG", "--env", "A_1", "--", "npx", "x"], "env": {"GITHUB_TOKEN": "t", )"
                  R"("LANG": "C", "A_1": ""}}}})");
  check_round_trip(original, r, kJail);
  // The values are the host's business: they never appear in the arguments.
  CHECK(r.text.find("\"t\", \"--\"") == std::string::npos);

  SECTION("with the filesystem profile, after its variables") {
    const auto s = only(mcpjail::wrap_config(
        R"({"mcpServers": {"fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/d"],)"
        R"( "env": {"DEBUG": "1"}}}})",
        wrap_opts()));
    CHECK(s.profile == "filesystem");
    CHECK(s.jail_args == std::vector<std::string>{"--var", "WORKSPACE=/d", "--env", "DEBUG"});
  }
  SECTION("a key that is not a variable name is left out, and said") {
    const auto s = only(mcpjail::wrap_config(
        R"({"mcpServers": {"s": {"command": "/opt/s", "env": {"MY-VAR": "1", "OK": "2", "1X": "3", "OK": "4"}}}})", wrap_opts()));
    CHECK(s.jail_args == std::vector<std::string>{"--env", "OK"});  // a repeated key once
    CHECK(s.note.find("env \"MY-VAR\", \"1X\" not passed into the jail: not a variable name") != std::string::npos);
  }
  SECTION("no env, an empty one, or one that is not an object: no --env") {
    for (const char* env : {"", R"(, "env": {})", R"(, "env": null)", R"(, "env": ["A"])"}) {
      INFO(env);
      const auto s = only(mcpjail::wrap_config(std::string(R"({"mcpServers": {"s": {"command": "/opt/s")") + env + "}}}",
                                               wrap_opts()));
      CHECK(s.action == WrapAction::Wrapped);
      CHECK(s.jail_args.empty());
    }
  }
}

TEST_CASE("an entry wrapped already is kept, and env names it does not pass on are pointed out", "[lib]") {
  auto wrapped = [](const std::string& args, const std::string& env) {
    return only(mcpjail::wrap_config(
        R"({"mcpServers": {"s": {"command": "/usr/local/bin/mcp-jail", "args": )" + args + R"(, "env": )" + env + "}}}",
        wrap_opts()));
  };
  // Wrapped before wrap wrote --env: TOKEN reaches mcp-jail, not the server.
  auto s = wrapped(R"(["run", "base", "--", "/opt/s"])", R"({"TOKEN": "t", "LANG": "C"})");
  CHECK(s.action == WrapAction::AlreadyWrapped);
  CHECK(s.note.find("env TOKEN reach mcp-jail but not the server: add \"--env\"") != std::string::npos);
  CHECK(s.note.find("LANG") == std::string::npos);  // base passes it
  // Passed with --env, either spelling, or set with NAME=VALUE: nothing to say.
  s = wrapped(R"(["run", "--env", "TOKEN", "base", "--env=OTHER=x", "--var", "A=B", "--", "/opt/s", "--env", "NO"])",
              R"({"TOKEN": "t", "OTHER": "o"})");
  CHECK(s.action == WrapAction::AlreadyWrapped);
  CHECK(s.note == "already runs through mcp-jail");
  // After "--" the arguments are the server's, not mcp-jail's.
  s = wrapped(R"(["run", "base", "--", "/opt/s", "--env", "TOKEN"])", R"({"TOKEN": "t"})");
  CHECK(s.note.find("env TOKEN reach mcp-jail but not the server") != std::string::npos);
  // A profile wrap cannot inspect: nothing claimed.
  s = wrapped(R"(["run", "/nonexistent/p.toml", "--", "/opt/s"])", R"({"TOKEN": "t"})");
  CHECK(s.note == "already runs through mcp-jail");
}

TEST_CASE("package runners that download at start-up are pointed out under network none", "[lib]") {
  // npx runs offline from the profile's own cache: how to fill it
  const auto npx = only(mcpjail::wrap_config(
      R"({"mcpServers": {"s": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory@2026.8.31"]}}})",
      wrap_opts()));
  INFO(npx.note);
  CHECK(npx.note.find("npx runs offline") != std::string::npos);
  if (npx.profile == "memory") {  // its own MEMORY_FILE_PATH wins over the entry's
    const auto mem = only(mcpjail::wrap_config(
        R"({"mcpServers": {"s": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"],)"
        R"( "env": {"MEMORY_FILE_PATH": "/home/alice/m.json"}}}})",
        wrap_opts()));
    CHECK(mem.note.find("env MEMORY_FILE_PATH: profile memory sets its own value") != std::string::npos);
    CHECK(std::find(mem.jail_args.begin(), mem.jail_args.end(), "MEMORY_FILE_PATH") == mem.jail_args.end());
  }
  CHECK(npx.note.find("mcp-jail/" + npx.profile + "/npm npm exec --yes --ignore-scripts "
                      "--package=@modelcontextprotocol/server-memory@2026.8.31 -- true") != std::string::npos);
  for (const char* entry : {R"({"command": "/usr/local/bin/uvx", "args": ["mcp-server-time"]})",
                            R"({"command": "pnpm", "args": ["dlx", "some-server"]})"}) {
    INFO(entry);
    const auto s = only(mcpjail::wrap_config(std::string("{\"mcpServers\": {\"s\": ") + entry + "}}", wrap_opts("base")));
    CHECK(s.note.find("fetches the server when it starts") != std::string::npos);
  }
  // uvx is refused by run: the note says what to use instead
  const auto uvx_time =
      only(mcpjail::wrap_config(R"({"mcpServers": {"s": {"command": "/usr/local/bin/uvx", "args": ["mcp-server-time"]}}})", wrap_opts("base")));
  CHECK(uvx_time.note.find("mcp-jail run refuses this command until it is changed: uvx downloads") != std::string::npos);
  CHECK(uvx_time.note.find("uv tool install mcp-server-time`") != std::string::npos);
  CHECK(uvx_time.note.find("~/.local/share/uv/tools/mcp-server-time/bin/SCRIPT") != std::string::npos);
  const auto pnpm = only(mcpjail::wrap_config(R"({"mcpServers": {"s": {"command": "pnpm", "args": ["dlx", "x"]}}})", wrap_opts("base")));
  CHECK(pnpm.note.find("refuses") == std::string::npos);
  // With a network the runner could fetch, but its own cache is not in the jail.
  if (builtin("fetch")) {
    const auto uvx = only(mcpjail::wrap_config(R"({"mcpServers": {"s": {"command": "uvx", "args": ["mcp-server-fetch"]}}})", wrap_opts()));
    CHECK(uvx.profile == "fetch");
    CHECK(uvx.note.find("uvx keeps the server it fetches in a cache of its own") != std::string::npos);
    const auto npx_fetch =
        only(mcpjail::wrap_config(R"({"mcpServers": {"s": {"command": "npx", "args": ["-y", "mcp-fetch-server"]}}})", wrap_opts()));
    CHECK(npx_fetch.profile == "fetch");
    CHECK(npx_fetch.note.empty());  // npx: the profile's own npm cache, and a network to fill it
  }
  const auto node = only(mcpjail::wrap_config(R"({"mcpServers": {"s": {"command": "node", "args": ["/srv/x.js"]}}})", wrap_opts()));
  CHECK(node.note.empty());
}

TEST_CASE("syntax errors name line and column", "[lib]") {
  struct Case {
    std::string text;
    std::size_t line, column;
  };
  for (const Case& c : {
           Case{"{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"}\n    \"b\": {}\n  }\n}\n", 4, 5},
           Case{"{\"mcpServers\": {\"a\": {\"command\": tru}}}", 1, 34},
           Case{"{\"mcpServers\": {\"a\": {\"command\" \"a\\\\\"}}}", 1, 33},
           Case{"{\"mcpServers\": {\"a\": {\"command\": \"x\\q\"}}}", 1, 37},
           Case{"{\"mcpServers\": {\"a\": [1 2]}}", 1, 25},
           Case{"{\"é\": {}, \"mcpServers\": {\"a\": {\"command\": \"x\"}}", 1, 48},
           Case{"{\n  /* never closed\n  \"mcpServers\": {}\n}\n", 2, 3},
           Case{"{\n  \"mcpServers\": {,}\n}", 2, 18},
           Case{"", 1, 1},
           Case{"{\"mcpServers\": {}} {}", 1, 20},
           Case{"{\"mcpServers\": {\"a\": \"\x80\"}}", 1, 23},
       }) {
    INFO(c.text);
    const WrapError e = wrap_error(c.text);
    const std::string what = e.what();
    CHECK((what.find("invalid JSON") != std::string::npos || what.find("unterminated /* comment") != std::string::npos));
    CHECK(e.line() == c.line);
    CHECK(e.column() == c.column);
  }
}

TEST_CASE("files that are not host configurations", "[lib]") {
  for (const char* text : {
           "[]", "\"x\"", "42", "null",
           R"({"mcpServers": []})", R"({"mcpServers": "npx"})", R"({"servers": null})", R"({"mcp": 1})",
           R"({"mcp": {"servers": [1]}})", R"({})", R"({"mcp": {}})", R"({"editor.fontSize": 14})",
       }) {
    INFO(text);
    const WrapError e = wrap_error(text);
    CHECK(e.line() == 0);
    CHECK(std::string(e.what()).size() > 10);
  }
  CHECK(std::string(wrap_error(R"({"mcpServers": []})").what()).find("\"mcpServers\" is an array, not an object") !=
        std::string::npos);
  WrapOptions relative = wrap_opts();
  relative.jail_path = "mcp-jail";
  CHECK(std::string(wrap_error(R"({"mcpServers": {}})", relative).what()).find("absolute") != std::string::npos);
}

TEST_CASE("odd but valid inputs", "[lib]") {
  SECTION("a repeated key: the last one counts, as in JSON.parse") {
    const std::string text =
        R"({"mcpServers": {"a": {"command": "x"}}, "mcpServers": {"b": {"command": "y", "command": "z"}}})";
    const WrapResult r = mcpjail::wrap_config(text, wrap_opts());
    REQUIRE(r.servers.size() == 1);
    CHECK(r.servers[0].name == "b");
    CHECK(parse_jsonc(r.text)["mcpServers"]["b"]["args"] == ordered_json::array({"run", "base", "--", "z"}));
    CHECK_FALSE(mcpjail::wrap_config(r.text, wrap_opts()).changed);
  }
  SECTION("a byte order mark, escapes in keys and values, non-ASCII") {
    const std::string text =
        "\xEF\xBB\xBF{\"mcp\\u0053ervers\": {\"caf\xC3\xA9\": {\"command\": \"n\\u006fde\", \"args\": [\"/srv/\xE2\x82\xAC/i.js\", \"a\\\"b\"]}}}";
    const WrapResult r = mcpjail::wrap_config(text, wrap_opts());
    CHECK(only(r).name == "caf\xC3\xA9");
    CHECK(r.text.starts_with("\xEF\xBB\xBF"));
    const ordered_json doc = ordered_json::parse(r.text.substr(3));
    CHECK(doc["mcpServers"]["caf\xC3\xA9"]["args"] ==
          ordered_json::array({"run", "base", "--", "node", "/srv/\xE2\x82\xAC/i.js", "a\"b"}));
  }
  SECTION("all three sections in one file") {
    const WrapResult r = mcpjail::wrap_config(
        R"({"mcpServers": {"a": {"command": "a"}}, "servers": {"b": {"command": "b"}}, "mcp": {"servers": {"c": {"command": "c"}}}})",
        wrap_opts());
    REQUIRE(r.servers.size() == 3);
    CHECK(r.servers[0].section == "mcpServers");
    CHECK(r.servers[1].section == "servers");
    CHECK(r.servers[2].section == "mcp.servers");
  }
  SECTION("CRLF line ends stay CRLF") {
    const WrapResult r = mcpjail::wrap_config(
        "{\r\n  \"mcpServers\": {\r\n    \"a\": {\r\n      \"command\": \"a\",\r\n      \"args\": [\r\n        \"-v\"\r\n      ]\r\n"
        "    },\r\n    \"b\": {\r\n      \"command\": \"b\"\r\n    }\r\n  }\r\n}\r\n",
        wrap_opts());
    CHECK(r.text ==
          "{\r\n  \"mcpServers\": {\r\n    \"a\": {\r\n      \"command\": \"/usr/local/bin/mcp-jail\",\r\n      \"args\": [\r\n"
          "        \"run\",\r\n        \"base\",\r\n        \"--\",\r\n        \"a\",\r\n        \"-v\"\r\n      ]\r\n"
          "    },\r\n    \"b\": {\r\n      \"command\": \"/usr/local/bin/mcp-jail\",\r\n"
          "      \"args\": [\"run\", \"base\", \"--\", \"b\"]\r\n    }\r\n  }\r\n}\r\n");
  }
  SECTION("an empty servers object is fine and changes nothing") {
    const WrapResult r = mcpjail::wrap_config("{\"mcpServers\": {}}\n", wrap_opts());
    CHECK_FALSE(r.changed);
    CHECK(r.servers.empty());
  }
  SECTION("tabs") {
    const WrapResult r = mcpjail::wrap_config("{\n\t\"servers\": {\n\t\t\"t\": {\n\t\t\t\"command\": \"t\",\n\t\t\t\"args\": [\n\t\t\t\t\"-v\"\n\t\t\t]\n\t\t}\n\t}\n}\n", wrap_opts());
    CHECK(r.text == "{\n\t\"servers\": {\n\t\t\"t\": {\n\t\t\t\"command\": \"/usr/local/bin/mcp-jail\",\n\t\t\t\"args\": [\n"
                    "\t\t\t\t\"run\",\n\t\t\t\t\"base\",\n\t\t\t\t\"--\",\n\t\t\t\t\"t\",\n\t\t\t\t\"-v\"\n\t\t\t]\n\t\t}\n\t}\n}\n");
  }
}

TEST_CASE("unified_diff", "[lib]") {
  CHECK(mcpjail::unified_diff("a\nb\n", "a\nb\n", "x", "y").empty());
  CHECK(mcpjail::unified_diff("a\nb\nc\n", "a\nB\nc\n", "x", "y") == "--- x\n+++ y\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
  CHECK(mcpjail::unified_diff("", "new\n", "x", "y") == "--- x\n+++ y\n@@ -0,0 +1,1 @@\n+new\n");
  CHECK(mcpjail::unified_diff("a\nb", "a\nc", "x", "y") ==
        "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n");
  // Only the final newline differs.
  CHECK(mcpjail::unified_diff("a\nb\n", "a\nb", "x", "y") ==
        "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n");
  std::string before, after;
  for (int i = 1; i <= 30; ++i) {
    before += std::to_string(i) + "\n";
    after += (i == 2 ? "two" : i == 25 ? "twenty-five" : std::to_string(i)) + "\n";
  }
  CHECK(mcpjail::unified_diff(before, after, "x", "y") ==
        "--- x\n+++ y\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"
        "@@ -22,7 +22,7 @@\n 22\n 23\n 24\n-25\n+twenty-five\n 26\n 27\n 28\n");
  // Changes close together share a hunk.
  CHECK(mcpjail::unified_diff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\nX\n3\n4\n5\n6\nY\n8\n", "x", "y") ==
        "--- x\n+++ y\n@@ -1,8 +1,8 @@\n 1\n-2\n+X\n 3\n 4\n 5\n 6\n-7\n+Y\n 8\n");
}

// ---------------------------------------------------------------- the binary

namespace {

// The names in the top directory of `d`.
std::set<std::string> names_in(const support::ScratchDir& d) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(d.d)) out.insert(e.path().filename().string());
  return out;
}

const std::string kScratch = "/tmp/mcpjail-wrap-test-" + std::to_string(::getpid());
// The binary's XDG_CONFIG_HOME: profiles wrap cannot place beside a
// configuration go below it, never into the real user's.
const std::string kConfigHome = kScratch + "-config";
struct ConfigHomeCleanup {
  ~ConfigHomeCleanup() { fs::remove_all(kConfigHome); }
} config_home_cleanup;

struct Run {
  int status = -1;
  std::string out, err;
};

Run run_jail(const std::vector<std::string>& args, const std::string& scratch) {
  const std::string out_path = scratch + ".stdout", err_path = scratch + ".stderr";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(99);
    if (::setenv("XDG_CONFIG_HOME", kConfigHome.c_str(), 1) != 0) ::_exit(97);
    std::vector<char*> argv{const_cast<char*>(MCPJAIL_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(MCPJAIL_BIN, argv.data());
    ::_exit(98);
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  Run r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

mode_t mode_of(const std::string& p) {
  struct stat st;
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}


}  // namespace

TEST_CASE("mcp-jail wrap rewrites each fixture, with a backup, and a second run changes nothing", "[cli]") {
  const std::string self = fs::canonical(MCPJAIL_BIN).string();
  for (const auto& [file, want] : kFixtureExpect) {
    SECTION(file) {
      support::ScratchDir d("wrap");
      const std::string cfg = d.p() + "/" + file;
      const std::string original = read_text(kFixtures + file);
      write_text(cfg, original);
      REQUIRE(::chmod(cfg.c_str(), 0640) == 0);

      const Run r = run_jail({"wrap", cfg}, kScratch);
      INFO(r.err);
      REQUIRE(r.status == 0);
      CHECK(r.out.empty());
      CHECK(r.err.find("wrapped, profile") != std::string::npos);
      // The same rewrite as the library's, with this binary's path and the
      // configuration's place (the profiles wrap writes for servers without
      // a built-in one go beside it, in STEM.mcp-jail/).
      WrapOptions o = wrap_opts();
      o.jail_path = self;
      if (const char* h = std::getenv("HOME")) o.home = h;
      o.env_file_dir = fs::canonical(d.p()).string();
      o.config_path = fs::canonical(cfg).string();
      o.config_home = kConfigHome;
      const std::string stem = file.substr(0, file.size() - 5);
      std::set<std::string> listing{file, file + ".mcp-jail.bak"};
      // Read after the binary wrote the profiles: each holds what the
      // library would write.
      const WrapResult lib = mcpjail::wrap_config(original, o);
      for (const auto& g : lib.profiles) {
        CHECK(g.state == mcpjail::GeneratedProfile::State::Unchanged);
        // Beside it, unless a server may write there (a host variable,
        // ${workspaceFolder}, could name that directory).
        if (g.path.starts_with(o.env_file_dir + "/" + stem + ".mcp-jail/")) listing.insert(stem + ".mcp-jail");
        else CHECK(g.path.starts_with(kConfigHome + "/mcp-jail/wrap/" + stem + "-"));
      }
      CHECK(names_in(d) == listing);
      CHECK(read_text(cfg + ".mcp-jail.bak") == original);
      CHECK(mode_of(cfg + ".mcp-jail.bak") == 0640);
      CHECK(mode_of(cfg) == 0640);
      const std::string wrapped = read_text(cfg);
      CHECK(wrapped == lib.text);
      for (const auto& g : lib.profiles) CHECK(read_text(g.path) == g.text);
      check_round_trip(original, lib, self);

      const Run again = run_jail({"wrap", cfg}, kScratch);
      CHECK(again.status == 0);
      CHECK(again.err.find("nothing to change") != std::string::npos);
      CHECK(read_text(cfg) == wrapped);
      CHECK(names_in(d) == listing);
      for (const auto& g : lib.profiles) CHECK(read_text(g.path) == g.text);
    }
  }
}

TEST_CASE("mcp-jail wrap --dry-run prints a diff and touches nothing", "[cli]") {
  support::ScratchDir d("wrap");
  const std::string cfg = d.p() + "/claude_desktop_config.json";
  const std::string original = read_text(kFixtures + "claude_desktop_config.json");
  write_text(cfg, original);
  const auto before = names_in(d);
  const Run r = run_jail({"wrap", "--dry-run", cfg}, kScratch);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.starts_with("--- " + cfg + "\n+++ " + cfg + "\n@@ -1,"));
  CHECK(r.out.find("\n-      \"command\": \"npx\",\n+      \"command\": \"" + fs::canonical(MCPJAIL_BIN).string() +
                   "\",\n") != std::string::npos);
  CHECK(r.err.find("dry run") != std::string::npos);
  CHECK(read_text(cfg) == original);
  CHECK(names_in(d) == before);
}

TEST_CASE("mcp-jail wrap refuses bad input with status 125 and touches nothing", "[cli]") {
  support::ScratchDir d("wrap");
  const std::string cfg = d.p() + "/bad.json";
  const std::string bad = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"}\n    \"b\": {}\n  }\n}\n";
  write_text(cfg, bad);
  for (const auto& args : std::vector<std::vector<std::string>>{{"wrap", cfg}, {"wrap", cfg, "--dry-run"}}) {
    const Run r = run_jail(args, kScratch);
    CHECK(r.status == 125);
    CHECK(r.out.empty());
    CHECK(r.err.find(cfg + ":4:5: error: invalid JSON") != std::string::npos);
    CHECK(r.err.find("nothing was changed") != std::string::npos);
    CHECK(read_text(cfg) == bad);
    CHECK(names_in(d) == std::set<std::string>{"bad.json"});
  }
  const std::string arr = d.p() + "/array.json";
  write_text(arr, "[]\n");
  const std::string str = d.p() + "/servers.json";
  write_text(str, "{\"mcpServers\": \"npx\"}\n");
  const std::string good = d.p() + "/good.json";
  write_text(good, "{\"mcpServers\": {\"a\": {\"command\": \"a\"}}}\n");
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  for (const Case& c : {
           Case{{"wrap", arr}, "the top level is an array"},
           Case{{"wrap", str}, "\"mcpServers\" is a string, not an object"},
           Case{{"wrap", d.p() + "/missing.json"}, "cannot read"},
           Case{{"wrap", d.p()}, "not a regular file"},
           Case{{"wrap"}, "no CONFIG.json"},
           Case{{"wrap", good, good}, "unexpected argument"},
           Case{{"wrap", good, "--frobnicate"}, "unknown option"},
           Case{{"wrap", good, "--profile"}, "--profile needs"},
           Case{{"wrap", good, "--profile", "no-such-profile"}, "no-such-profile"},
       }) {
    INFO(c.args.back());
    const Run r = run_jail(c.args, kScratch);
    CHECK(r.status == 125);
    CHECK(r.err.find(c.message) != std::string::npos);
  }
  CHECK(read_text(good) == "{\"mcpServers\": {\"a\": {\"command\": \"a\"}}}\n");
  CHECK(names_in(d) == std::set<std::string>{"bad.json", "array.json", "servers.json", "good.json"});
}

TEST_CASE("mcp-jail wrap: timestamped backup, symlinked config, --profile, help", "[cli]") {
  support::ScratchDir d("wrap");
  const std::string text = "{\"mcpServers\": {\"a\": {\"command\": \"a\"}}}\n";
  SECTION("an existing backup is kept; the new one gets a timestamp") {
    const std::string cfg = d.p() + "/c.json";
    write_text(cfg, text);
    write_text(cfg + ".mcp-jail.bak", "older backup");
    REQUIRE(run_jail({"wrap", cfg}, kScratch).status == 0);
    CHECK(read_text(cfg + ".mcp-jail.bak") == "older backup");
    const auto names = names_in(d);
    REQUIRE(names.size() == 4);  // and c.mcp-jail/, the profile written for "a"
    CHECK(names.count("c.mcp-jail"));
    std::string stamped;
    for (const auto& n : names)
      if (n != "c.json" && n != "c.json.mcp-jail.bak" && n != "c.mcp-jail") stamped = n;
    CHECK(stamped.starts_with("c.json.mcp-jail.2"));
    CHECK(stamped.ends_with(".bak"));
    CHECK(read_text(d.p() + "/" + stamped) == text);
  }
  SECTION("a symlink: its target is rewritten, the link stays") {
    fs::create_directory(d.p() + "/dotfiles");
    const std::string target = d.p() + "/dotfiles/mcp.json";
    write_text(target, text);
    fs::create_symlink(target, d.p() + "/link.json");
    REQUIRE(run_jail({"wrap", d.p() + "/link.json"}, kScratch).status == 0);
    CHECK(fs::is_symlink(d.p() + "/link.json"));
    CHECK(read_text(target).find("\"run\", \"" + fs::canonical(d.p()).string() + "/dotfiles/mcp.mcp-jail/a.toml\"") !=
          std::string::npos);
    CHECK(read_text(target + ".mcp-jail.bak") == text);
  }
  SECTION("--profile NAME and --profile=NAME") {
    const std::string cfg = d.p() + "/p.json";
    write_text(cfg, "{\"mcpServers\": {\"a\": {\"command\": \"a\", \"cwd\": \"/w\"}}}\n");
    const Run r = run_jail({"wrap", "--profile=filesystem", "--dry-run", cfg}, kScratch);
    CHECK(r.status == 0);
    CHECK(r.out.find("[\"run\", \"filesystem\", \"--var\", \"WORKSPACE=/w\", \"--\", \"a\"]") != std::string::npos);
    const Run r2 = run_jail({"wrap", cfg, "--profile", "base"}, kScratch);
    CHECK(r2.status == 0);
    CHECK(read_text(cfg).find("[\"run\", \"base\", \"--\", \"a\"]") != std::string::npos);
  }
  SECTION("help") {
    const Run h = run_jail({"wrap", "--help"}, kScratch);
    CHECK(h.status == 0);
    CHECK(h.out.find("usage: mcp-jail wrap CONFIG.json") != std::string::npos);
    CHECK(run_jail({"--help"}, kScratch).out.find("mcp-jail wrap CONFIG.json") != std::string::npos);
  }
}
