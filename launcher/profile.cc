// Profile loading: TOML (toml11) → validated Profile.
//
// Strict by design: an unknown key, a wrong type, a bad size or duration, a
// relative path, an unset variable or an `extends` cycle is an error that
// names file:line:column and what is allowed. A profile never half-loads: all
// problems of one file are collected and reported together.
//
// What the keys are, how each is read and how `extends` combines them is the
// schema's (profile/schema.cc); this file reads the text, walks the schema
// and follows `extends`.
#include "mcpjail/profile.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mcpjail/paths.hpp"
#include "mcpjail/state.hpp"
#include "mcpjail/units.hpp"
#include "profile/reader.hpp"

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

using namespace profile_schema;
constexpr int kMaxExtendsDepth = 16;
constexpr int kMaxNesting = 32;

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
class FileLoader : public Reader {
 public:
  FileLoader(std::string display, std::string profile_dir, const LoadOptions& opts, StateVar& state, bool top)
      : Reader(std::move(display)), profile_dir_(std::move(profile_dir)), opts_(opts), state_(state), top_(top) {}

  Layer load(std::string_view text) {
    if (text.size() > kMaxProfileBytes)
      throw ProfileError(SourceLoc{display()}, "profile is larger than 1 MiB; refusing to parse it");
    if (text.find('\0') != std::string_view::npos)
      throw ProfileError(SourceLoc{display()}, "profile contains a NUL byte; it is not a TOML text file");
    if (const auto bad = first_invalid_utf8(text); bad != std::string_view::npos) {
      const auto before = text.substr(0, bad);
      const auto nl = before.rfind('\n');
      const unsigned line = static_cast<unsigned>(std::count(before.begin(), before.end(), '\n') + 1);
      const unsigned col = static_cast<unsigned>(nl == std::string_view::npos ? bad + 1 : bad - nl);
      throw ProfileError(SourceLoc{display(), line, col}, "not valid UTF-8 (a TOML profile must be UTF-8 text)");
    }
    if (!nesting_within_limit(text))
      throw ProfileError(SourceLoc{display()}, "arrays/tables nested more than 32 levels deep");
    TV root;
    try {
      std::istringstream in{std::string(text)};
      root = toml::parse<toml::discard_comments, std::map, std::vector>(in, profile_schema::kTomlSourceName);
    } catch (const toml::exception& e) {
      const auto& l = e.location();
      throw ProfileError(SourceLoc{display(), static_cast<unsigned>(l.line()), static_cast<unsigned>(l.column())},
                         "TOML syntax: " + first_line(e.what()));
    } catch (const std::exception& e) {
      throw ProfileError(SourceLoc{display()}, std::string("TOML syntax: ") + first_line(e.what()));
    }
    Layer layer;
    const profile_schema::DisplayName named(display());  // locations name the file, not kTomlSourceName
    read_root(root, layer);
    if (auto& diags = diagnostics(); !diags.empty()) {
      std::stable_sort(diags.begin(), diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.loc.line, a.loc.column) < std::tie(b.loc.line, b.loc.column);
      });
      throw ProfileError(std::move(diags));
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

  // The keys of section `s` in table `t`, as the schema reads them.
  void read_section(const Table& t, const Section& s, Layer& L) {
    check_keys(t, s.name, allowed_keys(s));
    for (const Key& k : s.keys) {
      if (auto it = t.find(k.name); it != t.end()) {
        at(s.name, k.name, it->second);
        if (k.read(*this, L)) L.set.insert(&k);
      } else if (!k.missing.empty()) {
        error(SourceLoc{display(), 1, 1}, k.missing);
      }
      if (k.merge == Merge::Own && !L.sets(k)) k.fallback(L.p, display());
    }
  }

  void read_root(const TV& root, Layer& L) {
    const auto& schema = sections();
    const auto& t = root.as_table();
    read_section(t, schema.front(), L);  // the top-level keys; none of them is expanded
    // Before any value is expanded: ${PROFILE_STATE} is named after the
    // profile being run (its name, else its file name), so a profile that
    // extends another keeps its own state.
    if (top_) state_.init(L.p.name, opts_);
    for (auto s = schema.begin() + 1; s != schema.end(); ++s) {
      auto it = t.find(s->name);
      if (it == t.end()) continue;
      if (!it->second.is_table()) {
        error(profile_schema::key_loc(s->name, it->second),
              "'" + s->name + "' must be a table ([" + s->name + "]), not " + type_name(it->second));
        continue;
      }
      read_section(it->second.as_table(), *s, L);
    }
  }

  std::optional<std::string> lookup(const std::string& name, const SourceLoc& loc) override {
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

  std::string profile_dir_;
  const LoadOptions& opts_;
  StateVar& state_;
  bool top_;
};

// Lays the layer of an extending file over `base`, key by key as the schema's
// merge rules say.
void merge(Profile& base, const Layer& L) {
  base.sources.insert(base.sources.end(), L.p.sources.begin(), L.p.sources.end());
  for (const auto& s : sections())
    for (const auto& k : s.keys)
      if (k.merge != Merge::PerFile && (L.sets(k) || k.merge == Merge::Own)) k.apply(base, L.p);
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
