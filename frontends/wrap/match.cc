#include "match.hpp"

#include <cctype>
#include <filesystem>
#include <map>

namespace mcpjail::wrap {

namespace {

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

}  // namespace

bool names_package(std::string_view token, std::string_view package) {
  for (std::size_t pos = token.find(package); pos != std::string_view::npos; pos = token.find(package, pos + 1)) {
    const bool start_ok = pos == 0 || (!word_char(token[pos - 1]) && token[pos - 1] != '.' && token[pos - 1] != '@');
    const std::size_t end = pos + package.size();
    const bool end_ok = end == token.size() || !word_char(token[end]);
    if (start_ok && end_ok) return true;
  }
  return false;
}

bool server_is(std::string_view token, const std::string& name) {
  static const std::map<std::string, std::vector<std::string>> others = {{"fetch", {"mcp-fetch-server"}}};
  if (auto it = others.find(name); it != others.end())
    for (const auto& package : it->second)
      if (names_package(token, package)) return true;
  return names_package(token, "@modelcontextprotocol/server-" + name) || names_package(token, "mcp-server-" + name) ||
         names_package(token, "mcp_server_" + name);
}

std::string base_name(const std::string& p) {
  const auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool fetches_at_start(const std::string& command, const std::vector<std::string>& args) {
  const std::string b = base_name(command);
  if (b == "npx" || b == "bunx" || b == "uvx" || b == "pipx") return true;
  if (b == "npm" || b == "pnpm" || b == "yarn" || b == "bun" || b == "uv")
    for (const auto& a : args)
      if (a == "exec" || a == "dlx" || a == "x" || a == "tool") return true;
  return false;
}

std::string npx_package(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "-p" || a == "--package") && i + 1 < args.size()) return args[i + 1];
    if (a.starts_with("--package=")) return a.substr(10);
    if (a == "--") continue;
    if (!a.starts_with("-")) return a;
  }
  return "PACKAGE";
}

bool container_launcher(const std::string& command) {
  const std::string b = base_name(command);
  return b == "docker" || b == "podman" || b == "nerdctl";
}

std::optional<std::string> option_value(const std::vector<std::string>& tokens, std::size_t from,
                                        const std::vector<std::string>& names) {
  for (std::size_t i = from + 1; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == "--") break;
    for (const auto& n : names) {
      if (t == n) return i + 1 < tokens.size() ? std::optional<std::string>(tokens[i + 1]) : std::nullopt;
      if (n.starts_with("--") && t.starts_with(n + "=")) return t.substr(n.size() + 1);
      if (!n.starts_with("--") && n.size() == 2 && t.size() > 2 && t.starts_with(n)) return t.substr(2);
    }
  }
  return std::nullopt;
}

std::optional<std::string> host_dir(const std::string& arg, const std::optional<std::string>& cwd,
                                    const std::string& home) {
  if (arg.empty()) return std::nullopt;
  if (arg.starts_with("${")) return arg;  // substituted by the host (VS Code)
  if (arg.starts_with("/")) return arg;
  if (arg == "~" || arg.starts_with("~/")) {
    if (home.empty() || !home.starts_with("/")) return std::nullopt;
    return home + arg.substr(1);
  }
  if (!cwd || !cwd->starts_with("/")) return std::nullopt;
  std::string joined = std::filesystem::path(*cwd + "/" + arg).lexically_normal().string();
  while (joined.size() > 1 && joined.ends_with("/")) joined.pop_back();
  return joined;
}

}  // namespace mcpjail::wrap
