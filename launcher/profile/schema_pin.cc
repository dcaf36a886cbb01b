// The [pin] section of the profile schema: sha256 pins of the server's own
// files, recorded by `mcp-jail pin` and checked by `run` before anything starts.
//   files = [{ path, sha256 }], trees = [{ path, sha256, files, exclude }]
// (inline tables or [[pin.files]] / [[pin.trees]]: TOML makes them the same).
#include "reader.hpp"

namespace mcpjail::profile_schema {

namespace {

bool sha256_hex(const std::string& h) {
  return h.size() == 64 &&
         std::all_of(h.begin(), h.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Why `x` is not a path relative to a tree, or "".
std::string not_relative(const std::string& x) {
  if (x.empty() || x.starts_with("/") || x.ends_with("/")) return "not a relative path";
  for (std::size_t i = 0; i <= x.size();) {
    auto j = x.find('/', i);
    if (j == std::string::npos) j = x.size();
    const auto part = x.substr(i, j - i);
    if (part.empty() || part == "." || part == "..") return "it has an empty, . or .. component";
    i = j + 1;
  }
  return "";
}

bool pinned(const Pins& pins, const std::string& path) {
  return std::any_of(pins.files.begin(), pins.files.end(), [&](const PinFile& f) { return f.path == path; }) ||
         std::any_of(pins.trees.begin(), pins.trees.end(), [&](const PinTree& t) { return t.path == path; });
}

// Reads the entries of [pin] files (tree = false) or trees into L.p.pin.
bool read_pins(Reader& r, Layer& L, const std::string& key, const std::vector<EntryKey>& entries, bool tree) {
  const std::string sec = "pin." + key;
  const char* example = tree ? "{ path = \"/abs/project\", sha256 = \"<64 hex digits>\", files = 120 }"
                             : "{ path = \"/abs/dist/index.js\", sha256 = \"<64 hex digits>\" }";
  const TV& list = r.value();
  if (!list.is_array()) {
    r.error(loc_of(list), "'" + sec + "' must be an array of tables such as " + example + ", not " + type_name(list));
    return false;
  }
  std::vector<std::string> allowed;
  for (const auto& e : entries) allowed.push_back(e.name);
  for (const auto& e : list.as_array()) {
    const SourceLoc loc = loc_of(e);
    if (!e.is_table()) {
      r.error(loc, "'" + sec + "' entries must be tables such as " + example + ", not " + type_name(e));
      continue;
    }
    const auto& et = e.as_table();
    r.check_keys(et, sec, allowed);
    for (const auto& k : entries)
      if (k.required && !et.count(k.name))
        r.error(loc, "'" + sec + "' entry needs " + k.name + " = \"...\" (" + example + ")");
    std::optional<std::string> path, hex;
    if (auto it = et.find("path"); it != et.end()) {
      r.at(sec, "path", it->second);
      path = a_path().parse(r);
    }
    if (auto it = et.find("sha256"); it != et.end()) {
      r.at(sec, "sha256", it->second);
      if (auto h = r.string()) {
        if (!sha256_hex(*h)) {
          r.error(r.loc(), "'" + sec + ".sha256' must be a sha256 in hex: 64 digits 0-9 and a-f, got " +
                               std::to_string(h->size()) + " characters \"" + h->substr(0, 80) + "\"");
        } else {
          hex = *h;
          for (auto& c : *hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
      }
    }
    std::optional<std::uint64_t> files;
    std::vector<std::string> exclude;
    if (tree) {
      if (auto it = et.find("files"); it != et.end()) {
        r.at(sec, "files", it->second);
        files = a_count(0, 1ULL << 40).parse(r);
      }
      if (auto it = et.find("exclude"); it != et.end()) {
        r.at(sec, "exclude", it->second);
        for (auto& [x, xloc] : r.strings()) {
          if (const std::string why = not_relative(x); !why.empty())
            r.error(xloc, "'" + sec + ".exclude' entry \"" + x + "\": " + why +
                              "; write a path relative to the tree, such as \"mcp-jail.toml\"");
          else
            exclude.push_back(x);
        }
      }
    }
    if (!path || !hex) continue;
    if (pinned(L.p.pin, *path)) {
      r.error(loc_of(et.at("path")), "'pin' lists " + *path + " twice; keep one entry (mcp-jail pin rewrites the section)");
      continue;
    }
    if (tree) L.p.pin.trees.push_back(PinTree{*path, *hex, files, std::move(exclude), loc});
    else L.p.pin.files.push_back(PinFile{*path, *hex, loc});
  }
  return true;
}

Key pin_key(const std::string& name, bool tree) {
  Key k;
  k.name = name;
  k.type = "Array of tables";
  k.merge = Merge::Append;
  k.entries = {{"path", true}, {"sha256", true}};
  if (tree) k.entries.insert(k.entries.end(), {{"files", false}, {"exclude", false}});
  k.read = [name, entries = k.entries, tree](Reader& r, Layer& L) { return read_pins(r, L, name, entries, tree); };
  k.apply = [tree](Profile& into, const Profile& from) {
    if (tree) into.pin.trees.insert(into.pin.trees.end(), from.pin.trees.begin(), from.pin.trees.end());
    else into.pin.files.insert(into.pin.files.end(), from.pin.files.begin(), from.pin.files.end());
  };
  k.text = [tree](const Profile& p) {
    std::vector<std::string> out;
    if (tree)
      for (const auto& t : p.pin.trees) out.push_back(t.path + " " + t.sha256);
    else
      for (const auto& f : p.pin.files) out.push_back(f.path + " " + f.sha256);
    return out;
  };
  return k;
}

}  // namespace

Section pin_section() { return {"pin", {pin_key("files", false), pin_key("trees", true)}}; }

}  // namespace mcpjail::profile_schema
