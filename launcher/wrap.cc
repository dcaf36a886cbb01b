// `mcp-jail wrap`: rewrite an MCP host configuration so that its stdio servers
// start through `mcp-jail run`. See wrap.hpp for the shapes, the rules and
// what is left alone.
//
// The file is edited in place, not re-serialised: nlohmann-json validates the
// whole document (after comments and trailing commas are blanked out, byte for
// byte, so positions stay those of the file), a small scanner over the same
// blanked text finds the byte spans of the servers' "command" and "args"
// values, and only those spans are replaced. Comments, key order, spacing and
// unknown keys survive, and the diff shows exactly what changed.
#include "mcpjail/wrap.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "mcpjail/errors.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail {

namespace {

using nlohmann::json;

// ------------------------------------------------------------------ JSONC

struct LineCol {
  std::size_t line = 1, column = 1;
};

// 1-based line and column (in UTF-8 characters) of byte offset `pos`.
LineCol line_col(std::string_view text, std::size_t pos) {
  LineCol lc;
  pos = std::min(pos, text.size());
  for (std::size_t i = 0; i < pos; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++lc.line;
      lc.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++lc.column;
    }
  }
  return lc;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The text with comments and trailing commas replaced by spaces (newlines
// kept), so that it is strict JSON with the same byte offsets and lines.
std::string blank_jsonc(std::string_view text) {
  std::string out(text);
  const std::size_t n = out.size();
  std::size_t pending_comma = std::string::npos;  // a ',' that may be trailing
  char before_comma = 0;                          // significant char before it
  char last = 0;                                  // last significant char
  auto significant = [&](char c, std::size_t pos) {
    if (pending_comma != std::string::npos && (c == '}' || c == ']') && before_comma != '[' &&
        before_comma != '{' && before_comma != ',')
      out[pending_comma] = ' ';
    pending_comma = std::string::npos;
    if (c == ',') {
      pending_comma = pos;
      before_comma = last;
    }
    last = c;
  };
  std::size_t i = 0;
  while (i < n) {
    const char c = out[i];
    if (is_ws(c)) {
      ++i;
    } else if (c == '/' && i + 1 < n && out[i + 1] == '/') {
      while (i < n && out[i] != '\n') out[i++] = ' ';
    } else if (c == '/' && i + 1 < n && out[i + 1] == '*') {
      const std::size_t start = i;
      const auto end = out.find("*/", i + 2);
      if (end == std::string::npos) {
        const LineCol lc = line_col(text, start);
        throw WrapError("unterminated /* comment", lc.line, lc.column);
      }
      for (; i < end + 2; ++i)
        if (out[i] != '\n' && out[i] != '\r') out[i] = ' ';
    } else if (c == '"') {
      significant(c, i);
      ++i;
      while (i < n && out[i] != '"' && out[i] != '\n') i += out[i] == '\\' ? 2 : 1;
      if (i < n && out[i] == '"') ++i;
    } else {
      significant(c, i);
      ++i;
    }
  }
  return out;
}

// Validates strict JSON without building a document.
struct NullSax : nlohmann::json_sax<json> {
  std::size_t error_pos = 0;
  std::string error;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    error_pos = position;
    error = ex.what();
    return false;
  }
};

void validate_json(std::string_view original, const std::string& blanked) {
  NullSax sax;
  if (json::sax_parse(blanked, &sax)) return;
  // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
  std::string msg = sax.error;
  if (const auto p = msg.find("parse error"); p != std::string::npos)
    if (const auto colon = msg.find(": ", p); colon != std::string::npos) msg = msg.substr(colon + 2);
  // nlohmann's position is that of the last character read, counting from 1
  // (one past the end at the end of the input); point at the start of the
  // token instead, except inside a string, where that character is the culprit.
  std::size_t at = std::min(sax.error_pos > 0 ? sax.error_pos - 1 : 0, blanked.size());
  auto literal = [&](std::size_t i) {
    const char c = blanked[i];
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  };
  if (at < blanked.size() && msg.find("invalid string") == std::string::npos) {
    if (blanked[at] == '"') {
      for (std::size_t j = at; j > 0;) {
        j = blanked.rfind('"', j - 1);
        if (j == std::string::npos) break;
        std::size_t slashes = 0;
        while (j > slashes && blanked[j - 1 - slashes] == '\\') ++slashes;
        if (slashes % 2 == 0) {
          at = j;
          break;
        }
      }
    } else {
      if (!literal(at) && at > 0 && literal(at - 1) && msg.find("invalid literal") != std::string::npos) --at;
      if (literal(at))
        while (at > 0 && literal(at - 1)) --at;
    }
  }
  const LineCol lc = line_col(original, at);
  throw WrapError("invalid JSON: " + msg, lc.line, lc.column);
}

// ------------------------------------------------------- span scanner
// Runs over validated, blanked text: every construct is well formed.

struct Span {
  std::size_t b = 0, e = 0;
};

struct Member {
  std::string key;
  Span key_span;
  Span value;
};

std::size_t skip_ws(const std::string& s, std::size_t i) {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

std::size_t skip_string(const std::string& s, std::size_t i) {
  ++i;
  while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
  return std::min(i + 1, s.size());
}

// Index just past the value starting at `i`. Iterative: nesting depth is unbounded.
std::size_t skip_value(const std::string& s, std::size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    std::size_t depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  while (i < s.size() && !is_ws(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i;
}

std::vector<Member> members(const std::string& s, Span obj) {
  std::vector<Member> out;
  std::size_t i = skip_ws(s, obj.b + 1);
  while (i < obj.e && s[i] == '"') {
    Member m;
    m.key_span = {i, skip_string(s, i)};
    m.key = json::parse(s.substr(m.key_span.b, m.key_span.e - m.key_span.b)).get<std::string>();
    i = skip_ws(s, m.key_span.e);
    i = skip_ws(s, i + 1);  // ':'
    m.value = {i, skip_value(s, i)};
    out.push_back(std::move(m));
    i = skip_ws(s, m.value.e);
    if (i < obj.e && s[i] == ',') i = skip_ws(s, i + 1);
  }
  return out;
}

// JSON objects may repeat a key; like JSON.parse, the last one counts.
const Member* find(const std::vector<Member>& ms, std::string_view key) {
  const Member* found = nullptr;
  for (const auto& m : ms)
    if (m.key == key) found = &m;
  return found;
}

json value_of(const std::string& s, Span v) { return json::parse(s.substr(v.b, v.e - v.b)); }

const char* kind(char first) {
  switch (first) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
  }
}

// ------------------------------------------------------------ matching

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

// `token` names `package` as a whole word, e.g. "pkg", "pkg@1.2", "pkg==0.6", ".../pkg/dist/x.js".
bool names_package(std::string_view token, std::string_view package) {
  for (std::size_t pos = token.find(package); pos != std::string_view::npos; pos = token.find(package, pos + 1)) {
    const bool start_ok = pos == 0 || (!word_char(token[pos - 1]) && token[pos - 1] != '.' && token[pos - 1] != '@');
    const std::size_t end = pos + package.size();
    const bool end_ok = end == token.size() || !word_char(token[end]);
    if (start_ok && end_ok) return true;
  }
  return false;
}

// The reference-server package names that a built-in profile NAME matches,
// and the other packages a built-in profile is written for.
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

// Package runners that download the server when it starts (npx -y PKG, uvx PKG).
bool fetches_at_start(const std::string& command, const std::vector<std::string>& args) {
  const std::string b = base_name(command);
  if (b == "npx" || b == "bunx" || b == "uvx" || b == "pipx") return true;
  if (b == "npm" || b == "pnpm" || b == "yarn" || b == "bun" || b == "uv")
    for (const auto& a : args)
      if (a == "exec" || a == "dlx" || a == "x" || a == "tool") return true;
  return false;
}

// The package an npx command line runs: --package's value, else the first
// argument that is not an option.
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

// A directory argument of the filesystem server as a host path for --var/--write.
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

std::string quote(const std::string& s) {
  try {
    return json(s).dump();
  } catch (const json::exception&) {
    throw WrapError("\"" + s + "\" is not valid UTF-8");
  }
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// What a profile asks for, found by loading it (built-ins load from memory).
struct ProfileInfo {
  bool loadable = false;        // with the variables wrap can supply
  bool needs_workspace = false; // ${WORKSPACE}
  std::string error;            // why not loadable
  bool no_network = false;       // network = "none"
  std::string name;              // the profile's name (its ${PROFILE_STATE})
  std::vector<std::string> env_pass;
  std::map<std::string, std::string> env_set;
};

ProfileInfo inspect_profile(const std::string& spec, const std::string& home) {
  ProfileInfo info;
  LoadOptions lo;
  lo.home = home.starts_with("/") ? home : "/home/user";
  lo.pwd = "/";
  auto attempt = [&](bool with_workspace) -> bool {
    lo.vars.clear();
    if (with_workspace) lo.vars["WORKSPACE"] = "/mcp-jail-wrap/workspace";
    try {
      const Profile p = load_profile(spec, lo);
      info.env_pass = p.env.pass;
      info.env_set = p.env.set;
      info.no_network = p.network.mode == NetMode::None;
      info.name = p.name;
      return true;
    } catch (const std::exception& e) {
      info.error = first_line(e.what());
      return false;
    }
  };
  if (attempt(false)) {
    info.loadable = true;
  } else if (attempt(true)) {
    info.loadable = info.needs_workspace = true;
    info.error.clear();
  }
  return info;
}

bool env_passes(const ProfileInfo& info, const std::string& name) {
  if (info.env_set.count(name)) return true;
  for (const auto& p : info.env_pass) {
    if (p.ends_with("*") ? name.starts_with(std::string_view(p).substr(0, p.size() - 1)) : name == p) return true;
  }
  return false;
}

// Leading spaces and tabs of the line holding `pos`.
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

struct Edit {
  std::size_t b, e;
  std::string text;
};

class Wrapper {
 public:
  Wrapper(std::string_view original, const WrapOptions& o) : original_(original), opts_(o) {
    for (const auto& b : builtin_profiles())
      if (std::string_view(b.name) != "base") candidates_.emplace_back(b.name);
  }

  WrapResult run() {
    if (original_.size() > kMaxConfigBytes) throw WrapError("the file is larger than 8 MiB; refusing to parse it");
    if (opts_.jail_path.empty() || !opts_.jail_path.starts_with("/"))
      throw WrapError("the path of mcp-jail must be absolute, not \"" + opts_.jail_path + "\"");
    quote(opts_.jail_path);
    if (!opts_.profile.empty()) {
      quote(opts_.profile);
      const ProfileInfo& info = profile_info(opts_.profile);
      if (!info.loadable) throw WrapError("--profile " + opts_.profile + ": " + info.error);
    }
    s_ = blank_jsonc(original_);
    validate_json(original_, s_);
    if (const auto first_nl = s_.find('\n'); first_nl != std::string::npos && first_nl > 0 && s_[first_nl - 1] == '\r')
      nl_ = "\r\n";  // a file written on Windows keeps its line ends

    std::size_t root = skip_ws(s_, s_.starts_with("\xEF\xBB\xBF") ? 3 : 0);
    if (root >= s_.size() || s_[root] != '{')
      throw WrapError(std::string("the top level is ") + kind(root < s_.size() ? s_[root] : 'n') +
                      ", not an object with \"mcpServers\" or \"servers\"");
    const auto top = members(s_, {root, skip_value(s_, root)});
    bool any = false;
    auto found = [&](const std::string& name, Span v) {
      section(name, v);
      any = true;
    };
    if (const Member* m = find(top, "mcpServers")) found("mcpServers", m->value);
    if (const Member* m = find(top, "servers")) found("servers", m->value);
    if (const Member* m = find(top, "mcp")) {
      if (s_[m->value.b] != '{')
        throw WrapError(std::string("\"mcp\" is ") + kind(s_[m->value.b]) + ", not an object");
      const auto inner = members(s_, m->value);
      if (const Member* srv = find(inner, "servers")) found("mcp.servers", srv->value);
    }
    if (!any)
      throw WrapError(
          "no MCP servers in this file: expected \"mcpServers\" (Claude Desktop, Cursor), \"servers\" "
          "(VS Code mcp.json) or \"mcp\": {\"servers\"} (VS Code settings.json)");

    std::sort(edits_.begin(), edits_.end(), [](const Edit& a, const Edit& b) { return a.b > b.b; });
    result_.text.assign(original_);
    for (const auto& e : edits_) result_.text.replace(e.b, e.e - e.b, e.text);
    result_.changed = !edits_.empty();
    return std::move(result_);
  }

 private:
  void section(const std::string& name, Span v) {
    if (s_[v.b] != '{') throw WrapError("\"" + name + "\" is " + kind(s_[v.b]) + ", not an object");
    for (const auto& m : members(s_, v)) server(name, m);
  }

  const ProfileInfo& profile_info(const std::string& spec) {
    auto it = profiles_.find(spec);
    if (it != profiles_.end()) return it->second;
    if (is_profile_path(spec)) return profiles_.emplace(spec, inspect_profile(spec, opts_.home)).first->second;
    // Built-in profiles never change: inspect each once per process.
    static std::mutex mu;
    static std::map<std::pair<std::string, std::string>, ProfileInfo> builtin;
    std::lock_guard<std::mutex> lock(mu);
    auto key = std::make_pair(spec, opts_.home);
    auto b = builtin.find(key);
    if (b == builtin.end()) b = builtin.emplace(key, inspect_profile(spec, opts_.home)).first;
    return profiles_.emplace(spec, b->second).first->second;
  }

  // The names in an entry's "env" object, in file order, each once.
  std::vector<std::string> env_keys(const std::vector<Member>& ms) const {
    std::vector<std::string> keys;
    const Member* e = find(ms, "env");
    if (!e || s_[e->value.b] != '{') return keys;
    for (const auto& k : members(s_, e->value))
      if (std::find(keys.begin(), keys.end(), k.key) == keys.end()) keys.push_back(k.key);
    return keys;
  }

  // An entry wrapped already is left as it is; but "env" names that neither
  // an --env of its arguments nor its profile passes on reach mcp-jail and
  // stop there (an entry wrapped before wrap wrote --env, or by hand).
  std::string already_wrapped_note(const std::vector<Member>& ms, const std::vector<std::string>& args) {
    std::string note = "already runs through mcp-jail";
    std::vector<std::string> passed;
    std::string profile;
    for (std::size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
      std::string a = args[i];
      if (a == "--env" && i + 1 < args.size()) a = args[++i];
      else if (a.starts_with("--env=")) a = a.substr(6);
      else if (a.starts_with("-")) {
        if (a.find('=') == std::string::npos) ++i;  // the option's value
        continue;
      } else {
        if (profile.empty()) profile = a;
        continue;
      }
      passed.push_back(a.substr(0, a.find('=')));
    }
    // What the profile passes decides too; when it cannot be inspected
    // (a variable wrap cannot tell), nothing is claimed.
    if (profile.empty()) return note;
    const ProfileInfo& info = profile_info(profile);
    if (!info.loadable) return note;
    std::string missing;
    for (const auto& name : env_keys(ms)) {
      if (std::find(passed.begin(), passed.end(), name) != passed.end()) continue;
      if (env_passes(info, name) || !is_env_name(name)) continue;
      missing += (missing.empty() ? "" : ", ") + name;
    }
    if (!missing.empty())
      note += "; env " + missing + " reach mcp-jail but not the server: add \"--env\", \"NAME\" before \"--\" for each";
    return note;
  }

  void server(const std::string& sec, const Member& m) {
    ServerReport r;
    r.section = sec;
    r.name = m.key;
    auto done = [&](WrapAction a, std::string note) {
      r.action = a;
      r.note = std::move(note);
      result_.servers.push_back(std::move(r));
    };
    if (s_[m.value.b] != '{') return done(WrapAction::Skipped, std::string("the entry is ") + kind(s_[m.value.b]) + ", not an object");
    const auto ms = members(s_, m.value);

    for (const char* key : {"type", "transportType"}) {
      if (const Member* t = find(ms, key)) {
        const json tv = value_of(s_, t->value);
        if (!tv.is_string()) return done(WrapAction::Skipped, std::string("\"") + key + "\" is not a string");
        if (tv.get<std::string>() != "stdio")
          return done(WrapAction::NotStdio, "not a stdio server (" + std::string(key) + " \"" + tv.get<std::string>() + "\")");
      }
    }
    if (!find(ms, "type") && !find(ms, "transportType"))
      for (const char* key : {"url", "serverUrl"})
        if (find(ms, key)) return done(WrapAction::NotStdio, std::string("not a stdio server (has \"") + key + "\")");

    const Member* cmd_m = find(ms, "command");
    if (!cmd_m) return done(WrapAction::Skipped, "no \"command\"");
    const json cmd_v = value_of(s_, cmd_m->value);
    if (!cmd_v.is_string() || cmd_v.get<std::string>().empty())
      return done(WrapAction::Skipped, "\"command\" is not a non-empty string");
    const std::string command = cmd_v.get<std::string>();
    const Member* args_m = find(ms, "args");
    std::vector<std::string> args;
    if (args_m) {
      const json av = value_of(s_, args_m->value);
      if (!av.is_array()) return done(WrapAction::Skipped, "\"args\" is not an array");
      for (const auto& a : av) {
        if (!a.is_string()) return done(WrapAction::Skipped, "\"args\" holds something other than strings");
        args.push_back(a.get<std::string>());
      }
    }
    std::optional<std::string> cwd;
    if (const Member* c = find(ms, "cwd")) {
      const json cv = value_of(s_, c->value);
      if (cv.is_string()) cwd = cv.get<std::string>();
    }

    if (base_name(command) == "mcp-jail") {
      if (!args.empty() && args[0] == "run") return done(WrapAction::AlreadyWrapped, already_wrapped_note(ms, args));
      return done(WrapAction::Skipped, "the command is mcp-jail itself");
    }
    if (container_launcher(command))
      return done(WrapAction::Skipped, "runs in a container (" + base_name(command) +
                                           "); its runtime isolates it, and a jail would cut it off from the daemon");

    // Which reference server is this?
    std::vector<std::string> tokens{command};
    tokens.insert(tokens.end(), args.begin(), args.end());
    std::string matched;
    std::optional<std::size_t> fs_index;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (server_is(tokens[i], "filesystem")) fs_index = i;  // the last: --package=PKG BIN DIR...
      if (matched.empty())
        for (const auto& c : candidates_)
          if (server_is(tokens[i], c)) {
            matched = c;
            break;
          }
    }

    // The server's directories: a filesystem server's arguments, else its cwd.
    std::vector<std::string> dirs;
    std::string unusable_dir;
    if (fs_index) {
      for (std::size_t i = *fs_index + 1; i < tokens.size(); ++i) {
        if (tokens[i].starts_with("-")) continue;
        if (auto d = host_dir(tokens[i], cwd, opts_.home)) {
          if (std::find(dirs.begin(), dirs.end(), *d) == dirs.end()) dirs.push_back(*d);
        } else if (unusable_dir.empty()) {
          unusable_dir = tokens[i];
        }
      }
    } else if (cwd && cwd->starts_with("/")) {
      dirs.push_back(*cwd);
    }

    std::string profile = opts_.profile.empty() ? (matched.empty() ? "base" : matched) : opts_.profile;
    std::string fallback_note;
    const ProfileInfo* info = &profile_info(profile);
    auto cannot = [&]() -> std::string {
      if (!info->loadable) return "profile " + profile + " does not load as is: " + info->error;
      if (info->needs_workspace && dirs.empty())
        return "profile " + profile + " needs ${WORKSPACE}, and " +
               (unusable_dir.empty() ? std::string("the entry names no directory")
                                     : "the directory argument \"" + unusable_dir + "\" is relative (and no absolute \"cwd\")");
      return {};
    };
    if (std::string why = cannot(); !why.empty()) {
      if (!opts_.profile.empty()) return done(WrapAction::Skipped, why);
      fallback_note = why + "; using base";
      profile = "base";
      info = &profile_info(profile);
      if (std::string why2 = cannot(); !why2.empty()) return done(WrapAction::Skipped, why2);
    }

    std::vector<std::string> jail_args;
    if (info->needs_workspace) {
      jail_args = {"--var", "WORKSPACE=" + dirs[0]};
      for (std::size_t i = 1; i < dirs.size(); ++i) {
        jail_args.push_back("--write");
        jail_args.push_back(dirs[i]);
      }
    }

    std::vector<std::string> notes;
    if (!fallback_note.empty()) notes.push_back(fallback_note);
    // The host puts the "env" block in mcp-jail's environment; --env NAME
    // passes exactly those names on (the jail's environment is an allowlist).
    // The block itself stays as it is.
    std::string unpassable, replaced;
    for (const auto& name : env_keys(ms)) {
      if (info->env_set.count(name)) {
        // The profile's own value wins: --env would override it (the memory
        // profile's MEMORY_FILE_PATH points into the only writable place).
        replaced += (replaced.empty() ? "" : ", ") + name;
      } else if (is_env_name(name)) {
        jail_args.push_back("--env");
        jail_args.push_back(name);
      } else {
        unpassable += (unpassable.empty() ? "\"" : ", \"") + name + "\"";
      }
    }
    if (!unpassable.empty())
      notes.push_back("env " + unpassable + " not passed into the jail: not a variable name (letters, digits, _)");
    if (!replaced.empty())
      notes.push_back("env " + replaced + ": profile " + profile + " sets its own value ([env] set), this one is not used");
    if (info->no_network && base_name(command) == "npx")
      notes.push_back("npx runs offline in the jail, from profile " + profile +
                      "'s own npm cache; fill it once, outside the jail: npm_config_cache=${XDG_STATE_HOME:-$HOME/"
                      ".local/state}/mcp-jail/" + info->name + "/npm npm exec --yes --ignore-scripts --package=" +
                      npx_package(args) + " -- true (as root, then chown -R the profile's directory to nobody)");
    else if (info->no_network && fetches_at_start(command, args))
      notes.push_back(base_name(command) + " fetches the server when it starts, but profile " + profile +
                      " has no network: install the package and start it with node or python instead");
    else if (base_name(command) != "npx" && fetches_at_start(command, args))
      notes.push_back(base_name(command) + " keeps the server it fetches in a cache of its own, writable in the jail only if "
                      "profile " + profile + " lists it: install the package and start it with node or python instead");
    if (find(ms, "envFile"))
      notes.push_back("variables from \"envFile\" reach the server only if profile " + profile + " passes them");

    // The new "args": run PROFILE [jail args] -- COMMAND ARGS...
    std::vector<std::string> new_args{"run", profile};
    new_args.insert(new_args.end(), jail_args.begin(), jail_args.end());
    new_args.push_back("--");
    new_args.insert(new_args.end(), tokens.begin(), tokens.end());

    edits_.push_back({cmd_m->value.b, cmd_m->value.e, quote(opts_.jail_path)});
    if (args_m) {
      std::string text;
      const Span av = args_m->value;
      if (has_newline(s_, av)) {
        const std::string key_indent = line_indent(s_, args_m->key_span.b);
        std::string elem_indent = key_indent + (key_indent.find('\t') != std::string::npos ? "\t" : "  ");
        const std::size_t first = skip_ws(s_, av.b + 1);
        if (first < av.e && s_[first] != ']' &&
            std::find(s_.begin() + static_cast<std::ptrdiff_t>(av.b), s_.begin() + static_cast<std::ptrdiff_t>(first),
                      '\n') != s_.begin() + static_cast<std::ptrdiff_t>(first))
          elem_indent = line_indent(s_, first);
        text = "[" + nl_;
        for (std::size_t i = 0; i < new_args.size(); ++i)
          text += elem_indent + quote(new_args[i]) + (i + 1 < new_args.size() ? "," : "") + nl_;
        text += key_indent + "]";
      } else {
        text = inline_array(new_args);
      }
      edits_.push_back({av.b, av.e, std::move(text)});
    } else {
      const std::string sep =
          has_newline(s_, m.value) ? "," + nl_ + line_indent(s_, cmd_m->key_span.b) : std::string(", ");
      edits_.push_back({cmd_m->value.e, cmd_m->value.e, sep + "\"args\": " + inline_array(new_args)});
    }

    r.profile = profile;
    r.jail_args = jail_args;
    std::string note;
    for (const auto& n : notes) note += (note.empty() ? "" : "\n") + n;
    done(WrapAction::Wrapped, note);
  }

  std::string_view original_;
  const WrapOptions& opts_;
  std::string s_;  // blanked text
  std::string nl_ = "\n";
  std::vector<std::string> candidates_;
  std::map<std::string, ProfileInfo> profiles_;
  std::vector<Edit> edits_;
  WrapResult result_;
};

}  // namespace

WrapResult wrap_config(std::string_view text, const WrapOptions& options) { return Wrapper(text, options).run(); }

// ------------------------------------------------------------------ diff

namespace {

// Lines with their '\n', so that a last line without one differs from the same
// line with one.
std::vector<std::string_view> split_lines(std::string_view t) {
  std::vector<std::string_view> lines;
  for (std::size_t i = 0; i < t.size();) {
    const auto nl = t.find('\n', i);
    const std::size_t end = nl == std::string_view::npos ? t.size() : nl + 1;
    lines.push_back(t.substr(i, end - i));
    i = end;
  }
  return lines;
}

enum class Op : char { Equal = ' ', Del = '-', Ins = '+' };

struct Step {
  Op op;
  std::size_t a, b;  // line index in before / after (the one that applies)
};

// Myers' O(ND) shortest edit script over the middle [a0, a1) x [b0, b1).
// Gives up (and replaces the whole middle) beyond kMaxD edits.
std::vector<Step> edit_script(const std::vector<std::string_view>& A, const std::vector<std::string_view>& B) {
  std::size_t pre = 0;
  while (pre < A.size() && pre < B.size() && A[pre] == B[pre]) ++pre;
  std::size_t suf = 0;
  while (suf < A.size() - pre && suf < B.size() - pre && A[A.size() - 1 - suf] == B[B.size() - 1 - suf]) ++suf;
  const long N = static_cast<long>(A.size() - pre - suf), M = static_cast<long>(B.size() - pre - suf);
  auto a = [&](long i) { return A[pre + static_cast<std::size_t>(i)]; };
  auto b = [&](long j) { return B[pre + static_cast<std::size_t>(j)]; };

  std::vector<Step> mid;  // built backwards
  constexpr long kMaxD = 2000;
  const long max = N + M;
  std::vector<long> V(static_cast<std::size_t>(2 * max + 3), 0);
  const long off = max + 1;
  std::vector<std::vector<long>> trace;  // trace[d][k + d] = V[k] after step d
  long found = -1;
  for (long d = 0; d <= std::min(max, kMaxD) && found < 0; ++d) {
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && V[off + k - 1] < V[off + k + 1])) ? V[off + k + 1] : V[off + k - 1] + 1;
      long y = x - k;
      while (x < N && y < M && a(x) == b(y)) ++x, ++y;
      V[off + k] = x;
      if (x >= N && y >= M) found = d;
    }
    trace.emplace_back(V.begin() + off - d, V.begin() + off + d + 1);
  }
  if (found < 0) {
    for (long j = M - 1; j >= 0; --j) mid.push_back({Op::Ins, 0, static_cast<std::size_t>(j)});
    for (long i = N - 1; i >= 0; --i) mid.push_back({Op::Del, static_cast<std::size_t>(i), 0});
  } else {
    long x = N, y = M;
    for (long d = found; d > 0; --d) {
      const auto& P = trace[static_cast<std::size_t>(d - 1)];
      auto pv = [&](long k) { return P[static_cast<std::size_t>(k + d - 1)]; };
      const long k = x - y;
      const long pk = (k == -d || (k != d && pv(k - 1) < pv(k + 1))) ? k + 1 : k - 1;
      const long px = pv(pk), py = px - pk;
      while (x > px && y > py) --x, --y, mid.push_back({Op::Equal, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
      if (x == px) mid.push_back({Op::Ins, static_cast<std::size_t>(x), static_cast<std::size_t>(--y)});
      else mid.push_back({Op::Del, static_cast<std::size_t>(--x), static_cast<std::size_t>(y)});
    }
    while (x > 0 && y > 0) --x, --y, mid.push_back({Op::Equal, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
  }
  std::vector<Step> out;
  for (std::size_t i = 0; i < pre; ++i) out.push_back({Op::Equal, i, i});
  for (auto it = mid.rbegin(); it != mid.rend(); ++it) out.push_back({it->op, it->a + pre, it->b + pre});
  for (std::size_t i = 0; i < suf; ++i)
    out.push_back({Op::Equal, A.size() - suf + i, B.size() - suf + i});
  return out;
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, const std::string& from_name,
                         const std::string& to_name) {
  if (before == after) return {};
  const auto A = split_lines(before), B = split_lines(after);
  const auto steps = edit_script(A, B);
  constexpr std::size_t kContext = 3;
  std::string out = "--- " + from_name + "\n+++ " + to_name + "\n";
  // Lines consumed before each step.
  std::vector<std::size_t> apos(steps.size() + 1), bpos(steps.size() + 1);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    apos[i + 1] = apos[i] + (steps[i].op != Op::Ins);
    bpos[i + 1] = bpos[i] + (steps[i].op != Op::Del);
  }
  auto line_of = [&](const Step& s) -> std::string {
    const std::string_view line = s.op == Op::Ins ? B[s.b] : A[s.a];
    std::string l = static_cast<char>(s.op) + std::string(line);
    if (!line.ends_with('\n')) l += "\n\\ No newline at end of file\n";
    return l;
  };
  std::size_t i = 0;
  while (i < steps.size()) {
    std::size_t c = i;
    while (c < steps.size() && steps[c].op == Op::Equal) ++c;
    if (c == steps.size()) break;
    const std::size_t start = c - std::min(kContext, c - i);
    std::size_t last = c, j = c;
    while (j < steps.size() && (steps[j].op != Op::Equal || j - last <= 2 * kContext)) {
      if (steps[j].op != Op::Equal) last = j;
      ++j;
    }
    const std::size_t end = std::min(last + kContext + 1, steps.size());
    const std::size_t na = apos[end] - apos[start], nb = bpos[end] - bpos[start];
    out += "@@ -" + std::to_string(na ? apos[start] + 1 : apos[start]) + "," + std::to_string(na) + " +" +
           std::to_string(nb ? bpos[start] + 1 : bpos[start]) + "," + std::to_string(nb) + " @@\n";
    for (std::size_t k = start; k < end; ++k) out += line_of(steps[k]);
    i = end;
  }
  return out;
}

// ------------------------------------------------------------------ CLI

namespace {

constexpr const char* kWrapUsage =
    "usage: mcp-jail wrap CONFIG.json [--dry-run] [--profile NAME]\n"
    "\n"
    "Rewrites an MCP host configuration (Claude Desktop, Cursor: \"mcpServers\"; VS Code\n"
    "mcp.json: \"servers\"; VS Code settings.json: \"mcp\": {\"servers\"}) so that each stdio\n"
    "server starts as `mcp-jail run PROFILE -- COMMAND ARGS...`. A backup is written first\n"
    "(CONFIG.json.mcp-jail.bak); --dry-run prints the change as a diff and writes nothing.\n"
    "Servers of the reference packages (@modelcontextprotocol/server-NAME, mcp-server-NAME)\n"
    "get the built-in profile NAME when there is one (mcp-fetch-server gets fetch), others\n"
    "get base; --profile NAME (a built-in name or a .toml path) is used for every server\n"
    "instead.\n";

int wrap_usage(const std::string& msg) {
  std::fprintf(stderr, "mcp-jail: wrap: %s\n%s", msg.c_str(), kWrapUsage);
  return kExitLauncherError;
}

int wrap_fail(const std::string& msg) {
  std::fprintf(stderr, "mcp-jail: wrap: %s\nmcp-jail: wrap: nothing was changed\n", msg.c_str());
  return kExitLauncherError;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Writes `data` to a new file `path` (never over an existing one) with the
// original's mode and owner, and syncs it. Errno on failure, 0 on success.
int write_new_file(const std::string& path, std::string_view data, const struct stat& like, bool exclusive_name,
                   int fd = -1) {
  if (fd < 0 && exclusive_name)
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = 0;
  if (::geteuid() == 0 && ::fchown(fd, like.st_uid, like.st_gid) != 0) err = errno;
  if (!err && ::fchmod(fd, like.st_mode & 07777) != 0) err = errno;
  if (!err && !write_all(fd, data)) err = errno;
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (err) ::unlink(path.c_str());
  return err;
}

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

const char* action_text(WrapAction a) {
  switch (a) {
    case WrapAction::Wrapped: return "wrapped";
    case WrapAction::AlreadyWrapped: return "left as is";
    case WrapAction::NotStdio: return "left as is";
    case WrapAction::Skipped: return "NOT wrapped";
  }
  return "";
}

}  // namespace

int wrap_main(int argc, char** argv) {
  std::string config, profile;
  bool dry_run = false, have_config = false, options_done = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (!options_done && (a == "--help" || a == "-h")) {
      std::fputs(kWrapUsage, stdout);
      return 0;
    }
    if (!options_done && a == "--") {
      options_done = true;
    } else if (!options_done && a == "--dry-run") {
      dry_run = true;
    } else if (!options_done && (a == "--profile" || a.starts_with("--profile="))) {
      if (a == "--profile") {
        if (i + 1 >= argc) return wrap_usage("--profile needs a NAME");
        profile = argv[++i];
      } else {
        profile = a.substr(10);
      }
      if (profile.empty()) return wrap_usage("--profile needs a NAME");
    } else if (!options_done && a.starts_with("-") && a != "-") {
      return wrap_usage("unknown option '" + a + "'");
    } else if (have_config) {
      return wrap_usage("unexpected argument '" + a + "' (one CONFIG.json at a time)");
    } else {
      config = a;
      have_config = true;
    }
  }
  if (!have_config || config.empty()) return wrap_usage("no CONFIG.json given");

  WrapOptions opts;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof self - 1)) return wrap_fail(errno_text("cannot find this program's path (/proc/self/exe)", errno));
  opts.jail_path.assign(self, static_cast<std::size_t>(n));
  if (const char* h = std::getenv("HOME")) opts.home = h;
  if (!profile.empty() && is_profile_path(profile)) {  // the host starts mcp-jail elsewhere: make it absolute
    std::error_code ec;
    profile = std::filesystem::absolute(profile, ec).lexically_normal().string();
  }
  opts.profile = profile;

  // Read the file (through a symlink: the target is what gets rewritten).
  char* real_c = ::realpath(config.c_str(), nullptr);
  if (!real_c) return wrap_fail(errno_text("cannot read " + config, errno));
  const std::string real(real_c);
  std::free(real_c);
  const int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return wrap_fail(errno_text("cannot read " + config, errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return wrap_fail(config + " is not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes) {
    ::close(fd);
    return wrap_fail(config + " is larger than 8 MiB; refusing to parse it");
  }
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int e = errno;
      ::close(fd);
      return wrap_fail(errno_text("cannot read " + config, e));
    }
    if (r == 0) break;
    text.append(buf, static_cast<std::size_t>(r));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return wrap_fail(config + " is larger than 8 MiB; refusing to parse it");
    }
  }
  ::close(fd);

  WrapResult res;
  try {
    res = wrap_config(text, opts);
  } catch (const WrapError& e) {
    std::string where = config;
    if (e.line()) where += ":" + std::to_string(e.line()) + ":" + std::to_string(e.column());
    return wrap_fail(where + ": error: " + e.what());
  }

  for (const auto& s : res.servers) {
    std::string line = "  " + s.section + "." + s.name + ": " + action_text(s.action);
    if (s.action == WrapAction::Wrapped) {
      line += ", profile " + s.profile;
      for (const auto& a : s.jail_args) line += " " + a;
    }
    if (s.action != WrapAction::Wrapped && !s.note.empty()) line += ": " + s.note;
    if (s.action == WrapAction::Wrapped && !s.note.empty()) {
      std::size_t from = 0;
      for (std::size_t nl; (nl = s.note.find('\n', from)) != std::string::npos; from = nl + 1)
        line += "\n      note: " + s.note.substr(from, nl - from);
      line += "\n      note: " + s.note.substr(from);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  if (dry_run) {
    std::fputs(unified_diff(text, res.text, config, config).c_str(), stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "mcp-jail: wrap: dry run: %s\n",
                 res.changed ? "nothing was written" : "nothing to change");
    return 0;
  }
  if (!res.changed) {
    std::fprintf(stderr, "mcp-jail: wrap: nothing to change in %s\n", config.c_str());
    return 0;
  }

  // Backup first: CONFIG.mcp-jail.bak, or with a timestamp when that exists.
  std::string backup = real + ".mcp-jail.bak";
  if (exists(backup)) {
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    struct tm tm;
    ::localtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    backup = real + ".mcp-jail." + stamp + ".bak";
    for (int k = 2; exists(backup) && k < 1000; ++k)
      backup = real + ".mcp-jail." + stamp + "-" + std::to_string(k) + ".bak";
  }
  if (const int err = write_new_file(backup, text, st, true))
    return wrap_fail(errno_text("cannot write the backup " + backup, err));

  // Then the new file: a temporary beside it, renamed over it.
  const std::filesystem::path rp(real);
  std::string tmp = (rp.parent_path() / ("." + rp.filename().string() + ".mcp-jail-XXXXXX")).string();
  const int tfd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (tfd < 0) return wrap_fail(errno_text("cannot create a temporary file beside " + real, errno));
  if (const int err = write_new_file(tmp, res.text, st, false, tfd))
    return wrap_fail(errno_text("cannot write " + tmp, err));
  struct stat now_st;
  if (::stat(real.c_str(), &now_st) != 0 || now_st.st_ino != st.st_ino || now_st.st_size != st.st_size ||
      now_st.st_mtim.tv_sec != st.st_mtim.tv_sec || now_st.st_mtim.tv_nsec != st.st_mtim.tv_nsec) {
    ::unlink(tmp.c_str());
    return wrap_fail(config + " changed while wrap was running; run it again");
  }
  if (::rename(tmp.c_str(), real.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return wrap_fail(errno_text("cannot replace " + real, e));
  }
  const int dfd = ::open(rp.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  std::fprintf(stderr, "mcp-jail: wrap: wrote %s (backup: %s)\n", config.c_str(), backup.c_str());
  return 0;
}

}  // namespace mcpjail
