// text.hpp: joining, shell quoting (checked by a real shell, started with an
// argv, not a shell string), one-line messages.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "mcpjail/text.hpp"

using namespace mcpjail;

namespace {

// Runs argv (execv, no shell in between) and returns its stdout; the exit
// status in *status.
std::string output_of(const std::vector<std::string>& argv, int* status) {
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(pipefd[1], STDOUT_FILENO);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return out;
}

const std::vector<std::string> kTricky = {
    "plain",   "it's",         "'",          "''",        "a'b'c",     "a b",     "",         "$HOME",
    "${HOME}", "`id`",         "$(id)",      "\\",        "\\'",       "\"",      "x\ny",     "\t",
    "*",       "?",            "[a]",        "~",         "~/x",       "a;b",     "a|b",      "a&b",
    "(x)",     "{a,b}",        "#comment",   "-n",        "--help",    "a=b",     "!x",       "\xc3\xa9t\xc3\xa9",
    "%s",      "100%",         "a\\nb",      "'\"'\"'",   " ",         "a'",      "'a",       "\x01",
};

}  // namespace

TEST_CASE("shell_quote: every word comes back unchanged through sh -c 'printf %s WORD'") {
  for (const auto& w : kTricky) {
    INFO("word: [" << w << "] quoted: [" << shell_quote(w) << "]");
    int status = -1;
    const std::string out = output_of({"/bin/sh", "-c", "printf %s " + shell_quote(w)}, &status);
    CHECK(status == 0);
    CHECK(out == w);
  }
}

TEST_CASE("shell_quote: plain words stay as they are, others are single-quoted") {
  CHECK(shell_quote("node") == "node");
  CHECK(shell_quote("/usr/bin/node") == "/usr/bin/node");
  CHECK(shell_quote("WORKSPACE=/w") == "WORKSPACE=/w");
  CHECK(shell_quote("@scope/pkg@1.2.3") == "@scope/pkg@1.2.3");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("a b") == "'a b'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("~/x") == "'~/x'");  // a shell would expand the tilde
  CHECK(shell_quote("*") == "'*'");
}

TEST_CASE("shell_join: a command line that a shell splits back into the same words") {
  std::vector<std::string> words = {"/usr/bin/printf", "%s\\0"};
  words.insert(words.end(), kTricky.begin(), kTricky.end());
  int status = -1;
  const std::string out = output_of({"/bin/sh", "-c", shell_join(words)}, &status);
  CHECK(status == 0);
  std::vector<std::string> back;
  std::string cur;
  for (char c : out) {
    if (c == '\0') {
      back.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  CHECK(cur.empty());
  CHECK(back == kTricky);
  // A first word holding '=' would be an assignment to a shell.
  CHECK(shell_join({"A=b", "c=d"}) == "'A=b' c=d");
  CHECK(shell_join({}).empty());
}

TEST_CASE("join, one_line, first_line") {
  CHECK(join({}, ", ").empty());
  CHECK(join({"a"}, ", ") == "a");
  CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(one_line("a\nb\tc\x7f") == "a?b?c?");
  CHECK(first_line("one\ntwo") == "one");
  CHECK(first_line("one") == "one");
}

TEST_CASE("trim") {
  CHECK(trim("  a b \t\r\n") == "a b");
  CHECK(trim(std::string("x\n\0", 3)) == "x");
  CHECK(trim("").empty());
  CHECK(trim(" \t\n").empty());
}
