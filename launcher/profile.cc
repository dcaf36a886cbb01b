// Profile loading: TOML (toml11) → validated Profile.
//
// Strict by design: an unknown key, a wrong type, a bad size or duration, a
// relative path, an unset variable or an `extends` cycle is an error that
// names file:line:column and what is allowed. A profile never half-loads: all
// problems of one file are collected and reported together.
#include "mcpjail/profile.hpp"

#include <seccomp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "mcpjail/netfilter_rules.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/state.hpp"
#include "mcpjail/units.hpp"

namespace mcpjail {

std::string SourceLoc::str() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

static std::string join_diags(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) {
    if (!out.empty()) out += "\n";
    out += d.loc.str() + ": error: " + d.message;
  }
  return out;
}

ProfileError::ProfileError(std::vector<Diagnostic> diags)
    : std::runtime_error(join_diags(diags)), diags_(std::move(diags)) {}
ProfileError::ProfileError(SourceLoc loc, const std::string& message)
    : ProfileError(std::vector<Diagnostic>{{std::move(loc), message}}) {}

namespace {

using TV = toml::basic_value<toml::discard_comments, std::map, std::vector>;
constexpr int kMaxExtendsDepth = 16;
constexpr int kMaxNesting = 32;

SourceLoc loc_of(const TV& v) {
  const auto l = v.location();
  return SourceLoc{l.file_name(), static_cast<unsigned>(l.line()), static_cast<unsigned>(l.column())};
}

// toml11 locates a value, not its key; point at the key when it is on the
// same line before the value, which is where a reader looks.
SourceLoc key_loc(const std::string& key, const TV& v) {
  const auto l = v.location();
  SourceLoc loc = loc_of(v);
  const std::string& line = l.line_str();
  const std::size_t limit = std::min<std::size_t>(line.size(), l.column() > 0 ? l.column() - 1 : 0);
  const std::size_t pos = line.substr(0, limit).find(key);
  if (pos != std::string::npos) loc.column = static_cast<unsigned>(pos + 1);
  return loc;
}

const char* type_name(const TV& v) {
  switch (v.type()) {
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::floating: return "a float";
    case toml::value_t::string: return "a string";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    case toml::value_t::empty: return "nothing";
    default: return "a date/time";
  }
}

// toml11 recurses once per nesting level; refuse absurd nesting before
// parsing so hostile input cannot exhaust the stack.
bool nesting_within_limit(std::string_view text) {
  int depth = 0;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (c == '#') {
      while (i < n && text[i] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      const bool multi = text.substr(i, 3) == std::string(3, c);
      const std::string_view close = multi ? text.substr(i, 3) : text.substr(i, 1);
      i += close.size();
      while (i < n) {
        if (c == '"' && text[i] == '\\') {
          i += 2;
          continue;
        }
        if (text.substr(i, close.size()) == close) {
          i += close.size();
          break;
        }
        if (!multi && text[i] == '\n') break;
        ++i;
      }
      continue;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) return false;
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    }
    ++i;
  }
  return true;
}

// Offset of the first byte that is not part of well-formed UTF-8 (TOML
// requires UTF-8), or npos. toml11 3.7 reads past the end of its buffer on
// some malformed multi-byte sequences, so they never reach it.
std::size_t first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;  // no surrogates
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;  // up to U+10FFFF
    else return i;
    if (i + len > s.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// ${PROFILE_STATE} of one load: fixed by the top-level file (its `name`, or
// its file name), shared by every file it extends.
struct StateVar {
  std::string dir, error;
  bool used = false;

  void init(const std::string& name, const LoadOptions& opts) {
    const std::string home = state_home(opts);
    if (home.empty()) {
      error = "neither XDG_STATE_HOME (absolute) nor HOME is set";
    } else if (!valid_state_name(name)) {
      error = "the profile's name \"" + name +
              "\" cannot name a directory; give the profile a name of 1-64 letters, digits, '.', '_' or '-' "
              "(name = \"...\")";
    } else {
      dir = (home == "/" ? "" : home) + "/mcp-jail/" + name;
    }
  }
};

// The loader for one file.
class FileLoader {
 public:
  FileLoader(std::string display, std::string profile_dir, const LoadOptions& opts, StateVar& state, bool top)
      : display_(std::move(display)), profile_dir_(std::move(profile_dir)), opts_(opts), state_(state), top_(top) {}

  // Result of one file, before merging with what it extends.
  struct Layer {
    Profile p;
    std::set<std::string> present;  // "section.key" of scalars written in this file
    std::optional<std::string> extends;
    SourceLoc extends_loc;
  };

  Layer load(std::string_view text) {
    if (text.size() > kMaxProfileBytes)
      throw ProfileError(SourceLoc{display_}, "profile is larger than 1 MiB; refusing to parse it");
    if (text.find('\0') != std::string_view::npos)
      throw ProfileError(SourceLoc{display_}, "profile contains a NUL byte; it is not a TOML text file");
    if (const auto bad = first_invalid_utf8(text); bad != std::string_view::npos) {
      const auto before = text.substr(0, bad);
      const auto nl = before.rfind('\n');
      const unsigned line = static_cast<unsigned>(std::count(before.begin(), before.end(), '\n') + 1);
      const unsigned col = static_cast<unsigned>(nl == std::string_view::npos ? bad + 1 : bad - nl);
      throw ProfileError(SourceLoc{display_, line, col}, "not valid UTF-8 (a TOML profile must be UTF-8 text)");
    }
    if (!nesting_within_limit(text))
      throw ProfileError(SourceLoc{display_}, "arrays/tables nested more than 32 levels deep");
    TV root;
    try {
      std::istringstream in{std::string(text)};
      root = toml::parse<toml::discard_comments, std::map, std::vector>(in, display_);
    } catch (const toml::exception& e) {
      const auto& l = e.location();
      throw ProfileError(SourceLoc{display_, static_cast<unsigned>(l.line()), static_cast<unsigned>(l.column())},
                         "TOML syntax: " + first_line(e.what()));
    } catch (const std::exception& e) {
      throw ProfileError(SourceLoc{display_}, std::string("TOML syntax: ") + first_line(e.what()));
    }
    Layer layer;
    read_root(root, layer);
    if (!diags_.empty()) {
      std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.loc.line, a.loc.column) < std::tie(b.loc.line, b.loc.column);
      });
      throw ProfileError(std::move(diags_));
    }
    return layer;
  }

 private:
  static std::string first_line(std::string s) {
    const auto start = s.find("[error] ");
    if (start != std::string::npos) s = s.substr(start + 8);
    s = s.substr(0, s.find('\n'));
    if (s.starts_with("toml::")) {
      const auto colon = s.find(": ");
      if (colon != std::string::npos) s = s.substr(colon + 2);
    }
    return s;
  }

  void error(const SourceLoc& loc, std::string msg) { diags_.push_back({loc, std::move(msg)}); }

  using Table = TV::table_type;

  // Reports keys of `t` not in `allowed`.
  void check_keys(const Table& t, const std::string& section, std::initializer_list<const char*> allowed) {
    for (const auto& kv : t) {
      const std::string& k = kv.first;
      const TV& v = kv.second;
      if (std::none_of(allowed.begin(), allowed.end(), [&k](const char* a) { return k == a; })) {
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        error(key_loc(k, v), "unknown key '" + k + "'" + (section.empty() ? "" : " in [" + section + "]") +
                                 "; allowed: " + list);
      }
    }
  }

  const TV* table_of(const Table& root, const char* name) {
    auto it = root.find(name);
    if (it == root.end()) return nullptr;
    if (!it->second.is_table()) {
      error(key_loc(name, it->second), std::string("'") + name + "' must be a table ([" + name + "]), not " +
                                           type_name(it->second));
      return nullptr;
    }
    return &it->second;
  }

  std::optional<std::string> get_string(const Table& t, const std::string& sec, const char* key) {
    auto it = t.find(key);
    if (it == t.end()) return std::nullopt;
    if (!it->second.is_string()) {
      error(loc_of(it->second), qualified(sec, key) + " must be a string, not " + type_name(it->second));
      return std::nullopt;
    }
    return it->second.as_string().str;
  }

  std::optional<bool> get_bool(const Table& t, const std::string& sec, const char* key) {
    auto it = t.find(key);
    if (it == t.end()) return std::nullopt;
    if (!it->second.is_boolean()) {
      error(loc_of(it->second), qualified(sec, key) + " must be true or false, not " + type_name(it->second));
      return std::nullopt;
    }
    return it->second.as_boolean();
  }

  // An array of strings; each returned with its location.
  std::vector<std::pair<std::string, SourceLoc>> get_strings(const Table& t, const std::string& sec, const char* key) {
    std::vector<std::pair<std::string, SourceLoc>> out;
    auto it = t.find(key);
    if (it == t.end()) return out;
    if (!it->second.is_array()) {
      error(loc_of(it->second), qualified(sec, key) + " must be an array of strings, not " + type_name(it->second));
      return out;
    }
    for (const auto& e : it->second.as_array()) {
      if (!e.is_string()) {
        error(loc_of(e), qualified(sec, key) + " must hold strings only, found " + type_name(e));
        continue;
      }
      out.emplace_back(e.as_string().str, loc_of(e));
    }
    return out;
  }

  static std::string qualified(const std::string& sec, const char* key) {
    return sec.empty() ? std::string("'") + key + "'" : "'" + sec + "." + key + "'";
  }

  // Expands ${NAME}, $$ and (for paths) a leading ~. Nullopt after an error.
  std::optional<std::string> expand(const std::string& in, const SourceLoc& loc, bool tilde) {
    std::string out;
    std::size_t i = 0;
    if (tilde && (in == "~" || in.starts_with("~/"))) {
      auto home = lookup("HOME", loc);
      if (!home) return std::nullopt;
      out = *home;
      i = 1;
    }
    while (i < in.size()) {
      const char c = in[i];
      if (c != '$') {
        out += c;
        ++i;
        continue;
      }
      if (i + 1 < in.size() && in[i + 1] == '$') {
        out += '$';
        i += 2;
        continue;
      }
      if (i + 1 >= in.size() || in[i + 1] != '{') {
        error(loc, "stray '$' in \"" + in + "\": write ${NAME} for a variable, $$ for a literal $");
        return std::nullopt;
      }
      const auto close = in.find('}', i + 2);
      if (close == std::string::npos) {
        error(loc, "unterminated ${ in \"" + in + "\"");
        return std::nullopt;
      }
      const std::string name = in.substr(i + 2, close - i - 2);
      const bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                         std::all_of(name.begin(), name.end(), [](char ch) {
                           return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
                         });
      if (!valid) {
        error(loc, "bad variable name '${" + name + "}': use letters, digits and _");
        return std::nullopt;
      }
      auto val = lookup(name, loc);
      if (!val) return std::nullopt;
      out += *val;
      i = close + 1;
    }
    return out;
  }

  std::optional<std::string> lookup(const std::string& name, const SourceLoc& loc) {
    if (name == "PROFILE_STATE") {  // computed, never taken from --var
      if (state_.dir.empty()) {
        error(loc, "${PROFILE_STATE} cannot be formed: " + state_.error);
        return std::nullopt;
      }
      state_.used = true;
      return state_.dir;
    }
    if (auto it = opts_.vars.find(name); it != opts_.vars.end()) return it->second;
    if (name == "HOME" && !opts_.home.empty()) return opts_.home;
    if (name == "PWD" && !opts_.pwd.empty()) return opts_.pwd;
    if (name == "PROFILE_DIR") {
      if (!profile_dir_.empty()) return profile_dir_;
      error(loc, "${PROFILE_DIR} is not defined for a built-in profile");
      return std::nullopt;
    }
    error(loc, "variable ${" + name + "} is not set; define it with --var " + name +
                   "=VALUE (predefined: HOME, PWD, PROFILE_DIR, PROFILE_STATE)");
    return std::nullopt;
  }

  std::optional<std::string> expand_path(const std::string& raw, const SourceLoc& loc) {
    auto e = expand(raw, loc, true);
    if (!e) return std::nullopt;
    std::string err;
    auto norm = normalize_absolute(*e, &err);
    if (!norm) {
      error(loc, "path \"" + raw + "\"" + (raw != *e ? " (= \"" + *e + "\")" : "") + ": " + err);
      return std::nullopt;
    }
    return norm;
  }

  // Path lists accept "path", "-path" (optional) and { path = "...", optional = true }.
  std::vector<PathRule> get_paths(const Table& t, const std::string& sec, const char* key) {
    std::vector<PathRule> out;
    auto it = t.find(key);
    if (it == t.end()) return out;
    if (!it->second.is_array()) {
      error(loc_of(it->second), qualified(sec, key) + " must be an array of paths, not " + type_name(it->second));
      return out;
    }
    for (const auto& e : it->second.as_array()) {
      PathRule r;
      r.loc = loc_of(e);
      std::string raw;
      if (e.is_string()) {
        raw = e.as_string().str;
        if (raw.starts_with("-")) {
          r.optional = true;
          raw.erase(0, 1);
        }
      } else if (e.is_table()) {
        const auto& et = e.as_table();
        check_keys(et, sec + "." + key, {"path", "optional"});
        auto p = get_string(et, sec + "." + key, "path");
        if (!p) {
          if (!et.count("path")) error(r.loc, qualified(sec, key) + " entry needs path = \"...\"");
          continue;
        }
        raw = *p;
        r.optional = get_bool(et, sec + "." + key, "optional").value_or(false);
      } else {
        error(r.loc, qualified(sec, key) + " entries must be paths (strings) or { path = \"...\", optional = true }, not " +
                         type_name(e));
        continue;
      }
      auto p = expand_path(raw, r.loc);
      if (!p) continue;
      r.path = *p;
      out.push_back(std::move(r));
    }
    return out;
  }

  std::optional<std::uint64_t> get_size(const Table& t, const std::string& sec, const char* key) {
    auto it = t.find(key);
    if (it == t.end()) return std::nullopt;
    const auto& v = it->second;
    if (v.is_integer() && v.as_integer() > 0) return static_cast<std::uint64_t>(v.as_integer());
    if (v.is_string()) {
      if (auto s = parse_size(v.as_string().str); s && *s > 0) return s;
    }
    error(loc_of(v), qualified(sec, key) + " must be a positive size such as \"512MiB\", \"64K\", \"2GiB\" or a byte "
                     "count (units K, M, G, T are powers of 1024; KiB/MiB/GiB/TiB also accepted)");
    return std::nullopt;
  }

  std::optional<std::uint64_t> get_count(const Table& t, const std::string& sec, const char* key,
                                         std::uint64_t min, std::uint64_t max) {
    auto it = t.find(key);
    if (it == t.end()) return std::nullopt;
    const auto& v = it->second;
    if (v.is_integer() && v.as_integer() >= static_cast<std::int64_t>(min) &&
        static_cast<std::uint64_t>(v.as_integer()) <= max)
      return static_cast<std::uint64_t>(v.as_integer());
    error(loc_of(v), qualified(sec, key) + " must be an integer from " + std::to_string(min) + " to " +
                         std::to_string(max));
    return std::nullopt;
  }

  void read_root(const TV& root, Layer& L) {
    Profile& p = L.p;
    const auto& t = root.as_table();
    check_keys(t, "", {"version", "name", "description", "extends", "best_effort", "exec", "env", "filesystem",
                       "network", "limits", "seccomp", "audit", "pin"});
    if (auto it = t.find("version"); it == t.end()) {
      error(SourceLoc{display_, 1, 1}, "missing 'version = 1' at the top of the profile");
    } else if (!it->second.is_integer() || it->second.as_integer() != 1) {
      error(loc_of(it->second), "'version' must be 1 (the only profile format so far)");
    }
    if (auto v = get_string(t, "", "name")) {
      p.name = *v;
      L.present.insert("name");
    }
    if (auto v = get_string(t, "", "description")) {
      p.description = *v;
      L.present.insert("description");
    }
    // Before any value is expanded: ${PROFILE_STATE} is named after the
    // profile being run, so a profile that extends another keeps its own state.
    if (top_) state_.init(L.present.count("name") ? p.name : std::filesystem::path(display_).stem().string(), opts_);
    if (auto it = t.find("extends"); it != t.end()) {
      if (auto v = get_string(t, "", "extends")) {
        L.extends_loc = loc_of(it->second);
        if (v->empty()) error(L.extends_loc, "'extends' must name a built-in profile or a profile file");
        else L.extends = *v;
      }
    }
    for (auto& [s, loc] : get_strings(t, "", "best_effort")) {
      if (s != "landlock" && s != "limits") {
        error(loc, "best_effort entry '" + s + "' unknown; allowed: landlock, limits");
        continue;
      }
      if (p.best_effort.empty()) p.best_effort_loc = loc;
      p.best_effort.push_back(s);
    }
    if (const TV* v = table_of(t, "exec")) read_exec(v->as_table(), L);
    if (const TV* v = table_of(t, "env")) read_env(v->as_table(), L);
    if (const TV* v = table_of(t, "filesystem")) read_fs(v->as_table(), L);
    if (const TV* v = table_of(t, "network")) read_net(v->as_table(), L);
    if (const TV* v = table_of(t, "limits")) read_limits(v->as_table(), L);
    if (const TV* v = table_of(t, "seccomp")) read_seccomp(v->as_table(), L);
    if (const TV* v = table_of(t, "audit")) read_audit(v->as_table(), L);
    if (const TV* v = table_of(t, "pin")) read_pin(v->as_table(), L);
  }

  void read_exec(const Table& t, Layer& L) {
    auto& e = L.p.exec;
    check_keys(t, "exec", {"allow", "cwd", "user", "hostname"});
    e.allow = get_paths(t, "exec", "allow");
    if (auto it = t.find("cwd"); it != t.end()) {
      if (auto s = get_string(t, "exec", "cwd")) {
        e.cwd_loc = loc_of(it->second);
        e.cwd = expand_path(*s, e.cwd_loc);
      }
    }
    if (auto it = t.find("user"); it != t.end()) {
      e.user_loc = loc_of(it->second);
      if (it->second.is_integer()) {
        e.user = std::to_string(it->second.as_integer());
      } else if (auto s = get_string(t, "exec", "user")) {
        if (s->empty()) error(e.user_loc, "'exec.user' must be a user name, a uid, or uid:gid");
        else e.user = *s;
      }
    }
    if (auto it = t.find("hostname"); it != t.end()) {
      if (auto s = get_string(t, "exec", "hostname")) {
        const bool ok = !s->empty() && s->size() <= 63 &&
                        std::all_of(s->begin(), s->end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
                        });
        if (!ok) error(loc_of(it->second), "'exec.hostname' must be 1-63 letters, digits, '-' or '.'");
        else e.hostname = *s;
      }
    }
  }

  static bool valid_env_name(const std::string& n, bool allow_glob) {
    std::string_view body = n;
    if (allow_glob && body.ends_with('*')) body.remove_suffix(1);
    return is_env_name(body);
  }

  void read_env(const Table& t, Layer& L) {
    check_keys(t, "env", {"pass", "set"});
    for (auto& [s, loc] : get_strings(t, "env", "pass")) {
      if (!valid_env_name(s, true)) {
        error(loc, "'env.pass' entry \"" + s + "\" is not a variable name (letters, digits, _; a trailing * matches a prefix)");
        continue;
      }
      L.p.env.pass.push_back(s);
    }
    if (auto it = t.find("set"); it != t.end()) {
      if (!it->second.is_table()) {
        error(loc_of(it->second), "'env.set' must be a table such as { NODE_ENV = \"production\" }");
        return;
      }
      for (const auto& [k, v] : it->second.as_table()) {
        if (!valid_env_name(k, false)) {
          error(key_loc(k, v), "'env.set' key \"" + k + "\" is not a variable name");
          continue;
        }
        if (!v.is_string()) {
          error(loc_of(v), "'env.set." + k + "' must be a string, not " + type_name(v));
          continue;
        }
        if (auto val = expand(v.as_string().str, loc_of(v), false)) L.p.env.set[k] = *val;
      }
    }
  }

  void read_fs(const Table& t, Layer& L) {
    check_keys(t, "filesystem", {"read", "write", "tmpfs", "hide"});
    auto& f = L.p.filesystem;
    f.read = get_paths(t, "filesystem", "read");
    f.write = get_paths(t, "filesystem", "write");
    f.tmpfs = get_paths(t, "filesystem", "tmpfs");
    f.hide = get_paths(t, "filesystem", "hide");
    for (const auto& r : f.tmpfs)
      if (r.optional) error(r.loc, "a tmpfs is always created; the optional marker '-' has no meaning here");
    for (const auto& r : f.hide)
      if (r.optional) error(r.loc, "hide entries are already optional (a missing path has nothing to hide)");
  }

  void read_net(const Table& t, Layer& L) {
    auto& n = L.p.network;
    check_keys(t, "network", {"mode", "allow", "allow_private", "dns", "allow_host_network"});
    if (auto it = t.find("mode"); it != t.end()) {
      if (auto s = get_string(t, "network", "mode")) {
        n.mode_loc = loc_of(it->second);
        if (*s == "none") n.mode = NetMode::None;
        else if (*s == "allowlist") n.mode = NetMode::Allowlist;
        else if (*s == "host") n.mode = NetMode::Host;
        else error(n.mode_loc, "'network.mode' must be \"none\", \"allowlist\" or \"host\", not \"" + *s + "\"");
        L.present.insert("network.mode");
      }
    }
    if (auto b = get_bool(t, "network", "allow_host_network")) {
      n.allow_host_network = *b;
      L.present.insert("network.allow_host_network");
    }
    for (auto& [s, loc] : get_strings(t, "network", "allow")) {
      try {
        if (netfilter::parse_allow(s).port == 53) {
          error(loc, "'network.allow' entry '" + s +
                         "': port 53 cannot be allowed; the jail's DNS goes through its own filtering resolver "
                         "(set its upstream with network.dns)");
          continue;
        }
      } catch (const std::invalid_argument& e) {
        error(loc, std::string("'network.allow' entry: ") + e.what());
        continue;
      }
      n.allow.push_back(s);
      n.allow_loc.push_back(loc);
    }
    for (auto& [s, loc] : get_strings(t, "network", "allow_private")) {
      std::string why;
      const auto c = netfilter::parse_cidr(s, &why);
      if (!c) {
        error(loc, "'network.allow_private' entry: " + why + " (write an address or a CIDR, without a port)");
        continue;
      }
      if (!netfilter::denied_range_of(*c)) {
        error(loc, "'network.allow_private' entry '" + s +
                       "' is not inside a private or local range, so there is nothing to open; public addresses "
                       "need only an allow entry (CIDR:PORT)");
        continue;
      }
      n.allow_private.push_back(s);
    }
    for (auto& [s, loc] : get_strings(t, "network", "dns")) {
      std::string why;
      if (!netfilter::parse_resolver(s, &why)) {
        error(loc, "'network.dns' entry: " + why);
        continue;
      }
      n.dns.push_back(s);
    }
  }

  void read_limits(const Table& t, Layer& L) {
    auto& l = L.p.limits;
    check_keys(t, "limits", {"memory", "pids", "cpu", "nofile", "file_size", "tmpfs_size", "wall_time"});
    l.memory = get_size(t, "limits", "memory");
    l.pids = get_count(t, "limits", "pids", 1, 4'194'304);
    l.nofile = get_count(t, "limits", "nofile", 16, 1'048'576);
    l.file_size = get_size(t, "limits", "file_size");
    l.tmpfs_size = get_size(t, "limits", "tmpfs_size");
    if (auto it = t.find("cpu"); it != t.end()) {
      const auto& v = it->second;
      double c = -1;
      if (v.is_integer()) c = static_cast<double>(v.as_integer());
      if (v.is_floating()) c = v.as_floating();
      if (!(c > 0.0 && c <= 1024.0)) error(loc_of(v), "'limits.cpu' must be a number of CPUs > 0 such as 1 or 0.5");
      else l.cpu = c;
    }
    for (const char* k : {"memory", "pids", "cpu"}) {
      if (auto it = t.find(k); it != t.end() && l.cgroup_loc.line == 0) l.cgroup_loc = key_loc(k, it->second);
    }
    if (auto it = t.find("wall_time"); it != t.end()) {
      std::optional<std::chrono::milliseconds> d;
      if (it->second.is_string()) d = parse_duration(it->second.as_string().str);
      if (!d) error(loc_of(it->second), "'limits.wall_time' must be a duration such as \"0s\" (none), \"30s\", \"5m\", \"1h30m\"");
      else {
        l.wall_time = *d;
        L.present.insert("limits.wall_time");
      }
    }
  }

  void read_seccomp(const Table& t, Layer& L) {
    auto& s = L.p.seccomp;
    check_keys(t, "seccomp", {"base", "deny", "allow", "action"});
    if (auto it = t.find("base"); it != t.end()) {
      if (auto v = get_string(t, "seccomp", "base")) {
        if (*v != "default" && *v != "strict") error(loc_of(it->second), "'seccomp.base' must be \"default\" or \"strict\"");
        else {
          s.base = *v;
          L.present.insert("seccomp.base");
        }
      }
    }
    if (auto it = t.find("action"); it != t.end()) {
      if (auto v = get_string(t, "seccomp", "action")) {
        if (*v == "errno") s.action = SeccompAction::Errno;
        else if (*v == "kill") s.action = SeccompAction::Kill;
        else if (*v == "log") s.action = SeccompAction::Log;
        else error(loc_of(it->second), "'seccomp.action' must be \"errno\", \"kill\" or \"log\"");
        L.present.insert("seccomp.action");
      }
    }
    for (const char* key : {"deny", "allow"}) {
      for (auto& [name, loc] : get_strings(t, "seccomp", key)) {
        if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str()) == __NR_SCMP_ERROR) {
          error(loc, "unknown system call '" + name + "' in 'seccomp." + key + "' (x86_64 names, e.g. \"ptrace\")");
          continue;
        }
        (std::string(key) == "deny" ? s.deny : s.allow).push_back(name);
      }
    }
  }

  void read_audit(const Table& t, Layer& L) {
    check_keys(t, "audit", {"log"});
    if (auto it = t.find("log"); it != t.end()) {
      if (auto v = get_string(t, "audit", "log")) {
        if (*v == "stderr" || *v == "none") L.p.audit.log = *v;
        else if (auto p = expand_path(*v, loc_of(it->second))) L.p.audit.log = *p;
        L.present.insert("audit.log");
      }
    }
  }

  // [pin] files = [{ path, sha256 }], trees = [{ path, sha256, files, exclude }]
  // (inline tables or [[pin.files]] / [[pin.trees]]: TOML makes them the same).
  void read_pin(const Table& t, Layer& L) {
    check_keys(t, "pin", {"files", "trees"});
    std::set<std::string> seen;
    for (const bool tree : {false, true}) {
      const char* key = tree ? "trees" : "files";
      const std::string sec = std::string("pin.") + key;
      const char* example = tree ? "{ path = \"/abs/project\", sha256 = \"<64 hex digits>\", files = 120 }"
                                 : "{ path = \"/abs/dist/index.js\", sha256 = \"<64 hex digits>\" }";
      auto it = t.find(key);
      if (it == t.end()) continue;
      if (!it->second.is_array()) {
        error(loc_of(it->second), "'" + sec + "' must be an array of tables such as " + example + ", not " +
                                      type_name(it->second));
        continue;
      }
      for (const auto& e : it->second.as_array()) {
        const SourceLoc loc = loc_of(e);
        if (!e.is_table()) {
          error(loc, "'" + sec + "' entries must be tables such as " + example + ", not " + type_name(e));
          continue;
        }
        const auto& et = e.as_table();
        if (tree) check_keys(et, sec, {"path", "sha256", "files", "exclude"});
        else check_keys(et, sec, {"path", "sha256"});
        for (const char* required : {"path", "sha256"})
          if (!et.count(required)) error(loc, "'" + sec + "' entry needs " + required + " = \"...\" (" + example + ")");
        std::optional<std::string> path, hex;
        if (auto p = get_string(et, sec, "path")) path = expand_path(*p, loc_of(et.at("path")));
        if (auto h = get_string(et, sec, "sha256")) {
          const bool ok = h->size() == 64 && std::all_of(h->begin(), h->end(), [](char c) {
                            return std::isxdigit(static_cast<unsigned char>(c));
                          });
          if (!ok) {
            error(loc_of(et.at("sha256")), "'" + sec + ".sha256' must be a sha256 in hex: 64 digits 0-9 and a-f, got " +
                                                 std::to_string(h->size()) + " characters \"" + h->substr(0, 80) + "\"");
          } else {
            hex = *h;
            for (auto& c : *hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          }
        }
        std::optional<std::uint64_t> files;
        std::vector<std::string> exclude;
        if (tree) {
          files = get_count(et, sec, "files", 0, 1ULL << 40);
          for (auto& [x, xloc] : get_strings(et, sec, "exclude")) {
            std::string why;
            if (x.empty() || x.starts_with("/") || x.ends_with("/")) why = "not a relative path";
            for (std::size_t i = 0; why.empty() && i <= x.size();) {
              auto j = x.find('/', i);
              if (j == std::string::npos) j = x.size();
              const auto part = x.substr(i, j - i);
              if (part.empty() || part == "." || part == "..") why = "it has an empty, . or .. component";
              i = j + 1;
            }
            if (!why.empty()) error(xloc, "'" + sec + ".exclude' entry \"" + x + "\": " + why +
                              "; write a path relative to the tree, such as \"mcp-jail.toml\"");
            else exclude.push_back(x);
          }
        }
        if (!path || !hex) continue;
        if (!seen.insert(*path).second) {
          error(loc_of(et.at("path")), "'pin' lists " + *path + " twice; keep one entry (mcp-jail pin rewrites the section)");
          continue;
        }
        if (tree) L.p.pin.trees.push_back(PinTree{*path, *hex, files, std::move(exclude), loc});
        else L.p.pin.files.push_back(PinFile{*path, *hex, loc});
      }
    }
  }

  std::string display_;
  std::string profile_dir_;
  const LoadOptions& opts_;
  StateVar& state_;
  bool top_;
  std::vector<Diagnostic> diags_;
};

template <class T>
void append(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

// Applies `child` over `base`: lists append, scalars the child sets override.
void merge(Profile& base, const FileLoader::Layer& L) {
  const Profile& c = L.p;
  auto has = [&](const char* k) { return L.present.count(k) > 0; };
  if (has("name")) base.name = c.name;
  if (has("description")) base.description = c.description;
  append(base.sources, c.sources);
  for (const auto& b : c.best_effort)
    if (std::find(base.best_effort.begin(), base.best_effort.end(), b) == base.best_effort.end()) {
      if (base.best_effort.empty()) base.best_effort_loc = c.best_effort_loc;
      base.best_effort.push_back(b);
    }
  append(base.exec.allow, c.exec.allow);
  if (c.exec.cwd) base.exec.cwd = c.exec.cwd, base.exec.cwd_loc = c.exec.cwd_loc;
  if (c.exec.user) base.exec.user = c.exec.user, base.exec.user_loc = c.exec.user_loc;
  if (c.exec.hostname) base.exec.hostname = c.exec.hostname;
  for (const auto& n : c.env.pass)
    if (std::find(base.env.pass.begin(), base.env.pass.end(), n) == base.env.pass.end()) base.env.pass.push_back(n);
  for (const auto& [k, v] : c.env.set) base.env.set[k] = v;
  append(base.filesystem.read, c.filesystem.read);
  append(base.filesystem.write, c.filesystem.write);
  append(base.filesystem.tmpfs, c.filesystem.tmpfs);
  append(base.filesystem.hide, c.filesystem.hide);
  if (has("network.mode")) base.network.mode = c.network.mode, base.network.mode_loc = c.network.mode_loc;
  if (has("network.allow_host_network")) base.network.allow_host_network = c.network.allow_host_network;
  append(base.network.allow, c.network.allow);
  append(base.network.allow_private, c.network.allow_private);
  append(base.network.dns, c.network.dns);
  append(base.network.allow_loc, c.network.allow_loc);
  auto& bl = base.limits;
  const auto& cl = c.limits;
  for (auto [to, from] : {std::pair{&bl.memory, &cl.memory}, {&bl.pids, &cl.pids}, {&bl.nofile, &cl.nofile},
                          {&bl.file_size, &cl.file_size}, {&bl.tmpfs_size, &cl.tmpfs_size}})
    if (*from) *to = *from;
  if (cl.cpu) bl.cpu = cl.cpu;
  if (cl.cgroup_loc.line) bl.cgroup_loc = cl.cgroup_loc;
  if (has("limits.wall_time")) bl.wall_time = cl.wall_time;
  if (has("seccomp.base")) base.seccomp.base = c.seccomp.base;
  if (has("seccomp.action")) base.seccomp.action = c.seccomp.action;
  append(base.seccomp.deny, c.seccomp.deny);
  append(base.seccomp.allow, c.seccomp.allow);
  if (has("audit.log")) base.audit.log = c.audit.log;
  append(base.pin.files, c.pin.files);
  append(base.pin.trees, c.pin.trees);
}

struct Source {
  std::string id;       // identity for cycle detection
  std::string display;  // used in locations
  std::string dir;      // ${PROFILE_DIR}; empty for built-ins
  std::string text;
};

Source read_source(const std::string& spec, const std::string& relative_to, const SourceLoc& from) {
  if (!is_profile_path(spec)) {
    for (const auto& b : builtin_profiles())
      if (spec == b.name) return Source{"builtin:" + spec, "<builtin>/" + spec + ".toml", "", b.text};
    std::string names;
    for (const auto& b : builtin_profiles()) names += (names.empty() ? "" : ", ") + std::string(b.name);
    throw ProfileError(from, "no built-in profile named '" + spec + "' (built-in: " + names +
                                 "); a profile file needs a path such as ./" + spec + ".toml");
  }
  std::string path = spec;
  if (!path.starts_with("/")) path = (relative_to.empty() ? std::string(".") : relative_to) + "/" + path;
  path = std::filesystem::path(path).lexically_normal().string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ProfileError(from, "profile '" + path + "' is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProfileError(from, errno_text("cannot read profile '" + path + "'", errno));
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxProfileBytes)
      throw ProfileError(SourceLoc{path}, "profile is larger than 1 MiB; refusing to parse it");
  }
  if (in.bad()) throw ProfileError(from, errno_text("cannot read profile '" + path + "'", errno));
  auto canon = std::filesystem::weakly_canonical(path, ec);
  const std::string id = ec ? path : canon.string();
  return Source{id, path, std::filesystem::path(ec ? path : id).parent_path().string(), std::move(text)};
}

Profile load_chain(const Source& src, const LoadOptions& opts, std::vector<std::string>& stack, StateVar& state) {
  if (std::find(stack.begin(), stack.end(), src.id) != stack.end()) {
    std::string chain;
    for (const auto& s : stack) chain += s + " -> ";
    throw ProfileError(SourceLoc{src.display}, "'extends' cycle: " + chain + src.id);
  }
  if (stack.size() >= kMaxExtendsDepth) throw ProfileError(SourceLoc{src.display}, "'extends' chain deeper than 16");
  stack.push_back(src.id);
  FileLoader loader(src.display, src.dir, opts, state, stack.size() == 1);
  auto layer = loader.load(src.text);
  layer.p.sources = {src.display};
  Profile result;
  if (layer.extends) {
    auto parent = read_source(*layer.extends, src.dir.empty() ? std::string() : src.dir, layer.extends_loc);
    result = load_chain(parent, opts, stack, state);
  }
  merge(result, layer);
  if (!layer.present.count("name")) result.name = std::filesystem::path(src.display).stem().string();
  stack.pop_back();
  if (stack.empty()) {
    result.state_dir = state.dir;
    result.state_error = state.error;
    result.state_used = state.used;
  }
  return result;
}

Profile load_top(const Source& src, const LoadOptions& opts) {
  std::vector<std::string> stack;
  StateVar state;
  return load_chain(src, opts, stack, state);
}

}  // namespace

std::string profile_description(std::string_view text) {
  try {
    std::istringstream in{std::string(text)};
    const auto root = toml::parse<toml::discard_comments, std::map, std::vector>(in, "profile");
    const auto& t = root.as_table();
    if (auto it = t.find("description"); it != t.end() && it->second.is_string()) return it->second.as_string().str;
  } catch (const std::exception&) {
  }
  return "";
}

bool is_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool is_profile_path(std::string_view spec) {
  return spec.find('/') != std::string_view::npos || spec.ends_with(".toml") || spec == "." || spec == "..";
}

bool valid_state_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

Profile load_profile(const std::string& spec, const LoadOptions& opts) {
  return load_top(read_source(spec, opts.pwd, SourceLoc{spec}), opts);
}

Profile load_profile_text(std::string_view text, const std::string& display_name, const std::string& profile_dir,
                          const LoadOptions& opts) {
  return load_top(Source{display_name, display_name, profile_dir, std::string(text)}, opts);
}

}  // namespace mcpjail
