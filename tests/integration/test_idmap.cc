// Root launches with write paths the jail's user does not own (a CI checkout
// owned by root, 0755): the bind is idmapped, so the server writes there, what
// it creates belongs to the path's owner on the host, and files of any other
// owner stay as protected as before. Rootless launches are the user's own
// paths and need no mapping. Without the mapping each positive below fails
// with EACCES (the jail runs as 65534).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "../support/files.hpp"
#include "../support/process.hpp"
#include "../support/skip.hpp"
#include "harness.hpp"

using namespace it;
namespace fs = std::filesystem;

namespace {

// A directory tree owned by root (0755), removed afterwards.
struct RootTree {
  std::string path;
  RootTree() {
    char t[] = "/tmp/mcpjail-idmap-XXXXXX";
    REQUIRE(::mkdtemp(t));
    path = t;
    REQUIRE(::chmod(path.c_str(), 0755) == 0);
  }
  ~RootTree() { fs::remove_all(path); }
};

struct stat require_stat(const std::string& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

Result jailed(const std::string& write, const std::vector<std::string>& command) {
  std::vector<std::string> args{"run", "base", "--write", write, "--audit-log", "none", "--"};
  args.insert(args.end(), command.begin(), command.end());
  return run(Mode::Root, args);
}

}  // namespace

TEST_CASE("idmap: a root-owned write path is written by the server, new files are root's, others' files stay closed") {
  if (::geteuid() != 0) SKIP_TEST("root launches need root");
  RootTree t;
  support::spit(t.path + "/root.txt", "root's\n", 0644);
  support::spit(t.path + "/other.txt", "someone else's\n", 0644);
  REQUIRE(::chown((t.path + "/other.txt").c_str(), 1234, 1234) == 0);
  fs::create_directory(t.path + "/sub");
  const std::string probe = Harness::get().probe();

  // What check shows.
  const auto plan = run(Mode::Root, {"check", "base", "--write", t.path});
  REQUIRE(plan.status == 0);
  CHECK_THAT(plan.out, Catch::Contains("idmapped: files of uid 0 gid 0 appear as the jail's 65534:65534"));

  // Positive: create, overwrite, mkdir, in the root-owned tree.
  auto r = jailed(t.path, {probe, "write-ok", t.path + "/new.txt", "from the jail"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(support::slurp(t.path + "/new.txt") == "from the jail");
  CHECK(require_stat(t.path + "/new.txt").st_uid == 0);
  CHECK(require_stat(t.path + "/new.txt").st_gid == 0);
  r = jailed(t.path, {probe, "write-ok", t.path + "/root.txt", "rewritten"});
  CHECK(r.status == 0);
  CHECK(support::slurp(t.path + "/root.txt") == "rewritten");
  r = jailed(t.path, {probe, "write-ok", t.path + "/sub/deeper.txt", "x"});
  CHECK(r.status == 0);
  CHECK(require_stat(t.path + "/sub/deeper.txt").st_uid == 0);

  // Negative: a file of another owner stays unwritable (it maps to no one).
  r = jailed(t.path, {probe, "write-fails", t.path + "/other.txt"});
  CHECK(r.status == 0);
  CHECK(support::slurp(t.path + "/other.txt") == "someone else's\n");
  // The server is still not root: it cannot give a file away.
  r = jailed(t.path, {probe, "uid-not-root"});
  CHECK(r.status == 0);
}

TEST_CASE("idmap: git add and commit, and a SQLite write, in root-owned trees from a root launch") {
  if (::geteuid() != 0) SKIP_TEST("root launches need root");
  const std::string git = support::find_program({"/usr/bin/git"});
  const std::string python = support::find_program({"/usr/bin/python3"});
  if (git.empty() || python.empty()) SKIP_TEST("needs /usr/bin/git and /usr/bin/python3");
  RootTree t;
  support::run_checked({git, "init", "-q", t.path});
  support::spit(t.path + "/file.txt", "content\n", 0644);
  // git refuses a repository its user does not own ("dubious ownership"):
  // through the mapping the jail's user owns it.
  auto r = jailed(t.path, {git, "-C", t.path, "add", "file.txt"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  r = jailed(t.path, {git, "-C", t.path, "-c", "user.name=jail", "-c", "user.email=jail@example.test", "commit", "-q",
                      "-m", "from the jail"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto log = support::run({git, "-C", t.path, "log", "--format=%s"}, {"PATH=/usr/bin:/bin"});
  CHECK(log.out == "from the jail\n");
  CHECK(require_stat(t.path + "/.git/index").st_uid == 0);

  r = jailed(t.path, {python, "-c",
                      "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table t(x)'); "
                      "c.execute('insert into t values (42)'); c.commit()",
                      t.path + "/db.sqlite"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(require_stat(t.path + "/db.sqlite").st_uid == 0);
  const auto q = support::run({python, "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select x from t').fetchone()[0])",
                               t.path + "/db.sqlite"},
                              {"PATH=/usr/bin:/bin"});
  CHECK(q.out == "42\n");
}

TEST_CASE("idmap: rootless launches and paths the jail's user owns are not mapped") {
  for (Mode m : modes()) {
    TempDir ws(m);  // owned by the jail's user of the mode
    const auto plan = run(m, {"check", "base", "--write", ws.path()});
    REQUIRE(plan.status == 0);
    CHECK_THAT(plan.out, !Catch::Contains("idmapped"));
    const auto r = run(m, {"run", "base", "--write", ws.path(), "--audit-log", "none", "--", Harness::get().probe(),
                           "write-ok", ws.path() + "/f", "x"});
    CHECK(r.status == 0);
  }
}
