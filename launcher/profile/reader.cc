// The Reader's value types, variables and the generic codecs of the schema.
#include "reader.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <vector>

#include "mcpjail/paths.hpp"
#include "mcpjail/units.hpp"

namespace mcpjail::profile_schema {

namespace {

// toml11's source_location counts the newlines from the start of the text
// to the value, twice, for every value asked (and copies its line): most
// of a profile load went there. The newline offsets of the last text are
// kept instead (that text stays alive with them, so its address cannot be
// reused by another), and a line is found by a binary search.
struct NewlineIndex {
  std::shared_ptr<const std::vector<char>> text;
  std::vector<std::size_t> newlines;

  unsigned line_of(const std::shared_ptr<const std::vector<char>>& src, std::size_t offset) {
    if (src != text) {
      text = src;
      newlines.clear();
      for (std::size_t i = 0; i < src->size(); ++i)
        if ((*src)[i] == '\n') newlines.push_back(i);
    }
    return static_cast<unsigned>(1 + (std::lower_bound(newlines.begin(), newlines.end(), offset) - newlines.begin()));
  }
};

NewlineIndex& newline_index() {
  thread_local NewlineIndex index;
  return index;
}

thread_local const std::string* display_name = nullptr;  // see DisplayName

std::string shown_name(const std::string& toml_name) {
  return display_name && toml_name == kTomlSourceName ? *display_name : toml_name;
}

}  // namespace

DisplayName::DisplayName(const std::string& name) : outer_(display_name) { display_name = &name; }
DisplayName::~DisplayName() { display_name = outer_; }

SourceLoc loc_of(const TV& v) {
  if (const auto* r = dynamic_cast<const toml::detail::region*>(toml::detail::get_region(v)); r && r->source()) {
    const auto offset = static_cast<std::size_t>(r->first() - r->begin());
    return SourceLoc{shown_name(r->name()), newline_index().line_of(r->source(), offset),
                     static_cast<unsigned>(r->before() + 1)};
  }
  const auto l = v.location();
  return SourceLoc{shown_name(l.file_name()), static_cast<unsigned>(l.line()), static_cast<unsigned>(l.column())};
}

SourceLoc key_loc(const std::string& key, const TV& v) {
  SourceLoc loc = loc_of(v);
  const auto* reg = toml::detail::get_region(v);
  const std::string line = reg ? reg->line() : std::string();
  const std::size_t limit = std::min<std::size_t>(line.size(), loc.column > 0 ? loc.column - 1 : 0);
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

namespace {
std::string qualified(const std::string& sec, const std::string& key) {
  return sec.empty() ? "'" + key + "'" : "'" + sec + "." + key + "'";
}
}  // namespace

std::string Reader::what() const { return qualified(section_, key_); }

std::optional<std::string> Reader::string() {
  const TV& v = value();
  if (!v.is_string()) {
    error(loc(), what() + " must be a string, not " + type_name(v));
    return std::nullopt;
  }
  return v.as_string().str;
}

std::optional<bool> Reader::boolean() {
  const TV& v = value();
  if (!v.is_boolean()) {
    error(loc(), what() + " must be true or false, not " + type_name(v));
    return std::nullopt;
  }
  return v.as_boolean();
}

std::vector<std::pair<std::string, SourceLoc>> Reader::strings() {
  std::vector<std::pair<std::string, SourceLoc>> out;
  const TV& v = value();
  if (!v.is_array()) {
    error(loc(), what() + " must be an array of strings, not " + type_name(v));
    return out;
  }
  for (const auto& e : v.as_array()) {
    if (!e.is_string()) {
      error(loc_of(e), what() + " must hold strings only, found " + type_name(e));
      continue;
    }
    out.emplace_back(e.as_string().str, loc_of(e));
  }
  return out;
}

std::vector<PathRule> Reader::paths() {
  std::vector<PathRule> out;
  const TV& v = value();
  const std::string list = what();
  const std::string entry_section = section_.empty() ? key_ : section_ + "." + key_;
  if (!v.is_array()) {
    error(loc(), list + " must be an array of paths, not " + type_name(v));
    return out;
  }
  for (const auto& e : v.as_array()) {
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
      check_keys(et, entry_section, {"path", "optional"});
      std::optional<std::string> p;
      if (auto it = et.find("path"); it != et.end()) {
        at(entry_section, "path", it->second);
        p = string();
      }
      if (!p) {
        if (!et.count("path")) error(r.loc, list + " entry needs path = \"...\"");
        continue;
      }
      raw = *p;
      if (auto it = et.find("optional"); it != et.end()) {
        at(entry_section, "optional", it->second);
        r.optional = boolean().value_or(false);
      }
    } else {
      error(r.loc, list + " entries must be paths (strings) or { path = \"...\", optional = true }, not " + type_name(e));
      continue;
    }
    auto p = expand_path(raw, r.loc);
    if (!p) continue;
    r.path = *p;
    out.push_back(std::move(r));
  }
  return out;
}

void Reader::check_keys(const Table& t, const std::string& section, const std::vector<std::string>& allowed) {
  for (const auto& [k, v] : t) {
    if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    error(profile_schema::key_loc(k, v),
          "unknown key '" + k + "'" + (section.empty() ? "" : " in [" + section + "]") + "; allowed: " + list);
  }
}

std::optional<std::string> Reader::expand(const std::string& in, const SourceLoc& loc, bool tilde) {
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

std::optional<std::string> Reader::expand_path(const std::string& raw, const SourceLoc& loc) {
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

// ---- Codecs -------------------------------------------------------------------

std::string alternatives(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += "\"" + names[i] + "\"";
  }
  return out;
}

Codec<std::string> a_string() {
  return {"String", [](Reader& r) { return r.string(); }, [](const std::string& s) { return s; }};
}

Codec<bool> a_boolean() {
  return {"Boolean", [](Reader& r) { return r.boolean(); }, [](bool b) { return std::string(b ? "true" : "false"); }};
}

Codec<std::string> a_path() {
  return {"Path",
          [](Reader& r) -> std::optional<std::string> {
            auto s = r.string();
            if (!s) return std::nullopt;
            return r.expand_path(*s, r.loc());
          },
          [](const std::string& s) { return s; }};
}

Codec<std::uint64_t> a_size() {
  return {"Size",
          [](Reader& r) -> std::optional<std::uint64_t> {
            const TV& v = r.value();
            if (v.is_integer() && v.as_integer() > 0) return static_cast<std::uint64_t>(v.as_integer());
            if (v.is_string())
              if (auto s = parse_size(v.as_string().str); s && *s > 0) return s;
            r.error(r.loc(), r.what() + " must be a positive size such as \"512MiB\", \"64K\", \"2GiB\" or a byte "
                                        "count (units K, M, G, T are powers of 1024; KiB/MiB/GiB/TiB also accepted)");
            return std::nullopt;
          },
          [](std::uint64_t n) { return format_size(n); }};
}

Codec<std::uint64_t> a_count(std::uint64_t min, std::uint64_t max) {
  const std::string range = "from " + std::to_string(min) + " to " + std::to_string(max);
  return {"Integer " + range,
          [min, max, range](Reader& r) -> std::optional<std::uint64_t> {
            const TV& v = r.value();
            if (v.is_integer() && v.as_integer() >= static_cast<std::int64_t>(min) &&
                static_cast<std::uint64_t>(v.as_integer()) <= max)
              return static_cast<std::uint64_t>(v.as_integer());
            r.error(r.loc(), r.what() + " must be an integer " + range);
            return std::nullopt;
          },
          [](std::uint64_t n) { return std::to_string(n); }};
}

Codec<std::chrono::milliseconds> a_duration() {
  return {"Duration",
          [](Reader& r) -> std::optional<std::chrono::milliseconds> {
            std::optional<std::chrono::milliseconds> d;
            if (r.value().is_string()) d = parse_duration(r.value().as_string().str);
            if (!d)
              r.error(r.loc(), r.what() + " must be a duration such as \"0s\" (none), \"30s\", \"5m\", \"1h30m\"");
            return d;
          },
          [](std::chrono::milliseconds ms) { return format_duration(ms); }};
}

}  // namespace mcpjail::profile_schema
