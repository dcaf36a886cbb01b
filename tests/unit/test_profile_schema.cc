// The profile schema (mcpjail/profile_schema.hpp) held against what it
// drives: every key loads and fills its member, `extends` combines it by its
// merge rule, unknown and mistyped keys are refused with file:line:column,
// and mcp-jail-profile(5) documents every key, its type and its merge rule.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "mcpjail/profile.hpp"
#include "mcpjail/profile_schema.hpp"
#include "../support/profile_text.hpp"
#include "../support/scratch.hpp"

using namespace mcpjail;
namespace ps = mcpjail::profile_schema;
namespace fs = std::filesystem;

namespace {

std::string pin_entry(const std::string& path, char digit, const std::string& more = "") {
  return "{ path = \"" + path + "\", sha256 = \"" + std::string(64, digit) + "\"" + more + " }";
}

// Two values of every key ("section.key"), as a profile writes them. The
// first differs from the default, the second from the first; for lists they
// share an entry, so that "append once" is exercised.
const std::map<std::string, std::pair<std::string, std::string>>& examples() {
  static const std::map<std::string, std::pair<std::string, std::string>> e = {
      {"version", {"1", "1"}},
      {"name", {"\"first\"", "\"second\""}},
      {"description", {"\"one\"", "\"two\""}},
      {"extends", {"\"base\"", "\"fetch\""}},
      {"best_effort", {"[\"landlock\"]", "[\"limits\", \"landlock\"]"}},
      {"exec.allow", {"[\"/usr/bin/node\"]", "[\"/usr/bin/git\", \"-/opt/x\"]"}},
      {"exec.cwd", {"\"/srv/a\"", "\"${WORKSPACE}\""}},
      {"exec.user", {"\"nobody\"", "1001"}},
      {"exec.hostname", {"\"one\"", "\"two.example\""}},
      {"env.pass", {"[\"PATH\", \"LC_*\"]", "[\"LC_*\", \"TOKEN\"]"}},
      {"env.set", {"{ A = \"1\", B = \"2\" }", "{ B = \"3\", C = \"${WORKSPACE}\" }"}},
      {"env.home", {"\"state\"", "\"private\""}},
      {"filesystem.read", {"[\"/usr\", \"-/opt/a\"]", "[{ path = \"/opt/b\", optional = true }, \"/usr\"]"}},
      {"filesystem.write", {"[\"${WORKSPACE}\"]", "[\"~/data\"]"}},
      {"filesystem.tmpfs", {"[\"/tmp\"]", "[\"${HOME}/.cache\"]"}},
      {"filesystem.hide", {"[\"${WORKSPACE}/.env\"]", "[\"~/.ssh\"]"}},
      {"filesystem.exec", {"[\"${WORKSPACE}/.venv\"]", "[\"-/opt/tools\"]"}},
      {"filesystem.protect", {"[\".envrc\"]", "[\".envrc\", \".tool/config\"]"}},
      {"filesystem.protect_home", {"[\".bashrc\"]", "[\".bashrc\", \".local/bin\"]"}},
      {"filesystem.unprotect", {"[\".envrc\"]", "[\"*\", \".envrc\"]"}},
      {"network.mode", {"\"allowlist\"", "\"host\""}},
      {"network.allow", {"[\"api.example.com:443\"]", "[\"*.example.org:443\", \"203.0.113.0/24:80\"]"}},
      {"network.allow_private", {"[\"10.1.0.0/16\"]", "[\"192.168.7.0/24\"]"}},
      {"network.dns", {"[\"10.255.255.53\"]", "[\"10.0.0.53:5353\"]"}},
      {"network.allow_host_network", {"true", "false"}},
      {"limits.memory", {"\"512MiB\"", "1048576"}},
      {"limits.pids", {"64", "4194304"}},
      {"limits.cpu", {"1.5", "2"}},
      {"limits.nofile", {"1024", "16"}},
      {"limits.file_size", {"\"64M\"", "\"1GiB\""}},
      {"limits.tmpfs_size", {"\"32MiB\"", "\"1T\""}},
      {"limits.wall_time", {"\"1h30m\"", "\"500ms\""}},
      {"seccomp.base", {"\"strict\"", "\"default\""}},
      {"seccomp.deny", {"[\"ptrace\"]", "[\"mknod\", \"ptrace\"]"}},
      {"seccomp.allow", {"[\"mlock\"]", "[\"munlock\"]"}},
      {"seccomp.action", {"\"log\"", "\"kill\""}},
      {"audit.log", {"\"none\"", "\"~/audit.jsonl\""}},
      {"pin.files", {"[" + pin_entry("/opt/a.js", 'a') + "]", "[" + pin_entry("/opt/b.js", 'B') + "]"}},
      {"pin.trees",
       {"[" + pin_entry("/opt/a", 'c') + "]", "[" + pin_entry("/opt/b", 'd', ", files = 3, exclude = [\"x/y\"]") + "]"}},
  };
  return e;
}

std::string qualified(const ps::Section& s, const ps::Key& k) { return s.name.empty() ? k.name : s.name + "." + k.name; }

// A profile that sets `k` to `value` (nothing when empty), after `top` (top-level lines).
std::string profile(const ps::Section& s, const ps::Key& k, const std::string& value, const std::string& top = "") {
  std::string text = k.name == "version" ? "" : "version = 1\n";
  text += top;
  if (value.empty()) return text;
  if (s.name.empty()) return text + k.name + " = " + value + "\n";
  return text + "[" + s.name + "]\n" + k.name + " = " + value + "\n";
}

Profile load_text(const std::string& text) { return load_profile_text(text, "t.toml", "/profiles", support::alice_options()); }

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- mcp-jail-profile(5), as text -----------------------------------------------

// The words of a roff request line, with quoted arguments kept together.
std::vector<std::string> roff_args(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size()) break;
    std::string arg;
    if (s[i] == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) arg += s[i];
      ++i;
    } else {
      for (; i < s.size() && s[i] != ' '; ++i) arg += s[i];
    }
    out.push_back(arg);
  }
  return out;
}

std::string unescape(std::string s) {
  const std::pair<const char*, const char*> escapes[] = {
      {"\\(dq", "\""}, {"\\(aq", "'"}, {"\\(ga", "`"}, {"\\(ti", "~"}, {"\\(mu", "x"}, {"\\(en", "-"},
      {"\\(bu", "*"},  {"\\-", "-"},   {"\\&", ""},    {"\\fI", ""},  {"\\fB", ""},  {"\\fR", ""},
      {"\\fP", ""},    {"\\e", "\\"},  {"\\|", ""}};
  for (const auto& [from, to] : escapes)
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos)) {
      s.replace(pos, std::strlen(from), to);
      pos += std::strlen(to);
    }
  return s;
}

// One line of roff as the reader sees it (font requests joined as printed).
std::string render(const std::string& line) {
  if (!line.starts_with(".")) return unescape(line);
  const auto sp = line.find(' ');
  const std::string req = line.substr(1, sp == std::string::npos ? std::string::npos : sp - 1);
  const auto args = roff_args(sp == std::string::npos ? "" : line.substr(sp + 1));
  std::string out;
  const bool alternating = req.size() == 2 && std::string("BIR").find(req[0]) != std::string::npos &&
                           std::string("BIR").find(req[1]) != std::string::npos;
  if (req != "B" && req != "I" && !alternating) return "";
  for (const auto& a : args) out += (out.empty() || alternating ? "" : " ") + a;
  return unescape(out);
}

struct ManEntry {
  std::string head;  // the first sentences: type and allowed values
};
struct Man {
  std::map<std::string, std::map<std::string, ManEntry>> keys;  // section ("" = top level) -> key -> entry
  std::vector<std::string> extends_bullets;
  std::string text;
};

bool ends_head(const std::string& line) {
  for (const char* r : {".IP", ".RS", ".RE", ".TP", ".SH", ".SS", ".PP", ".EX"})
    if (line.starts_with(r)) return true;
  return line.starts_with("Default");
}

Man read_man() {
  std::ifstream in(std::string(MCPJAIL_SOURCE_DIR) + "/man/mcp-jail-profile.5");
  REQUIRE(in);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  Man man;
  std::string section;  // the section of keys being read, when in_keys
  bool in_keys = false;
  bool in_extends = false;
  int depth = 0;  // .RS nesting
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    man.text += render(l) + "\n";
    if (l.starts_with(".SH ")) {
      const std::string title = unescape(l.substr(4));
      in_extends = title == "EXTENDS";
      in_keys = title == "TOP-LEVEL KEYS" || (title.starts_with("[") && title.ends_with("] SECTION"));
      section = title.starts_with("[") ? title.substr(1, title.find(']') - 1) : "";
      if (in_keys) man.keys[section];
      depth = 0;
      continue;
    }
    if (l.starts_with(".RS")) ++depth;
    if (l.starts_with(".RE")) --depth;
    if (in_extends) {
      if (l.starts_with(".IP \\(bu")) man.extends_bullets.emplace_back();
      else if (l.starts_with(".PP")) in_extends = false;
      else if (!man.extends_bullets.empty()) man.extends_bullets.back() += render(l) + " ";
    }
    if (in_keys && depth == 0 && l == ".TP" && i + 1 < lines.size() && lines[i + 1].starts_with(".B ")) {
      const auto args = roff_args(lines[i + 1].substr(3));
      if (args.size() != 1) continue;
      ManEntry e;
      for (std::size_t j = i + 2; j < lines.size() && !ends_head(lines[j]); ++j)
        e.head += (e.head.empty() ? "" : " ") + render(lines[j]);
      man.keys[section][unescape(args[0])] = e;
    }
  }
  return man;
}

bool has_word(const std::string& text, const std::string& word) {
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (auto pos = text.find(word); pos != std::string::npos; pos = text.find(word, pos + 1)) {
    const bool start = pos == 0 || !is_word(text[pos - 1]);
    const bool end = pos + word.size() == text.size() || !is_word(text[pos + word.size()]);
    if (start && end) return true;
  }
  return false;
}

// Whether a bullet of EXTENDS names key `k` of section `s`: "[s] ... k", or
// "every list of [s]" / "each key of [s]"; a top-level key by its name.
bool names_key(const std::string& bullet, const std::string& s, const std::string& k) {
  if (s.empty()) return has_word(bullet, k);
  const std::string tag = "[" + s + "]";
  if (bullet.find("every list of " + tag) != std::string::npos || bullet.find("each key of " + tag) != std::string::npos)
    return true;
  const auto at = bullet.find(tag);
  if (at == std::string::npos) return false;
  const auto end = bullet.find('[', at + tag.size());
  return has_word(bullet.substr(at + tag.size(), end == std::string::npos ? std::string::npos : end - at - tag.size()), k);
}

}  // namespace

TEST_CASE("profile schema: every key has examples here, and every example names a key") {
  std::set<std::string> keys;
  for (const auto& s : ps::sections())
    for (const auto& k : s.keys) {
      keys.insert(qualified(s, k));
      INFO(qualified(s, k));
      CHECK(examples().count(qualified(s, k)));
      CHECK_FALSE(k.type.empty());
      CHECK(k.read);
      CHECK(k.text);
      if (k.merge != ps::Merge::PerFile) CHECK(k.apply);
      if (k.merge == ps::Merge::Own) CHECK(k.fallback);
    }
  for (const auto& [name, values] : examples()) {
    INFO(name);
    CHECK(keys.count(name));
  }
  CHECK(ps::sections().front().name.empty());
}

TEST_CASE("profile schema: each key loads, fills its member, and is combined through extends by its rule") {
  const Profile plain = load_text("version = 1\n");
  for (const auto& s : ps::sections())
    for (const auto& k : s.keys) {
      const std::string name = qualified(s, k);
      INFO(name << " (" << ps::merge_name(k.merge) << ")");
      REQUIRE(examples().count(name));
      const auto& [v0, v1] = examples().at(name);
      Profile p0, p1;
      REQUIRE_NOTHROW(p0 = load_text(profile(s, k, v0)));
      REQUIRE_NOTHROW(p1 = load_text(profile(s, k, v1)));
      if (k.name != "version") {
        CHECK(k.text(p0) != k.text(plain));  // the member is filled
        CHECK(k.text(p1) != k.text(p0));     // the examples tell the rule apart
      }

      support::ScratchDir d("schema");
      const std::string parent = d.write("parent.toml", profile(s, k, v0));
      const std::string extends = "extends = \"" + parent + "\"\n";
      const std::string with0 = d.write("with0.toml", profile(s, k, v0, extends));
      const std::string with1 = d.write("with1.toml", profile(s, k, v1, extends));
      const std::string without = d.write("without.toml", profile(s, k, "", extends));
      auto load = [](const std::string& path) { return load_profile(path, support::alice_options()); };

      switch (k.merge) {
        case ps::Merge::Override:
          CHECK(k.text(load(with1)) == k.text(p1));
          CHECK(k.text(load(without)) == k.text(p0));
          break;
        case ps::Merge::Append:
          CHECK(k.text(load(with1)) == concat(k.text(p0), k.text(p1)));
          CHECK(k.text(load(without)) == k.text(p0));
          break;
        case ps::Merge::AppendOnce: {
          std::vector<std::string> once = k.text(p0);
          bool shared = false;
          for (const auto& x : k.text(p1)) {
            if (std::find(once.begin(), once.end(), x) == once.end()) once.push_back(x);
            else shared = true;
          }
          CHECK(shared);
          CHECK(k.text(load(with1)) == once);
          CHECK(k.text(load(with0)) == k.text(p0));
          CHECK(k.text(load(without)) == k.text(p0));
          break;
        }
        case ps::Merge::ByName: {
          auto as_map = [](const std::vector<std::string>& lines) {
            std::map<std::string, std::string> m;
            for (const auto& l : lines) m[l.substr(0, l.find('='))] = l.substr(l.find('=') + 1);
            return m;
          };
          auto merged = as_map(k.text(p0));
          for (const auto& [n, v] : as_map(k.text(p1))) merged[n] = v;
          CHECK(as_map(k.text(load(with1))) == merged);
          // the examples share a name, so that the extending file's value must win
          CHECK(merged.size() < as_map(k.text(p0)).size() + as_map(k.text(p1)).size());
          CHECK(k.text(load(without)) == k.text(p0));
          break;
        }
        case ps::Merge::Own: {
          CHECK(k.text(load(with1)) == k.text(p1));
          // what the file has without a parent, not what the parent has
          d.dir("alone");
          const std::string alone = d.write("alone/without.toml", profile(s, k, ""));
          const auto own = k.text(load(alone));
          CHECK(k.text(load(without)) == own);
          CHECK(own != k.text(p0));
          break;
        }
        case ps::Merge::PerFile:
          if (k.name == "version") {
            // every file needs its own: a parent's does not count for its child
            const std::string bare = d.write("bare.toml", extends);
            CHECK_THROWS_WITH(load(bare), Catch::Contains("missing 'version = 1'"));
          } else {
            // extends: each file names its own parent; the chain is the files'
            CHECK(k.text(load(without)) == concat(k.text(p0), {parent}));
          }
          break;
      }
    }
}

TEST_CASE("profile schema: unknown keys are refused in every section with the schema's list of keys") {
  for (const auto& s : ps::sections()) {
    INFO("[" << s.name << "]");
    std::string allowed;
    for (const auto& k : ps::allowed_keys(s)) allowed += (allowed.empty() ? "" : ", ") + k;
    const std::string text = s.name.empty() ? "version = 1\nbogus_key = 1\n" : "version = 1\n[" + s.name + "]\nbogus_key = 1\n";
    const unsigned line = s.name.empty() ? 2 : 3;
    try {
      load_text(text);
      FAIL("accepted");
    } catch (const ProfileError& e) {
      REQUIRE(e.diagnostics().size() == 1);
      CHECK(e.diagnostics()[0].loc.str() == "t.toml:" + std::to_string(line) + ":1");
      CHECK(e.diagnostics()[0].message == "unknown key 'bogus_key'" + (s.name.empty() ? "" : " in [" + s.name + "]") +
                                              "; allowed: " + allowed);
    }
  }
}

TEST_CASE("profile schema: a value of the wrong type is refused at its position, naming its key") {
  for (const auto& s : ps::sections())
    for (const auto& k : s.keys) {
      const std::string name = qualified(s, k);
      INFO(name);
      // no key takes a date
      const std::string text = profile(s, k, "1979-05-27");
      try {
        load_text(text);
        FAIL("accepted");
      } catch (const ProfileError& e) {
        const auto& d = e.diagnostics().front();
        CHECK(d.loc.line == (s.name.empty() ? (k.name == "version" ? 1U : 2U) : 3U));
        CHECK(d.loc.column == k.name.size() + 4);
        CHECK_THAT(d.message, Catch::Contains("'" + name + "'"));
      }
    }
}

TEST_CASE("profile schema: mcp-jail-profile(5) documents every key, its type and its merge rule") {
  const Man man = read_man();
  std::set<std::string> schema_sections, man_sections;
  for (const auto& s : ps::sections()) schema_sections.insert(s.name);
  for (const auto& [name, keys] : man.keys) man_sections.insert(name);
  CHECK(man_sections == schema_sections);

  for (const auto& s : ps::sections()) {
    const auto& documented = man.keys.count(s.name) ? man.keys.at(s.name) : std::map<std::string, ManEntry>{};
    for (const auto& k : s.keys) {
      const std::string name = qualified(s, k);
      INFO(name << ": " << (documented.count(k.name) ? documented.at(k.name).head : "(not documented)"));
      CHECK(documented.count(k.name));
      if (!documented.count(k.name)) continue;
      // The paragraph begins with the type the schema gives.
      const std::string& head = documented.at(k.name).head;
      CHECK(head.starts_with(k.type));
      const std::string rest = head.substr(std::min(head.size(), k.type.size()));
      CHECK((rest.starts_with(".") || rest.starts_with(",") || rest.starts_with(" (") || rest.starts_with(" {")));
      for (const auto& e : k.entries) CHECK_THAT(head, Catch::Contains(e.name + " ="));
      // EXTENDS says how it is combined.
      auto bullet = [&](const char* words) {
        for (const auto& b : man.extends_bullets)
          if (b.find(words) != std::string::npos) return b;
        FAIL("EXTENDS has no bullet with \"" << words << "\"");
        return std::string();
      };
      switch (k.merge) {
        case ps::Merge::Append: CHECK(names_key(bullet("lists append"), s.name, k.name)); break;
        case ps::Merge::AppendOnce: {
          const std::string b = bullet("lists append");
          CHECK(names_key(b, s.name, k.name));
          const auto open = b.find("(names in"), close = b.find("only once)");
          REQUIRE(open != std::string::npos);
          REQUIRE(close != std::string::npos);
          CHECK(has_word(b.substr(open, close - open), k.name));
          break;
        }
        case ps::Merge::ByName: CHECK(names_key(bullet("name by name"), s.name, k.name)); break;
        case ps::Merge::Override: CHECK(names_key(bullet("replaces the inherited one"), s.name, k.name)); break;
        case ps::Merge::Own: CHECK(names_key(bullet("is not inherited"), s.name, k.name)); break;
        case ps::Merge::PerFile: break;
      }
    }
    // and documents no key the schema does not have
    for (const auto& entry : documented) {
      const std::string& key = entry.first;  // (clang 14 cannot capture a structured binding)
      INFO("mcp-jail-profile(5) documents " << (s.name.empty() ? "" : "[" + s.name + "] ") << key);
      CHECK(std::any_of(s.keys.begin(), s.keys.end(), [&](const ps::Key& k) { return k.name == key; }));
    }
  }
  // The example in ERRORS shows the loader's own list of [limits] keys.
  for (const auto& s : ps::sections())
    if (s.name == "limits") {
      std::string allowed;
      for (const auto& k : ps::allowed_keys(s)) allowed += (allowed.empty() ? "" : ", ") + k;
      CHECK_THAT(man.text, Catch::Contains("allowed: " + allowed + "\n"));
    }
}
