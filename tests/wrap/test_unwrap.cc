// `mcp-jail unwrap`: the restore itself (unwrap_config, pure) against wrap's
// own output for every fixture, and the command through the real binary.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/files.hpp"
#include "../support/process.hpp"
#include "mcpjail/frontends/wrap.hpp"
#include "../support/scratch.hpp"
#include "wrap_files.hpp"

namespace fs = std::filesystem;
using mcpjail::UnwrapAction;
using mcpjail::WrapAction;
using mcpjail::WrapError;
using support::slurp;
using support::spit;

namespace {

using wrap_files::kFixtures;
const std::vector<std::string> kFiles = {"claude_desktop_config.json", "cursor_mcp.json", "vscode_mcp.json",
                                         "vscode_settings.json"};

mcpjail::WrapOptions opts() { return wrap_files::wrap_opts({}, "/home/user"); }

std::size_t count(const mcpjail::UnwrapResult& r, UnwrapAction a) {
  std::size_t n = 0;
  for (const auto& s : r.servers) n += s.action == a;
  return n;
}

std::size_t wrapped(const mcpjail::WrapResult& r) {
  std::size_t n = 0;
  for (const auto& s : r.servers) n += s.action == WrapAction::Wrapped;
  return n;
}

}  // namespace

TEST_CASE("unwrap after wrap gives each fixture back byte for byte", "[lib]") {
  for (const auto& file : kFiles) {
    SECTION(file) {
      const std::string original = slurp(kFixtures + file);
      const auto w = mcpjail::wrap_config(original, opts());
      REQUIRE(w.changed);
      REQUIRE(wrapped(w) > 0);
      const auto u = mcpjail::unwrap_config(w.text, {original});
      CHECK(u.changed);
      CHECK(u.text == original);
      CHECK(count(u, UnwrapAction::Restored) == wrapped(w));
      // Nothing left to undo: a second unwrap changes nothing.
      const auto again = mcpjail::unwrap_config(u.text, {original});
      CHECK_FALSE(again.changed);
      CHECK(again.text == u.text);
      CHECK(count(again, UnwrapAction::Restored) == 0);
    }
  }
}

TEST_CASE("without the earlier file, unwrap restores what each server runs in the current layout", "[lib]") {
  for (const auto& file : kFiles) {
    SECTION(file) {
      const std::string original = slurp(kFixtures + file);
      const auto w = mcpjail::wrap_config(original, opts());
      const auto u = mcpjail::unwrap_config(w.text, {});
      CHECK(count(u, UnwrapAction::Restored) == wrapped(w));
      // Every wrapped entry runs its own command again: wrap sees the result
      // as it saw the original.
      const auto rewrapped = mcpjail::wrap_config(u.text, opts());
      CHECK(rewrapped.text == w.text);
    }
  }
}

TEST_CASE("edits made since wrap are kept", "[lib]") {
  const std::string original = R"({
  // my servers
  "mcpServers": {
    "memory": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-memory"],
      "env": {"MEMORY_FILE_PATH": "/tmp/a.json"}
    },
    "files": {
      "command": "npx",
      "args": [
        "-y",
        "@modelcontextprotocol/server-filesystem",
        "/home/user/project"
      ]
    },
    "bare": {"command": "/opt/tool/server"}
  }
}
)";
  const auto w = mcpjail::wrap_config(original, opts());
  REQUIRE(wrapped(w) == 3);
  // The user changes an env value, adds a server and a comment after wrapping.
  auto edit = [](std::string t) {
    const auto at = t.find("/tmp/a.json");
    REQUIRE(at != std::string::npos);
    t.replace(at, 11, "/tmp/b.json");
    const auto close = t.rfind("  }\n}");
    REQUIRE(close != std::string::npos);
    t.insert(close, "  ,\"new\": {\"command\": \"node\", \"args\": [\"x.js\"]} // added later\n");
    return t;
  };
  const auto u = mcpjail::unwrap_config(edit(w.text), {original});
  CHECK(u.text == edit(original));
  CHECK(count(u, UnwrapAction::Restored) == 3);
  CHECK(count(u, UnwrapAction::NotWrapped) == 1);
}

TEST_CASE("a wrapped entry whose jail arguments were changed by hand still comes back", "[lib]") {
  const std::string original = R"({"mcpServers": {"s": {"command": "node", "args": ["srv.js", "--port", "1"]}}})";
  const std::string by_hand =
      R"({"mcpServers": {"s": {"command": "/usr/bin/mcp-jail", "args": ["run", "base", "--write", "/srv", "--env", "TOKEN", "node", "srv.js", "--port", "1"]}}})";
  const auto u = mcpjail::unwrap_config(by_hand, {original});
  CHECK(u.text == original);  // the earlier layout: the same command line there
  const auto v = mcpjail::unwrap_config(by_hand, {});
  CHECK(v.text == R"({"mcpServers": {"s": {"command": "node", "args": ["srv.js", "--port", "1"]}}})");
  REQUIRE(v.servers.size() == 1);
  CHECK(v.servers[0].note.find("profile base") != std::string::npos);
}

TEST_CASE("an earlier copy running something else decides nothing", "[lib]") {
  // The user changed the server's arguments after wrapping: what the entry
  // runs now is what comes back, not the backup's older line.
  const std::string original = R"({"mcpServers": {"s": {"command": "node", "args": ["old.js"]}}})";
  const std::string now = R"({"mcpServers": {"s": {"command": "/usr/bin/mcp-jail", "args": ["run", "base", "--", "node", "new.js"]}}})";
  const auto u = mcpjail::unwrap_config(now, {original});
  CHECK(u.text == R"({"mcpServers": {"s": {"command": "node", "args": ["new.js"]}}})");
  // A different entry at the same place is not the same entry.
  const std::string renamed = R"({"mcpServers": {"t": {"command": "node", "args": ["new.js"], "x": 1}}})";
  CHECK(mcpjail::unwrap_config(now, {renamed}).text == u.text);
}

TEST_CASE("a wrapped entry edited into something that is no run command line is refused, by name", "[lib]") {
  for (const std::string args : {R"(["run"])", R"(["run", "base", "--no-such-option", "x"])", R"(["run", "base", "--"])"}) {
    INFO(args);
    const std::string text = R"({"servers": {"broken": {"command": "mcp-jail", "args": )" + args + "}}}";
    try {
      mcpjail::unwrap_config(text, {});
      FAIL("accepted");
    } catch (const WrapError& e) {
      CHECK(std::string(e.what()).find("servers.broken") != std::string::npos);
      CHECK(std::string(e.what()).find("back yourself") != std::string::npos);
    }
  }
  // What is not wrapped is no business of unwrap's.
  const std::string other = R"({"mcpServers": {"a": {"command": "mcp-jail", "args": ["probe", "x"]}, "b": {"url": "http://x"}}})";
  const auto u = mcpjail::unwrap_config(other, {});
  CHECK_FALSE(u.changed);
  CHECK(u.text == other);
  CHECK(count(u, UnwrapAction::NotWrapped) == 2);
  // Files wrap refuses, unwrap refuses.
  CHECK_THROWS_AS(mcpjail::unwrap_config("[1]", {}), WrapError);
  CHECK_THROWS_AS(mcpjail::unwrap_config("{\"mcpServers\": ", {}), WrapError);
}

// ---------------------------------------------------------------- the binary

namespace {

support::Output jail(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MCPJAIL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return support::run(argv, {"PATH=/usr/bin:/bin", "HOME=/home/user"});
}

// The backups (*.bak) in the top directory of `d`.
std::size_t backups(const support::ScratchDir& d) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(d.d)) n += e.path().extension() == ".bak";
  return n;
}

}  // namespace

TEST_CASE("mcp-jail wrap then unwrap: the file as it was, with the wrapped one kept as a backup", "[cli]") {
  for (const auto& file : kFiles) {
    SECTION(file) {
      support::ScratchDir d("unwrap");
      const std::string cfg = d.p() + "/" + file;
      const std::string original = slurp(kFixtures + file);
      spit(cfg, original);
      auto r = jail({"wrap", cfg});
      INFO(r.err);
      REQUIRE(r.status == 0);
      const std::string wrapped_text = slurp(cfg);
      REQUIRE(wrapped_text != original);

      r = jail({"unwrap", "--dry-run", cfg});
      CHECK(r.status == 0);
      CHECK(r.out.find("+++ ") != std::string::npos);
      CHECK(slurp(cfg) == wrapped_text);

      r = jail({"unwrap", cfg});
      INFO(r.err);
      REQUIRE(r.status == 0);
      CHECK(r.err.find(": unwrapped") != std::string::npos);
      CHECK(slurp(cfg) == original);
      CHECK(backups(d) == 2);  // wrap's and unwrap's

      r = jail({"unwrap", cfg});
      CHECK(r.status == 0);
      CHECK(r.err.find("nothing to change") != std::string::npos);
      CHECK(slurp(cfg) == original);
    }
  }
}

TEST_CASE("mcp-jail unwrap refuses a hand-broken entry, exit 125, and writes nothing", "[cli]") {
  support::ScratchDir d("unwrap");
  const std::string cfg = d.p() + "/c.json";
  const std::string text = R"({"mcpServers": {"ok": {"command": "mcp-jail", "args": ["run", "base", "--", "node", "a.js"]},
  "broken": {"command": "/usr/bin/mcp-jail", "args": ["run", "base", "--bogus"]}}})";
  spit(cfg, text);
  const auto r = jail({"unwrap", cfg});
  CHECK(r.status == 125);
  CHECK(r.err.find("mcpServers.broken") != std::string::npos);
  CHECK(r.err.find("nothing was changed") != std::string::npos);
  CHECK(slurp(cfg) == text);
  CHECK(backups(d) == 0);
  CHECK(jail({"unwrap", "--help"}).status == 0);
  CHECK(jail({"unwrap"}).status == 125);
}

TEST_CASE("mcp-jail wrap --profile SERVER=NAME, and an envFile beside the configuration", "[cli]") {
  support::ScratchDir d("unwrap");
  const std::string cfg = d.p() + "/mcp.json";
  spit(d.p() + "/api.env", "API_TOKEN=x\n");
  spit(cfg, R"({"mcpServers": {"a": {"command": "node", "args": ["a.js"], "envFile": "api.env"},
  "b": {"command": "node", "args": ["b.js"]}}})");
  auto r = jail({"wrap", cfg, "--profile", "b=memory", "--profile", "base"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto doc = nlohmann::json::parse(slurp(cfg));
  CHECK(doc["mcpServers"]["a"]["args"] == nlohmann::json({"run", "base", "--env", "API_TOKEN", "--", "node", "a.js"}));
  CHECK(doc["mcpServers"]["b"]["args"] == nlohmann::json({"run", "memory", "--", "node", "b.js"}));
  // Usage errors: exit 125, nothing written.
  const std::string wrapped = slurp(cfg);
  CHECK(jail({"wrap", cfg, "--profile", "base", "--profile", "memory"}).status == 125);
  CHECK(jail({"wrap", cfg, "--profile", "=memory"}).status == 125);
  CHECK(jail({"wrap", cfg, "--profile", "zz=memory"}).status == 125);
  CHECK(slurp(cfg) == wrapped);
}
