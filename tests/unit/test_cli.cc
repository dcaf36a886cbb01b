// The command line: one parser for every command, the server's command with
// or without "--", --help from the table, and the man page's synopsis in the
// table's words.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mcpjail/frontends/cli.hpp"

using namespace mcpjail::cli;

namespace {

using Args = std::vector<std::string>;

Arguments parse_of(const std::string& command, const Args& args) {
  return parse(mcpjail::cli::command(command), args);
}

std::string usage_error(const std::string& command, const Args& args) {
  try {
    parse_of(command, args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(accepted)";
}

const Args kServerArgs = {"--help", "--var", "X=1", "--write", "/tmp", "--", "-x", "--audit-log=none"};

}  // namespace

TEST_CASE("run: the server's command with or without --, its arguments never parsed") {
  Args with = {"base", "--var", "A=1", "--", "/bin/srv"};
  with.insert(with.end(), kServerArgs.begin(), kServerArgs.end());
  Args without = {"base", "--var", "A=1", "/bin/srv"};
  without.insert(without.end(), kServerArgs.begin(), kServerArgs.end());
  Args server = {"/bin/srv"};
  server.insert(server.end(), kServerArgs.begin(), kServerArgs.end());
  for (const auto& args : {with, without}) {
    const Arguments a = parse_of("run", args);
    CHECK(a.operand == "base");
    CHECK(a.values("var") == Args{"A=1"});
    CHECK_FALSE(a.has("write"));
    CHECK_FALSE(a.help);
    CHECK(a.server == server);
  }
  CHECK(parse_of("run", with).dashdash);
  CHECK_FALSE(parse_of("run", without).dashdash);
}

TEST_CASE("run: options before and after PROFILE, both spellings, in order") {
  const Arguments a = parse_of("run", {"--var", "A=1", "--env=TOKEN", "base", "--var=B=2", "--write", "/w",
                                       "--audit-log", "none", "--read", "/r", "node", "s.js"});
  CHECK(a.operand == "base");
  CHECK(a.values("var") == Args{"A=1", "B=2"});
  CHECK(a.values("env") == Args{"TOKEN"});
  CHECK(a.values("write") == Args{"/w"});
  CHECK(a.values("read") == Args{"/r"});
  CHECK(a.value("audit-log") == "none");
  CHECK(a.server == Args{"node", "s.js"});
  // An option's value is never taken for PROFILE or COMMAND, even when it looks like one.
  const Arguments b = parse_of("run", {"--var", "node", "base", "--write", "srv", "cmd"});
  CHECK(b.values("var") == Args{"node"});
  CHECK(b.operand == "base");
  CHECK(b.values("write") == Args{"srv"});
  CHECK(b.server == Args{"cmd"});
}

TEST_CASE("a command whose name starts with - is the server's after --") {
  const Arguments a = parse_of("run", {"base", "--", "-weird", "--var", "x"});
  CHECK(a.server == Args{"-weird", "--var", "x"});
  CHECK(a.dashdash);
  CHECK(usage_error("run", {"base", "-weird"}) == "unknown option '-weird'");
  // Everything after the first -- is the server's, a second -- included.
  CHECK(parse_of("run", {"base", "--", "cmd", "--", "x"}).server == Args{"cmd", "--", "x"});
}

TEST_CASE("help: --help before the server's command is mcp-jail's, after it the server's") {
  for (const auto& c : commands()) {
    INFO(c.name);
    CHECK(parse(c, Args{"--help"}).help);
    CHECK(parse(c, Args{"-h"}).help);
  }
  CHECK(parse_of("run", {"base", "--help"}).help);
  CHECK(parse_of("run", {"--var", "A=1", "base", "-h", "cmd"}).help);
  const Arguments a = parse_of("run", {"base", "cmd", "--help"});
  CHECK_FALSE(a.help);
  CHECK(a.server == Args{"cmd", "--help"});
}

TEST_CASE("check: the command is optional, pin and run need one") {
  const Arguments a = parse_of("check", {"base", "--var", "A=1"});
  CHECK(a.server.empty());
  CHECK(parse_of("check", {"base", "node", "x.js"}).server == Args{"node", "x.js"});
  CHECK(parse_of("pin", {"./p.toml", "--print", "node", "x.js", "--print"}).server == Args{"node", "x.js", "--print"});
  CHECK(parse_of("pin", {"./p.toml", "--print", "node"}).has("print"));
  CHECK(usage_error("run", {"base"}) == "no COMMAND given: the server's command follows PROFILE");
  CHECK(usage_error("run", {"base", "--"}) == "no COMMAND after --");
  CHECK(usage_error("pin", {"./p.toml"}).starts_with("no COMMAND"));
}

TEST_CASE("usage errors name what is wrong") {
  CHECK(usage_error("run", {}) == "no PROFILE given");
  CHECK(usage_error("run", {"--", "cmd"}) == "no PROFILE given");
  CHECK(usage_error("run", {"base", "--bogus", "cmd"}) == "unknown option '--bogus'");
  CHECK(usage_error("run", {"base", "--var"}) == "--var needs a NAME=VALUE");
  CHECK(usage_error("run", {"base", "--audit-log", "none", "--audit-log=none", "x"}) ==
        "--audit-log may be given only once");
  CHECK(usage_error("run", {"base", "--print", "x"}) == "unknown option '--print'");  // pin's, not run's
  CHECK(usage_error("run", {"base", "--va", "A=1", "x"}) == "unknown option '--va'");  // never abbreviated
  CHECK(usage_error("probe", {"base", "cmd"}) == "unexpected argument 'cmd'");
  CHECK(usage_error("probe", {"base", "--", "cmd"}) == "unexpected argument 'cmd'");
  CHECK(usage_error("wrap", {}) == "no CONFIG.json given");
  CHECK(usage_error("wrap", {"a.json", "b.json"}) == "unexpected argument 'b.json'");
  CHECK(usage_error("wrap", {"a.json", "--profile"}) == "--profile needs a [SERVER=]NAME");
  CHECK(usage_error("wrap", {"a.json", "--dry-run=yes"}) == "--dry-run takes no value");
  CHECK(usage_error("profiles", {"x"}) == "unexpected argument 'x'");
}

TEST_CASE("doctor: PROFILE is optional, no server's command") {
  const Arguments a = parse_of("doctor", {"--json"});
  CHECK(a.operand.empty());
  CHECK(a.has("json"));
  const Arguments b = parse_of("doctor", {"--var", "A=1", "fetch", "--write", "/tmp", "--write", "/srv"});
  CHECK(b.operand == "fetch");
  CHECK(b.values("write") == Args{"/tmp", "/srv"});
  CHECK(usage_error("doctor", {"fetch", "node"}) == "unexpected argument 'node'");
  CHECK(usage_error("doctor", {"--read", "/x"}) == "unknown option '--read'");
  CHECK(synopsis(mcpjail::cli::command("doctor")) ==
        "mcp-jail doctor [PROFILE] [--json] [--var NAME=VALUE]... [--write PATH]...");
}

TEST_CASE("export: FORMAT then PROFILE, -o DIR, the server's command with or without --") {
  const Arguments a = parse_of("export", {"oci", "base", "-o", "out", "node", "--image", "x"});
  CHECK(a.operand == "oci");
  CHECK(a.operand2 == "base");
  CHECK(a.value("output") == "out");
  CHECK_FALSE(a.has("image"));
  CHECK(a.server == Args{"node", "--image", "x"});
  const Arguments b = parse_of("export", {"--image", "i", "k8s", "--output=o", "base", "--replicas", "2", "--", "-x"});
  CHECK(b.operand == "k8s");
  CHECK(b.operand2 == "base");
  CHECK(b.value("image") == "i");
  CHECK(b.value("replicas") == "2");
  CHECK(b.server == Args{"-x"});
  CHECK(usage_error("export", {"oci"}) == "no PROFILE given");
  CHECK(usage_error("export", {"oci", "base", "-o", "d"}) == "no COMMAND given: the server's command follows PROFILE");
  CHECK(usage_error("export", {"oci", "base", "--audit-log", "none", "x"}) == "unknown option '--audit-log'");
  CHECK(synopsis(mcpjail::cli::command("export")) ==
        "mcp-jail export oci|k8s PROFILE [--var NAME=VALUE]... [--read PATH]... [--write PATH]... "
        "[--env NAME[=VALUE]]... -o DIR [--image IMAGE] [--name NAME] [--replicas N] [--] COMMAND [ARG]...");
}

TEST_CASE("learn: the synopsis writes -o FILE, as the option's short name") {
  CHECK(synopsis(mcpjail::cli::command("learn")) ==
        "mcp-jail learn [-o FILE] [--extends PROFILE] [--name NAME] [--network] [--exercise] [--var NAME=VALUE]... "
        "[--read PATH]... [--write PATH]... [--env NAME[=VALUE]]... [--] COMMAND [ARG]...");
  CHECK(help(mcpjail::cli::command("learn")).find("  -o, --output FILE") != std::string::npos);
}

TEST_CASE("wrap: CONFIG.json before or after its options, -- before a name starting with -") {
  const Arguments a = parse_of("wrap", {"--profile=filesystem", "--dry-run", "c.json"});
  CHECK(a.operand == "c.json");
  CHECK(a.value("profile") == "filesystem");
  CHECK(a.has("dry-run"));
  CHECK(parse_of("wrap", {"c.json", "--profile", "base"}).value("profile") == "base");
  CHECK(parse_of("wrap", {"--", "-c.json"}).operand == "-c.json");
}

TEST_CASE("help of every command: its synopsis, each option with its placeholder") {
  for (const auto& c : commands()) {
    INFO(c.name);
    const std::string h = help(c);
    CHECK(h.starts_with("usage: " + synopsis(c) + "\n"));
    for (const OptionSpec* o : c.options) {
      const std::string words = (o->short_name ? "-" + std::string(1, o->short_name) + ", " : std::string()) + "--" +
                                std::string(o->name) + (o->value.empty() ? "" : " " + std::string(o->value));
      CHECK(h.find("\n  " + words + " ") != std::string::npos);
    }
    CHECK(h.find("-h, --help") != std::string::npos);
    CHECK(usage().find("  " + synopsis(c) + "\n") != std::string::npos);
  }
  CHECK(synopsis(mcpjail::cli::command("run")) ==
        "mcp-jail run PROFILE [--var NAME=VALUE]... [--read PATH]... [--write PATH]... [--env NAME[=VALUE]]... "
        "[--audit-log TARGET] [--] COMMAND [ARG]...");
}

namespace {

// The text of a roff line as man prints it: font macros' arguments (the
// alternating ones joined without spaces), escapes resolved.
std::string roff_text(const std::string& line) {
  auto unescape = [](std::string s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\\' || i + 1 >= s.size()) {
        out += s[i];
        continue;
      }
      const char e = s[++i];
      if (e == '-') out += '-';
      else if (e == 'e') out += '\\';
      else if (e == '&' || e == '|') continue;
      else out += std::string("\\") + e;
    }
    return out;
  };
  if (!line.starts_with(".")) return unescape(line);
  std::istringstream in(line);
  std::string macro;
  in >> macro;
  std::vector<std::string> args;
  std::string rest;
  std::getline(in, rest);
  for (std::size_t i = 0; i < rest.size();) {
    if (rest[i] == ' ') {
      ++i;
      continue;
    }
    std::string arg;
    if (rest[i] == '"') {
      const auto end = rest.find('"', i + 1);
      arg = rest.substr(i + 1, end - i - 1);
      i = end == std::string::npos ? rest.size() : end + 1;
    } else {
      const auto end = rest.find(' ', i);
      arg = rest.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? rest.size() : end;
    }
    args.push_back(unescape(arg));
  }
  std::string out;
  const bool alternating = macro.size() == 3 && macro != ".SY";
  for (std::size_t i = 0; i < args.size(); ++i) out += (i && !alternating ? " " : "") + args[i];
  return out;
}

// The synopsis lines of man/mcp-jail.1, as text.
std::vector<std::string> man_synopses() {
  std::ifstream in(std::string(MCPJAIL_SOURCE_DIR) + "/man/mcp-jail.1");
  REQUIRE(in);
  std::vector<std::string> out;
  std::string line, cur;
  bool in_synopsis = false, in_block = false;
  while (std::getline(in, line)) {
    if (line.starts_with(".SH")) in_synopsis = line == ".SH SYNOPSIS";
    if (!in_synopsis) continue;
    if (line.starts_with(".SY")) {
      in_block = true;
      cur = roff_text(line);
    } else if (line.starts_with(".YS")) {
      out.push_back(cur);
      in_block = false;
    } else if (in_block) {
      cur += " " + roff_text(line);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("man/mcp-jail.1: its synopsis of each command is the table's, word for word") {
  const auto man = man_synopses();
  REQUIRE(man.size() >= commands().size());
  for (const auto& c : commands()) {
    INFO(c.name);
    CHECK(std::count(man.begin(), man.end(), synopsis(c)) == 1);
  }
  // And the man page has no synopsis of a command the table does not know.
  for (const auto& m : man) {
    INFO(m);
    const std::string second = m.substr(m.find(' ') + 1, m.find(' ', m.find(' ') + 1) - m.find(' ') - 1);
    if (second.starts_with("-") || second == "COMMAND") continue;  // --version, --help, COMMAND --help
    CHECK(find_command(second) != nullptr);
  }
}
