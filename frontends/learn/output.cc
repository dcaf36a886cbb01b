// The learned profile's text, and reading back an earlier one (sessions
// accumulate in one file). Every entry is one line with its evidence:
//   "/work/project",  # 412 reads, e.g. /work/project/src/index.js
//   "/opt/tool/config.json",  # 2 existence checks  (only stat()ed)
#include <regex>
#include <sstream>

#include "mcpjail/frontends/learn.hpp"
#include "mcpjail/frontends/toml_text.hpp"

namespace mcpjail::learn {

namespace {

// A comment holds one line: controls become '?' (the same text read back
// and written again stays the same).
std::string comment_safe(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  return out;
}

std::string evidence(const Entry& e, const char* what) {
  std::string s = std::to_string(e.count) + " " + what + (e.count == 1 ? "" : "s");
  if (e.count == 0 && !e.example.empty()) s += ": " + comment_safe(e.example);  // named, not seen
  else if (!e.example.empty()) s += ", e.g. " + comment_safe(e.example);
  return s;
}

// What a read entry only looked at is evidenced as "existence check(s)".
constexpr const char* kLooked = "existence check";

void array(std::string& out, const char* key, const std::vector<Entry>& entries, const char* what, bool dollar) {
  if (entries.empty()) return;
  out += std::string(key) + " = [\n";
  for (const auto& e : entries)
    out += "  " + toml_text::quote(e.value, dollar) + ",  # " + evidence(e, e.looked ? kLooked : what) + "\n";
  out += "]\n";
}

// The inverse of toml_text::quote.
bool unquote(std::string_view q, bool dollar, std::string* out) {
  if (q.size() < 2 || q.front() != '"' || q.back() != '"') return false;
  out->clear();
  for (std::size_t i = 1; i + 1 < q.size(); ++i) {
    const char ch = q[i];
    if (ch == '\\') {
      if (i + 2 >= q.size()) return false;
      const char n = q[++i];
      if (n == '"' || n == '\\') {
        *out += n;
      } else if (n == 'u' && i + 4 < q.size()) {
        *out += static_cast<char>(std::stoi(std::string(q.substr(i + 1, 4)), nullptr, 16));
        i += 4;
      } else {
        return false;
      }
    } else if (ch == '$' && dollar) {
      if (i + 2 >= q.size() || q[i + 1] != '$') return false;
      *out += '$';
      ++i;
    } else {
      *out += ch;
    }
  }
  return true;
}

}  // namespace

std::string render(const ProfileText& p) {
  std::string out;
  out += std::string(kMarker) + " from what the server did. Review it before\n";
  out += "# use: each line says what was seen. `mcp-jail learn -o THIS-FILE -- COMMAND` again\n";
  out += "# widens it with another session.\n";
  out += "# command: " + comment_safe(p.command) + "\n";
  out += "version = 1\n";
  out += "name = " + toml_text::quote(p.name, false) + "\n";
  out += "description = \"Learned by mcp-jail learn\"\n";
  out += "extends = " + toml_text::quote(p.extends, false) + "\n";
  if (!p.env_pass.empty() || !p.env_set.empty()) {
    out += "\n[env]\n";
    if (!p.env_pass.empty()) {
      out += "pass = [";
      for (std::size_t i = 0; i < p.env_pass.size(); ++i) out += (i ? ", " : "") + toml_text::quote(p.env_pass[i], false);
      out += "]  # --env\n";
    }
    if (!p.env_set.empty()) {
      out += "set = {";
      for (std::size_t i = 0; i < p.env_set.size(); ++i)
        out += (i ? ", " : " ") + p.env_set[i].first + " = " + toml_text::quote(p.env_set[i].second, true);
      out += " }  # --env\n";
    }
  }
  const Learned& l = p.learned;
  if (!l.exec.empty()) {
    out += "\n[exec]\n";
    array(out, "allow", l.exec, "exec", true);
  }
  if (!l.read.empty() || !l.write.empty() || !p.hide.empty()) {
    out += "\n[filesystem]\n";
    array(out, "read", l.read, "read", true);
    array(out, "write", l.write, "write", true);
    if (!p.hide.empty()) {
      out += "# credentials inside the paths above stay hidden\nhide = [\n";
      for (const auto& h : p.hide) out += "  " + toml_text::quote(h, true) + ",  # a credential\n";
      out += "]\n";
    }
  }
  if (l.network.empty()) {
    out += "\n[network]\nmode = \"none\"  # no connection was needed\n";
  } else {
    out += "\n[network]\nmode = \"allowlist\"  # connections were made (learn --network)\n";
    array(out, "allow", l.network, "connection", false);
  }
  if (!l.seccomp.empty()) {
    out += "\n[seccomp]\n";
    array(out, "allow", l.seccomp, "denied call", false);
  }
  if (!l.refused.empty() || !l.notes.empty()) out += "\n";
  for (const auto& e : l.refused)
    out += "# not granted (escape class): " + comment_safe(e.value) + ", " + evidence(e, "call") + "\n";
  for (const auto& n : l.notes) out += "# note: " + comment_safe(n) + "\n";
  return out;
}

bool parse_learned(std::string_view text, ProfileText* out, std::string* why) {
  if (!text.starts_with(kMarker)) {
    *why = "it is not a profile written by mcp-jail learn (its first line is not \"" + std::string(kMarker) + " ...\")";
    return false;
  }
  static const std::regex entry(R"re(^  ("(?:[^"\\]|\\.)*"),  # ([0-9]+) ([a-z ]+?)(?:, e\.g\. (.*)|: (.*))?$)re");
  static const std::regex refused(R"re(^# not granted \(escape class\): ([A-Za-z0-9_]+), ([0-9]+) calls?$)re");
  static const std::regex key(R"re(^([a-z_]+) = ("(?:[^"\\]|\\.)*")$)re");
  std::istringstream in{std::string(text)};
  std::string line, section, array;
  std::smatch m;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.starts_with("[") && line.ends_with("]")) {
      section = line.substr(1, line.size() - 2);
      array.clear();
      continue;
    }
    if (line.ends_with(" = [")) {
      array = section + "." + line.substr(0, line.size() - 4);
      continue;
    }
    if (line == "]") {
      array.clear();
      continue;
    }
    if (std::regex_match(line, m, refused)) {
      out->learned.refused.push_back({m[1].str(), std::stoull(m[2].str()), ""});
      continue;
    }
    if (section.empty() && std::regex_match(line, m, key)) {
      std::string v;
      if (!unquote(m[2].str(), false, &v)) continue;
      if (m[1] == "name") out->name = v;
      if (m[1] == "extends") out->extends = v;
      continue;
    }
    if (array.empty() || !line.starts_with("  \"")) continue;
    const bool dollar = array != "seccomp.allow" && array != "network.allow";
    if (array == "filesystem.hide") continue;  // derived again from the roots
    Entry e;
    if (!std::regex_match(line, m, entry) || !unquote(m[1].str(), dollar, &e.value)) {
      *why = "line " + std::to_string(n) + " is not an entry as mcp-jail learn writes them (edited by hand?)";
      return false;
    }
    e.count = std::stoull(m[2].str());
    e.looked = array == "filesystem.read" && m[3].str().starts_with(kLooked);
    if (m[4].matched) e.example = m[4].str();
    if (m[5].matched) e.example = m[5].str();
    if (array == "exec.allow") out->learned.exec.push_back(e);
    else if (array == "filesystem.read") out->learned.read.push_back(e);
    else if (array == "filesystem.write") out->learned.write.push_back(e);
    else if (array == "seccomp.allow") out->learned.seccomp.push_back(e);
    else if (array == "network.allow") out->learned.network.push_back(e);
  }
  return true;
}

}  // namespace mcpjail::learn
