// The built-in profile git (profiles/git.toml), with the real git program:
// a server adds and commits in ${REPO}. mcp-server-git itself comes from PyPI
// and is not installed for the tests, so the servers are a shell script and a
// Python program that run git as it does (a child process found on PATH,
// GitPython's way). git may run only because the profile allows it; the
// repository's hooks and config, and anything outside it, stay unwritable;
// the launching user's ~/.gitconfig is what git reads, and a missing one is
// no error. Root and rootless; as root the repository
// belongs to root (0755), as a CI checkout does, and is written through the
// idmapped bind. Each negative has its control: the same script under a
// profile that drops what stops it.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "../support/files.hpp"
#include "../support/process.hpp"
#include "../support/skip.hpp"
#include "harness.hpp"

using namespace it;
namespace fs = std::filesystem;

namespace {

const char* kSh = "/bin/sh";

uid_t owner(const std::string& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_uid;
}

// git on the host, outside any jail, reading no user or system configuration.
support::Output host_git(const std::string& repo, std::vector<std::string> args) {
  std::vector<std::string> argv = {kGit, "-c", "safe.directory=*", "-C", repo};
  argv.insert(argv.end(), args.begin(), args.end());
  return support::run(argv, {"PATH=/usr/bin:/bin", "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1"});
}

// A repository with one commit, a hooks directory and a config; owned, in a
// root launch, by root (0755: the jail's user could not write it without
// the mapping), rootless by the launching user. A home directory for the
// launcher, with or without a .gitconfig; and a directory outside the
// repository that the jail's user may write on the host.
struct GitWorld {
  Mode mode;
  TempDir repo_dir, home_dir, outside_dir, prof;
  std::string repo, home, outside;
  GitWorld(Mode m, bool with_gitconfig) : mode(m), repo_dir(m), home_dir(m), outside_dir(m), prof(m) {
    repo = repo_dir.path();
    home = home_dir.path();
    outside = outside_dir.path();
    REQUIRE(host_git(repo, {"init", "-q"}).status == 0);
    fs::create_directories(repo + "/.git/hooks");
    support::spit(repo + "/README.md", "hello\n", 0644);
    REQUIRE(host_git(repo, {"add", "README.md"}).status == 0);
    REQUIRE(host_git(repo, {"-c", "user.name=host", "-c", "user.email=host@example.test", "commit", "-q", "-m",
                            "on the host"})
                .status == 0);
    const uid_t repo_uid = m == Mode::Root ? 0 : Harness::get().uid(m);
    const gid_t repo_gid = m == Mode::Root ? 0 : Harness::get().gid(m);
    chown_tree(repo, repo_uid, repo_gid);
    REQUIRE(::chmod(repo.c_str(), 0755) == 0);
    if (with_gitconfig) {
      support::spit(home + "/.gitconfig", "[user]\n\tname = Jail Tester\n\temail = tester@example.test\n", 0644);
      chown_tree(home, Harness::get().uid(m), Harness::get().gid(m));
    }
  }
  // The script as the server, launched under `profile` with REPO set.
  Result server(const std::string& profile, const std::string& script, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"run", profile, "--var", "REPO=" + repo, "--audit-log", "none"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.insert(a.end(), {"--", kSh, "-c", script});
    RunOptions o;
    o.env = {"HOME=" + home};
    return run(mode, a, o);
  }
  // A profile of its own that extends git, with `body` added.
  std::string extending(const std::string& body) const {
    return prof.file("p" + std::to_string(std::hash<std::string>{}(body)) + ".toml",
                     "version = 1\nname = \"git-test\"\nextends = \"git\"\n" + body);
  }
};

// A launch that exited 0 and wrote `out` (its stderr shown when not).
void require_output(const Result& r, const std::string& out) {
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == out);
}

// Each attempt prints a word when it succeeds; the repository write is the
// positive control of the same launch.
std::string attempts(const GitWorld& w) {
  return "cd " + w.repo + "\n"
         "(printf '#!/bin/sh\\ntouch /tmp/ran\\n' > .git/hooks/pre-commit) 2>/dev/null && echo HOOK\n"
         "(printf '[core]\\n\\tfsmonitor = touch /tmp/ran\\n' >> .git/config) 2>/dev/null && echo CONFIG\n"
         "git config core.hooksPath /tmp 2>/dev/null && echo GIT-CONFIG\n"
         "(printf x > " + w.outside + "/planted) 2>/dev/null && echo OUTSIDE\n"
         "(printf x > " + w.repo + "/written.txt) && echo REPO\n";
}

}  // namespace

TEST_CASE("git profile: git adds and commits in REPO, author from ~/.gitconfig, the commit is on the host", "[git]") {
  if (::access(kGit, X_OK) != 0) SKIP_TEST("git is not installed at /usr/bin/git");
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      GitWorld w(m, true);
      const Result r = w.server("git",
                                "set -e\n"
                                "printf 'from the jail\\n' > notes.txt\n"
                                "git add notes.txt\n"
                                "git commit -q -m 'commit in the jail'\n"
                                "git log --format='%an <%ae> %s'\n");
      require_output(r, "Jail Tester <tester@example.test> commit in the jail\nhost <host@example.test> on the host\n");
      // Nothing was refused: no exec of git's own helper, no write.
      CHECK(r.err.find("blocked") == std::string::npos);
      // On the host: files of the repository's owner (before a git of the
      // host rewrites the index), the commit and its author.
      const uid_t want = m == Mode::Root ? 0 : Harness::get().uid(m);
      CHECK(owner(w.repo + "/notes.txt") == want);
      CHECK(owner(w.repo + "/.git/index") == want);
      CHECK(owner(w.repo + "/.git/COMMIT_EDITMSG") == want);
      const auto log = host_git(w.repo, {"log", "--format=%an|%s"});
      CHECK(log.out == "Jail Tester|commit in the jail\nhost|on the host\n");
      CHECK(host_git(w.repo, {"status", "--porcelain"}).out == "");

      // The control of the allowed program: under base, with the same
      // repository writable, git looks absent (the shell's "not found").
      std::vector<std::string> a = {"run", "base", "--write", w.repo, "--audit-log", "none", "--", kSh, "-c",
                                    "cd " + w.repo + " && git status"};
      RunOptions o;
      o.env = {"HOME=" + w.home};
      const Result base = run(m, a, o);
      INFO(base.err);
      CHECK(base.status == 127);
      CHECK(base.err.find("git: not found") != std::string::npos);
    }
  }
}

TEST_CASE("git profile: hooks, .git/config and paths outside REPO are not writable, and the control writes them", "[git]") {
  if (::access(kGit, X_OK) != 0) SKIP_TEST("git is not installed at /usr/bin/git");
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      GitWorld w(m, false);
      const std::string config = support::slurp(w.repo + "/.git/config");
      const Result r = w.server("git", attempts(w));
      INFO(r.err);
      CHECK(r.status == 0);
      CHECK(r.out == "REPO\n");
      CHECK(!fs::exists(w.repo + "/.git/hooks/pre-commit"));
      CHECK(support::slurp(w.repo + "/.git/config") == config);
      CHECK(!fs::exists(w.outside + "/planted"));
      CHECK(support::slurp(w.repo + "/written.txt") == "x");

      // Control: names unprotected and the outside directory writable, the
      // same script writes all of it.
      fs::remove(w.repo + "/written.txt");
      const Result c = w.server(w.extending("[filesystem]\nunprotect = [\"*\"]\n"), attempts(w), {"--write", w.outside});
      require_output(c, "HOOK\nCONFIG\nGIT-CONFIG\nOUTSIDE\nREPO\n");
    }
  }
}

TEST_CASE("git profile: without ~/.gitconfig the launch works and git sees no identity, with it git cannot change it",
          "[git]") {
  if (::access(kGit, X_OK) != 0) SKIP_TEST("git is not installed at /usr/bin/git");
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      GitWorld absent(m, false);
      Result r = absent.server("git",
                               "git config user.name; echo \"user.name: $?\"\n"
                               "git log --format=%s\n"
                               "printf x > f && git add f && git -c user.name=a -c user.email=a@example.test commit -q -m "
                               "second && echo COMMITTED\n");
      require_output(r, "user.name: 1\non the host\nCOMMITTED\n");

      GitWorld present(m, true);
      const std::string before = support::slurp(present.home + "/.gitconfig");
      r = present.server("git",
                         "git config user.name\n"
                         "git config --global user.name Someone 2>/dev/null && echo CHANGED\n"
                         "git config --global user.name\n");
      require_output(r, "Jail Tester\nJail Tester\n");
      CHECK(support::slurp(present.home + "/.gitconfig") == before);
    }
  }
}

TEST_CASE("git profile: a Python server runs git through subprocess, as mcp-server-git does", "[git]") {
  if (::access(kGit, X_OK) != 0) SKIP_TEST("git is not installed at /usr/bin/git");
  const std::string python = support::find_program({"/usr/bin/python3"});
  if (python.empty()) SKIP_TEST("needs /usr/bin/python3");
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      GitWorld w(m, true);
      support::spit(w.repo + "/py.txt", "from python\n", 0644);
      chown_tree(w.repo, m == Mode::Root ? 0 : Harness::get().uid(m), m == Mode::Root ? 0 : Harness::get().gid(m));
      // git found on PATH, as GitPython finds it.
      const std::string script =
          "import subprocess, sys\n"
          "for a in (['add', 'py.txt'], ['commit', '-q', '-m', 'by python'], ['log', '-1', '--format=%an|%s']):\n"
          "    r = subprocess.run(['git', *a], capture_output=True, text=True)\n"
          "    sys.stdout.write(r.stdout)\n"
          "    if r.returncode != 0: sys.exit(r.stderr)\n";
      RunOptions o;
      o.env = {"HOME=" + w.home};
      const Result r = run(m, {"run", "git", "--var", "REPO=" + w.repo, "--audit-log", "none", "--", python, "-c", script}, o);
      require_output(r, "Jail Tester|by python\n");
      CHECK(host_git(w.repo, {"log", "-1", "--format=%s"}).out == "by python\n");
    }
  }
}

TEST_CASE("git profile: check shows REPO's protected hooks and config, git allowed, ~/.gitconfig read or skipped",
          "[git]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      GitWorld w(m, true);
      RunOptions o;
      o.env = {"HOME=" + w.home};
      Result r = run(m, {"check", "git", "--var", "REPO=" + w.repo, "--", kSh, "-c", "true"}, o);
      INFO(r.out << r.err);
      REQUIRE(r.status == 0);
      CHECK_THAT(r.out, Catch::Contains("read-only " + w.repo + "/.git/hooks\n"));
      CHECK_THAT(r.out, Catch::Contains("read-only " + w.repo + "/.git/config\n"));
      CHECK_THAT(r.out, Catch::Contains("refused   " + w.repo + "/.gitmodules\n"));
      CHECK_THAT(r.out, Catch::Contains("execute    /usr/bin/git  (exec.allow (<builtin>/git.toml:"));
      CHECK_THAT(r.out, Catch::Contains("read       " + w.home + "/.gitconfig\n"));
      CHECK_THAT(r.out, Catch::Contains("GIT_CONFIG_GLOBAL=" + w.home + "/.gitconfig\n"));
      CHECK_THAT(r.out, Catch::Contains("network      none"));
      fs::remove(w.home + "/.gitconfig");
      r = run(m, {"check", "git", "--var", "REPO=" + w.repo, "--", kSh, "-c", "true"}, o);
      REQUIRE(r.status == 0);
      CHECK_THAT(r.out, Catch::Contains(w.home + "/.gitconfig (optional, filesystem.read) does not exist; skipped"));
    }
  }
}
