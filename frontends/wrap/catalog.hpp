// The catalog of MCP servers `mcp-jail wrap` knows: for each, the names its
// package goes by in every form a host configuration starts it (npx, node,
// a venv's or pipx's script, `python -m`), and either the built-in profile
// written for it or what it needs - network allowlist entries, environment
// variables, path arguments - from which wrap writes a profile of its own.
// The rows are in catalog.cc, one place to review.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mcpjail::wrap {

// A path a server is given on its command line.
struct PathArg {
  // The option that precedes it ("--repository" matches "--repository DIR"
  // and "--repository=DIR"); "" for every non-option argument after the one
  // naming the package.
  std::vector<const char*> options;
  // With a built-in profile: the variable it fills (`--var NAME=PATH`; a
  // positional's second and further directories get `--write`). "": none.
  const char* var = "";
  bool file = false;      // a file: its directory is what becomes writable
  bool writable = true;   // false: visible read-only
  const char* why = "";   // for the written profile's comment
};

struct CatalogEntry {
  const char* id;  // short name: the written profile's name starts with it
  // Whole-word names of the package in each form: npm package, its bin,
  // PyPI name, script, Python module.
  std::vector<const char*> packages;
  // A built-in profile for it, or "" (wrap writes one from the needs below).
  const char* profile = "";
  std::vector<const char*> network;   // allowlist entries (host:port); none: network "none"
  std::vector<const char*> env;       // variables it needs: [env] pass
  std::vector<PathArg> paths;
  const char* reason = "";            // why it needs what it needs
};

const std::vector<CatalogEntry>& catalog();

// The first entry one of `tokens` names (in command-line order), with the
// index of the (last) token naming it.
struct CatalogMatch {
  const CatalogEntry* entry = nullptr;
  std::size_t index = 0;
};
std::optional<CatalogMatch> catalog_match(const std::vector<std::string>& tokens);

}  // namespace mcpjail::wrap
