// The exec resolver: #! lines, env command lines, PATH searches, the closure.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mcpjail/exec_resolve.hpp"
#include "../support/scratch.hpp"

using namespace mcpjail;
namespace fs = std::filesystem;

namespace {

struct Dir : support::ScratchDir {
  Dir() : ScratchDir("exec-unit") {}
};

exec::EnvCommand env_line(const std::string& line) {
  auto sb = exec::parse_shebang(line);
  REQUIRE(sb);
  return exec::env_of_shebang(*sb);
}

}  // namespace

TEST_CASE("exec: #! lines are read as the kernel reads them") {
  CHECK_FALSE(exec::parse_shebang("\x7f" "ELF"));
  CHECK_FALSE(exec::parse_shebang("#"));
  auto s = exec::parse_shebang("#!/bin/sh\nexit 0\n");
  REQUIRE(s);
  CHECK(s->interpreter == "/bin/sh");
  CHECK(s->arg.empty());
  // one argument: everything after the interpreter, blanks trimmed at the ends only
  s = exec::parse_shebang("#! \t/usr/bin/env   -S node  --flag \t\nrest");
  REQUIRE(s);
  CHECK(s->interpreter == "/usr/bin/env");
  CHECK(s->arg == "-S node  --flag");
  CHECK(s->line == "/usr/bin/env   -S node  --flag");
  // a carriage return is part of the line, as for the kernel
  s = exec::parse_shebang("#!/bin/sh\r\n");
  CHECK(s->interpreter == "/bin/sh\r");
  s = exec::parse_shebang("#!\n");
  REQUIRE(s);
  CHECK(s->interpreter.empty());
}

TEST_CASE("exec: env command lines, with -S and env's options") {
  SECTION("a program alone") {
    auto e = env_line("#!/usr/bin/env node");
    CHECK(e.error.empty());
    CHECK(e.program == "node");
    CHECK(e.args.empty());
  }
  SECTION("-S with an assignment before the program (the form that used to fail)") {
    auto e = env_line("#!/usr/bin/env -S NODE_OPTIONS=--no-warnings node --enable-source-maps");
    CHECK(e.error.empty());
    CHECK(e.assignments == std::vector<std::string>{"NODE_OPTIONS=--no-warnings"});
    CHECK(e.program == "node");
    CHECK(e.args == std::vector<std::string>{"--enable-source-maps"});
  }
  SECTION("-S joined to its string, with other options before and inside it") {
    auto e = env_line("#!/usr/bin/env -vS -i -u HOME -C /tmp FOO=bar BAZ=1 python3 -u");
    CHECK(e.error.empty());
    CHECK(e.assignments == std::vector<std::string>{"FOO=bar", "BAZ=1"});
    CHECK(e.program == "python3");
    CHECK(e.args == std::vector<std::string>{"-u"});
    e = env_line("#!/usr/bin/env -iS node");
    CHECK(e.program == "node");
  }
  SECTION("long options, unique prefixes, signal options and --") {
    auto e = exec::parse_env({"--split-string=--ignore-environment --unset=X --chdir /w --default-signal=PIPE -- A=1 node x"});
    CHECK(e.error.empty());
    CHECK(e.assignments == std::vector<std::string>{"A=1"});
    CHECK(e.program == "node");
    // env stops reading options at the first word that is not one
    e = exec::parse_env({"-S", "A=1 -i node"});
    CHECK(e.program == "-i");
    e = exec::parse_env({"--split=-- node x"});
    CHECK(e.program == "node");
    CHECK(e.args == std::vector<std::string>{"x"});
    CHECK_FALSE(exec::parse_env({"--un"}).error.empty());  // --unset, missing its value
    CHECK_THAT(exec::parse_env({"--nope"}).error, Catch::Contains("does not take"));
  }
  SECTION("quotes, escapes and comments in the -S string") {
    auto e = env_line(R"(#!/usr/bin/env -S A='x y' B="1\_2" "my prog" 'a\b' c\_d # comment)");
    CHECK(e.error.empty());
    CHECK(e.assignments == std::vector<std::string>{"A=x y", "B=1 2"});
    CHECK(e.program == "my prog");
    CHECK(e.args == std::vector<std::string>{"a\\b", "c", "d"});
    e = env_line(R"(#!/usr/bin/env -S node \c ignored)");
    CHECK(e.program == "node");
    CHECK(e.args.empty());
    CHECK(env_line("#!/usr/bin/env -S 'node").error == "env: no terminating quote in -S string");
    CHECK_THAT(env_line(R"(#!/usr/bin/env -S node \q)").error, Catch::Contains("invalid sequence"));
    CHECK_THAT(env_line("#!/usr/bin/env -S node $HOME").error, Catch::Contains("only ${VARNAME}"));
  }
  SECTION("${NAME} in the program's place cannot be resolved before the launch; elsewhere it is fine") {
    CHECK_THAT(env_line("#!/usr/bin/env -S ${PROG} x").error, Catch::Contains("${PROG}"));
    auto e = env_line("#!/usr/bin/env -S A=${HOME}/x node ${ARG}");
    CHECK(e.error.empty());
    CHECK(e.program == "node");
  }
  SECTION("without -S the kernel passes one word: env refuses it or runs no such program") {
    CHECK_THAT(env_line("#!/usr/bin/env node --flag").error, Catch::Contains("one program name") && Catch::Contains("env -S"));
    CHECK_THAT(env_line("#!/usr/bin/env -i node").error, Catch::Contains("env -S"));
    CHECK_THAT(env_line("#!/usr/bin/env FOO=bar node").error, Catch::Contains("env -S"));
    CHECK(env_line("#!/usr/bin/env FOO=bar").error.empty());  // an assignment and no program
    CHECK(env_line("#!/usr/bin/env FOO=bar").program.empty());
    CHECK(env_line("#!/usr/bin/env").program.empty());
  }
}

TEST_CASE("exec: PATH searches, in the jail (absolute entries) and for the launcher (execvp's)") {
  Dir d;
  d.write("a/tool", "#!/bin/sh\n", 0644);  // not executable: passed over
  const std::string b = d.write("b/tool", "#!/bin/sh\n");
  fs::create_directories(d.p("c/tool"));  // a directory: passed over
  CHECK(exec::search_path("tool", d.p("c") + ":" + d.p("a") + ":" + d.p("b")).path == b);
  CHECK(exec::search_path("tool", d.p("b") + "/").path == b);
  auto f = exec::search_path("tool", d.p("a"));
  CHECK(f.path.empty());
  CHECK(f.not_executable);
  CHECK(exec::search_path("none", d.p("b")).path.empty());
  // visible: only what the jail will see
  CHECK(exec::search_path("tool", d.p("b"), {.visible = [](const std::string&) { return false; }}).path.empty());
  // relative entries: ignored in the jail, counted for the launcher's own search
  const auto cwd = fs::current_path();
  fs::current_path(d.d);
  CHECK(exec::search_path("tool", "b").path.empty());
  CHECK(exec::search_path("tool", "b", {.relative_entries = true}).path == "b/tool");
  CHECK(exec::search_path("tool", ":", {.relative_entries = true}).path.empty());
  fs::current_path(cwd);
  // the jail's PATH: the env's, else execvp's default
  CHECK(exec::jail_search_path({"A=1", "PATH=/opt/bin:/usr/bin"}) == "/opt/bin:/usr/bin");
  CHECK(exec::jail_search_path({"A=1"}) == "/bin:/usr/bin");
}

TEST_CASE("exec: the closure follows #!/usr/bin/env -S VAR=val PROG on the given PATH") {
  Dir d;
  const std::string prog = d.write("bin/myprog", "#!/bin/sh\n");
  const std::string script = d.write("script", "#!/usr/bin/env -S NODE_OPTIONS=--no-warnings myprog --x\n");
  auto c = exec::closure({script}, "/usr/bin:" + d.p("bin"));
  std::vector<std::string> paths;
  for (const auto& e : c) paths.push_back(e.path);
  CHECK(paths[0] == script);
  CHECK(std::count(paths.begin(), paths.end(), "/usr/bin/env") == 1);
  CHECK(std::count(paths.begin(), paths.end(), prog) == 1);
  CHECK(std::count(paths.begin(), paths.end(), "/bin/sh") == 1);  // myprog's own interpreter
  // the launcher's PATH plays no part: without bin/ on the given PATH it is not found
  CHECK_THROWS_WITH(exec::closure({script}, "/usr/bin"), Catch::Contains("myprog is not found on PATH /usr/bin"));
  CHECK_THROWS_AS(exec::closure({d.p("missing")}, "/usr/bin"), exec::ResolveError);
}
