// The shape of an MCP host configuration (config.hpp).
#include "config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mcpjail/frontends/wrap.hpp"
#include "mcpjail/text.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::wrap {

using nlohmann::json;
using namespace jsonc;

HostConfig read_host_config(std::string_view text) {
  if (text.size() > kMaxConfigBytes) throw WrapError("the file is larger than 8 MiB; refusing to parse it");
  HostConfig c;
  c.blanked = blank(text);
  const std::string& s = c.blanked;
  validate(text, s);
  if (const auto first_nl = s.find('\n'); first_nl != std::string::npos && first_nl > 0 && s[first_nl - 1] == '\r')
    c.nl = "\r\n";  // a file written on Windows keeps its line ends

  const std::size_t root = skip_ws(s, s.starts_with("\xEF\xBB\xBF") ? 3 : 0);
  if (root >= s.size() || s[root] != '{')
    throw WrapError(std::string("the top level is ") + kind(root < s.size() ? s[root] : 'n') +
                    ", not an object with \"mcpServers\" or \"servers\"");
  const auto top = members(s, {root, skip_value(s, root)});
  auto found = [&](const std::string& name, Span v) {
    if (s[v.b] != '{') throw WrapError("\"" + name + "\" is " + kind(s[v.b]) + ", not an object");
    c.sections.push_back({name, v});
  };
  if (const Member* m = find(top, "mcpServers")) found("mcpServers", m->value);
  if (const Member* m = find(top, "servers")) found("servers", m->value);
  if (const Member* m = find(top, "mcp")) {
    if (s[m->value.b] != '{') throw WrapError(std::string("\"mcp\" is ") + kind(s[m->value.b]) + ", not an object");
    const auto inner = members(s, m->value);
    if (const Member* srv = find(inner, "servers")) found("mcp.servers", srv->value);
  }
  if (c.sections.empty())
    throw WrapError(
        "no MCP servers in this file: expected \"mcpServers\" (Claude Desktop, Cursor), \"servers\" "
        "(VS Code mcp.json) or \"mcp\": {\"servers\"} (VS Code settings.json)");
  return c;
}

std::optional<std::vector<std::string>> string_array(const std::string& blanked, Span v) {
  const json av = value_of(blanked, v);
  if (!av.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& a : av) {
    if (!a.is_string()) return std::nullopt;
    out.push_back(a.get<std::string>());
  }
  return out;
}

std::string quote(const std::string& s) {
  try {
    return json(s).dump();
  } catch (const json::exception&) {
    throw WrapError("\"" + s + "\" is not valid UTF-8");
  }
}

std::string apply_edits(std::string_view text, std::vector<Edit> edits) {
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.b > b.b; });
  std::string out(text);
  for (const auto& e : edits) out.replace(e.b, e.e - e.b, e.text);
  return out;
}

std::string line_indent(const std::string& s, std::size_t pos) {
  std::size_t start = s.rfind('\n', pos == 0 ? 0 : pos - 1);
  start = start == std::string::npos ? 0 : start + 1;
  std::size_t e = start;
  while (e < s.size() && (s[e] == ' ' || s[e] == '\t')) ++e;
  return s.substr(start, e - start);
}

bool has_newline(const std::string& s, Span sp) {
  return std::find(s.begin() + static_cast<std::ptrdiff_t>(sp.b), s.begin() + static_cast<std::ptrdiff_t>(sp.e),
                   '\n') != s.begin() + static_cast<std::ptrdiff_t>(sp.e);
}

std::string inline_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quote(items[i]);
  return out + "]";
}

std::string array_text(const std::string& s, const std::string& nl, const Member& member,
                       const std::vector<std::string>& items) {
  const Span av = member.value;
  if (!has_newline(s, av)) return inline_array(items);
  const std::string key_indent = line_indent(s, member.key_span.b);
  std::string elem_indent = key_indent + (key_indent.find('\t') != std::string::npos ? "\t" : "  ");
  const std::size_t first = skip_ws(s, av.b + 1);
  if (first < av.e && s[first] != ']' &&
      std::find(s.begin() + static_cast<std::ptrdiff_t>(av.b), s.begin() + static_cast<std::ptrdiff_t>(first), '\n') !=
          s.begin() + static_cast<std::ptrdiff_t>(first))
    elem_indent = line_indent(s, first);
  if (items.empty()) return "[]";
  std::string text = "[" + nl;
  for (std::size_t i = 0; i < items.size(); ++i)
    text += elem_indent + quote(items[i]) + (i + 1 < items.size() ? "," : "") + nl;
  return text + key_indent + "]";
}

std::optional<std::vector<std::string>> env_file_names(const std::string& path, const std::string& dir,
                                                       const std::string& home, std::string* why) {
  const std::string shown = "\"envFile\" " + path;
  if (path.find("${") != std::string::npos) {
    *why = shown + " holds a variable of the host's";
    return std::nullopt;
  }
  std::string full = path;
  if (full.starts_with("~/") && !home.empty()) full = home + full.substr(1);
  if (!full.starts_with("/")) full = dir + "/" + full;
  mcpjail::UniqueFd fd(::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    *why = shown + " could not be read as a file of at most 1 MiB";
    return std::nullopt;
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  std::vector<std::string> names;
  std::size_t from = 0;
  while (from < text.size()) {
    std::size_t nl = text.find('\n', from);
    if (nl == std::string::npos) nl = text.size();
    std::string line(trim(std::string_view(text).substr(from, nl - from)));
    from = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line.starts_with("export ")) line = std::string(trim(std::string_view(line).substr(7)));
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string name(trim(std::string_view(line).substr(0, eq)));
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  }
  return names;
}

}  // namespace mcpjail::wrap
