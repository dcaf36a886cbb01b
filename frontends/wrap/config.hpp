// The shape of an MCP host configuration, shared by `mcp-jail wrap` and
// `mcp-jail unwrap`: the file read as JSONC (jsonc.hpp), its server sections,
// an entry's "command" and "args", and "args" written back in the layout the
// file already uses.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jsonc.hpp"

namespace mcpjail::wrap {

struct HostConfig {
  std::string blanked;     // the text with comments and trailing commas blanked (jsonc::blank)
  std::string nl = "\n";   // "\r\n" for a file written on Windows
  struct Section {
    std::string name;      // "mcpServers", "servers" or "mcp.servers"
    jsonc::Span value;     // the object of the servers
  };
  std::vector<Section> sections;
};

// A replacement of [b, e) of a configuration's text by `text`.
struct Edit {
  std::size_t b, e;
  std::string text;
};

// `text` with `edits` made (they must not overlap; any order).
std::string apply_edits(std::string_view text, std::vector<Edit> edits);

// Reads a configuration: validates it and finds its server sections (every
// shape present, in the order above). Throws WrapError: a syntax error, a top
// level that is not an object, no server section, a section that is not an
// object, a file larger than kMaxConfigBytes.
HostConfig read_host_config(std::string_view text);

// The array of strings at `v`; nullopt when it is not one.
std::optional<std::vector<std::string>> string_array(const std::string& blanked, jsonc::Span v);

// A JSON string literal for `s`; throws WrapError when it is not valid UTF-8.
std::string quote(const std::string& s);

// `items` as the text of the array member `member` of an entry: one element
// a line, indented as the member's own elements (or one level below its key),
// when the current array spans lines; else on one line, ["a", "b"].
std::string array_text(const std::string& blanked, const std::string& nl, const jsonc::Member& member,
                       const std::vector<std::string>& items);

// ["a", "b"]
std::string inline_array(const std::vector<std::string>& items);

// Leading spaces and tabs of the line holding `pos`.
std::string line_indent(const std::string& s, std::size_t pos);

// The names an "envFile" (dotenv: NAME=VALUE lines, # comments, "export
// NAME=VALUE") defines, in file order; `path` relative to `dir`, a leading
// "~/" from `home`. nullopt with *why set when it cannot be read (a host
// variable such as ${workspaceFolder} in it, missing, not a regular file,
// larger than 1 MiB). Values are never kept.
std::optional<std::vector<std::string>> env_file_names(const std::string& path, const std::string& dir,
                                                       const std::string& home, std::string* why);

// Whether [sp.b, sp.e) of `s` holds a newline.
bool has_newline(const std::string& s, jsonc::Span sp);

}  // namespace mcpjail::wrap
