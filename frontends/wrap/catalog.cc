// The catalog of servers `mcp-jail wrap` knows (catalog.hpp). One row per
// server. A row with a built-in profile is wrapped with it (its variables
// filled from the path arguments); a row without one gets a profile written
// beside the configuration: base, plus exactly the row's network entries,
// environment variables and paths. Nothing outside a row is granted, so a
// change here is a change of what a server may do: keep each reason true.
//
// Package names are matched as whole words in the command and its
// arguments, with any version or path around them (names_package): the npm
// package ("npx -y @scope/server@1.2", "node .../node_modules/@scope/server/dist/index.js"),
// its bin, the PyPI package ("uvx mcp-server-x", "pipx run mcp-server-x",
// ".venv/bin/mcp-server-x") and the module ("python -m mcp_server_x").
#include "catalog.hpp"

#include "match.hpp"

namespace mcpjail::wrap {

const std::vector<CatalogEntry>& catalog() {
  static const std::vector<CatalogEntry> rows = {
      // ---- reference servers with a built-in profile
      {.id = "filesystem",
       .packages = {"@modelcontextprotocol/server-filesystem", "mcp-server-filesystem"},
       .profile = "filesystem",
       .paths = {{.options = {""}, .var = "WORKSPACE", .why = "a directory the server is allowed to work in"}},
       .reason = "reads and writes the directories on its command line, nothing else"},
      {.id = "memory",
       .packages = {"@modelcontextprotocol/server-memory", "mcp-server-memory"},
       .profile = "memory",
       .reason = "keeps a knowledge graph in one file (MEMORY_FILE_PATH)"},
      {.id = "everything",
       .packages = {"@modelcontextprotocol/server-everything", "mcp-server-everything"},
       .profile = "everything",
       .reason = "the protocol's test server: nothing of the host"},
      {.id = "fetch",
       .packages = {"@modelcontextprotocol/server-fetch", "mcp-server-fetch", "mcp_server_fetch", "mcp-fetch-server"},
       .profile = "fetch",
       .reason = "fetches the web pages it is asked for: any host on ports 80 and 443, no private ranges"},
      {.id = "git",
       .packages = {"mcp-server-git", "mcp_server_git"},
       .profile = "git",
       .paths = {{.options = {"--repository", "-r"}, .var = "REPO", .why = "the repository it reads and commits to"}},
       .reason = "works on one repository (--repository)"},

      // ---- servers wrap writes a profile for: base plus these needs
      {.id = "sequential-thinking",
       .packages = {"@modelcontextprotocol/server-sequential-thinking", "mcp-server-sequential-thinking"},
       .reason = "thinks in memory: nothing of the host, no network"},
      {.id = "time",
       .packages = {"@modelcontextprotocol/server-time", "mcp-server-time", "mcp_server_time"},
       .reason = "reads the clock and the time zone database (/usr/share/zoneinfo, in base): no network"},
      {.id = "sqlite",
       .packages = {"mcp-server-sqlite", "mcp_server_sqlite"},
       .paths = {{.options = {"--db-path"},
                  .file = true,
                  .why = "the database file; SQLite writes its journal beside it, so its directory is writable"}},
       .reason = "one database file (--db-path); no network"},
      {.id = "github",
       .packages = {"@modelcontextprotocol/server-github", "mcp-server-github", "github-mcp-server"},
       .network = {"api.github.com:443"},
       .env = {"GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_TOKEN", "GITHUB_TOOLSETS", "GITHUB_READ_ONLY"},
       .reason = "calls the GitHub REST API (api.github.com) with the token it is given"},
      {.id = "gitlab",
       .packages = {"@modelcontextprotocol/server-gitlab", "mcp-server-gitlab"},
       .network = {"gitlab.com:443"},
       .env = {"GITLAB_PERSONAL_ACCESS_TOKEN", "GITLAB_API_URL"},
       .reason = "calls the GitLab API (gitlab.com; a GITLAB_API_URL of your own host needs that host added)"},
      {.id = "slack",
       .packages = {"@modelcontextprotocol/server-slack", "mcp-server-slack"},
       .network = {"slack.com:443"},
       .env = {"SLACK_BOT_TOKEN", "SLACK_TEAM_ID", "SLACK_CHANNEL_IDS"},
       .reason = "calls the Slack Web API (slack.com)"},
      {.id = "brave-search",
       .packages = {"@modelcontextprotocol/server-brave-search", "mcp-server-brave-search"},
       .network = {"api.search.brave.com:443"},
       .env = {"BRAVE_API_KEY"},
       .reason = "calls the Brave Search API (api.search.brave.com)"},
      {.id = "google-maps",
       .packages = {"@modelcontextprotocol/server-google-maps", "mcp-server-google-maps"},
       .network = {"maps.googleapis.com:443"},
       .env = {"GOOGLE_MAPS_API_KEY"},
       .reason = "calls the Google Maps Platform APIs (maps.googleapis.com)"},
      {.id = "sentry",
       .packages = {"mcp-server-sentry", "mcp_server_sentry"},
       .network = {"sentry.io:443"},
       .reason = "calls the Sentry API (sentry.io)"},
  };
  return rows;
}

std::optional<CatalogMatch> catalog_match(const std::vector<std::string>& tokens) {
  for (std::size_t i = 0; i < tokens.size(); ++i)
    for (const auto& row : catalog())
      for (const char* package : row.packages)
        if (names_package(tokens[i], package)) {
          CatalogMatch m{&row, i};
          // The last token naming it: "--package=PKG BIN DIR..." names it twice.
          for (std::size_t j = i + 1; j < tokens.size(); ++j)
            for (const char* p : row.packages)
              if (names_package(tokens[j], p)) m.index = j;
          return m;
        }
  return std::nullopt;
}

}  // namespace mcpjail::wrap
