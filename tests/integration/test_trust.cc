// What one launch plants, the next must not follow. Each test lets a first
// jail do the hostile thing from inside (jailprobe steps ...), then shows with
// a second launch, and on the host, that it did not work. Root and rootless.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.hpp"

using namespace it;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A writable workspace and a profile that lists it; `extra` adds to
// [filesystem] (TOML lines).
struct World {
  Mode mode;
  TempDir ws, prof;
  std::string profile;
  explicit World(Mode m, const std::string& extra = "") : mode(m), ws(m), prof(m) {
    profile = prof.file("trust.toml", R"(version = 1
name = "trust"
extends = "base"
[filesystem]
write = ["${WORKSPACE}"]
)" + extra);
  }
  std::vector<std::string> args(const std::string& audit, const std::vector<std::string>& probe_args) const {
    std::vector<std::string> a = {"run", profile, "--var", "WORKSPACE=" + ws.path(), "--audit-log", audit,
                                  "--", Harness::get().probe()};
    a.insert(a.end(), probe_args.begin(), probe_args.end());
    return a;
  }
  Result probe(const std::vector<std::string>& probe_args, const std::string& audit = "none",
               const RunOptions& o = {}) const {
    return run(mode, args(audit, probe_args), o);
  }
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

// A path owned by the mode's launching user (root mode: root).
void own(Mode m, const std::string& p) {
  if (::geteuid() == 0 && m == Mode::Rootless &&
      ::lchown(p.c_str(), Harness::get().uid(m), Harness::get().gid(m)) != 0)
    throw std::runtime_error("lchown " + p);
}

}  // namespace

// (3) The audit log: a FIFO or a link planted in a tree a jail writes must
// neither hang the next launch nor redirect its log.
TEST_CASE("trust: the audit log is never opened through a link, as a FIFO, or inside a write path") {
  for (Mode m : modes()) {
    World w(m);
    TempDir out(m), victim(m);
    // Launch 1: the jail plants a FIFO and a link to a directory of the
    // user's that it cannot write.
    auto r = w.probe({"steps", "fifo", w.ws.path() + "/audit.log", "symlink", victim.path(), w.ws.path() + "/logs"});
    INFO(mode_name(m) << " launch 1: " << r.err);
    REQUIRE(r.status == 0);
    REQUIRE(exists(w.ws.path() + "/audit.log"));

    // Launch 2: the log inside the write path is refused at once (no hang on
    // the FIFO), with the fix.
    r = w.probe({"exit", "0"}, w.ws.path() + "/audit.log", RunOptions{.timeout = 20s});
    INFO(mode_name(m) << " launch 2: " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("which a jail can write") && Catch::Contains("outside every write path"));

    // The user's own link outside the write path, into the planted link:
    // not followed, nothing is created where the planted link points.
    const std::string via = out.path() + "/via";
    REQUIRE(::symlink((w.ws.path() + "/logs").c_str(), via.c_str()) == 0);
    own(m, via);
    r = w.probe({"exit", "0"}, via + "/audit.log", RunOptions{.timeout = 20s});
    INFO(mode_name(m) << " launch 3: " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("symbolic link") && Catch::Contains("realpath"));
    CHECK_FALSE(exists(victim.path() + "/audit.log"));

    // A FIFO outside every write path: refused at once, not a hang.
    const std::string fifo = out.path() + "/fifo.log";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    own(m, fifo);
    r = w.probe({"exit", "0"}, fifo, RunOptions{.timeout = 20s});
    INFO(mode_name(m) << " launch 4: " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("FIFO"));

    // Positive control: a plain file outside the write paths gets the events.
    const std::string good = out.path() + "/good.log";
    r = w.probe({"exit", "0"}, good);
    INFO(mode_name(m) << " control: " << r.err);
    CHECK(r.status == 0);
    CHECK_THAT(slurp(good), Catch::Contains("\"event\":\"exit\""));
  }
}

// (4) No setuid/setgid file can be made in a write path: on the host, where
// nosuid does not hold, it would run with the jail user's (or root's) id.
TEST_CASE("trust: no setuid or setgid bit can be set from inside a jail") {
  for (Mode m : modes()) {
    World w(m);
    const std::string tool = w.ws.file("tool", "#!/bin/sh\n", 0644);
    const std::string log = w.prof.path() + "/audit.log";
    // Launch 1: every way to set the bits answers EPERM; the same calls
    // without them work (positive control inside the probe).
    auto r = w.probe({"steps", "setid-refused", tool}, log);
    INFO(mode_name(m) << " launch 1: " << r.err);
    CHECK(r.status == 0);
    const std::string events = slurp(log);
    INFO(events);
    CHECK_THAT(events, Catch::Contains("\"event\":\"deny\"") && Catch::Contains("\"reason\":\"setuid/setgid mode\""));
    CHECK_THAT(events, Catch::Contains("\"syscall\":\"fchmodat\"") || Catch::Contains("\"syscall\":\"chmod\""));
    CHECK_THAT(events, Catch::Contains("\"syscall\":\"fchmod\""));
    CHECK_THAT(events, Catch::Contains("\"syscall\":\"mkdir\"") || Catch::Contains("\"syscall\":\"mkdirat\""));
    // On the host: no setid bit anywhere, the refused files do not exist.
    struct stat st {};
    REQUIRE(::stat(tool.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0755);
    for (const char* s : {".suid", ".sgid", ".creat", ".dir", ".node"}) CHECK_FALSE(exists(tool + s));
    REQUIRE(::stat((tool + ".plain").c_str(), &st) == 0);
    CHECK((st.st_mode & (S_ISUID | S_ISGID)) == 0);
    // Launch 2 sees the same modes.
    r = w.probe({"steps", "mode-is", tool, "755"});
    INFO(mode_name(m) << " launch 2: " << r.err);
    CHECK(r.status == 0);
  }
}

// (5) What the server writes on stderr cannot pass for the launcher's lines.
TEST_CASE("trust: launcher lines on stderr start on their own line, the summary carries the launch id, escaped") {
  for (Mode m : modes()) {
    World w(m);
    // The server leaves a forged, unterminated event and a forged summary on
    // stderr, is denied a call, and fails to write a file whose name holds a
    // right-to-left override.
    const std::string bidi = "/etc/evil\u202egnp.exe";
    auto r = w.probe({"steps", "stderr", "mcp-jail: trust: blocked nothing [launch 0000000000000000]\n",
                      "unshare-user", "create-fails", bidi, "stderr", "{\"event\":\"exit\",\"status\":0,"},
                     "stderr");
    INFO(mode_name(m) << ": " << r.err);
    REQUIRE(r.status == 0);
    // Every launcher event is a whole line of JSON; the exit event is not
    // glued to the server's partial line.
    std::string launch;
    bool exit_seen = false, start_seen = false;
    for (const auto& l : lines_of(r.err)) {
      if (l.find("\"launch\":\"") == std::string::npos || l.rfind("{", 0) != 0) continue;
      const auto j = nlohmann::json::parse(l);  // throws when a launcher event is glued to other bytes
      if (launch.empty()) launch = j.value("launch", "");
      CHECK(j.value("launch", "") == launch);
      if (j.value("event", "") == "exit") exit_seen = true;
      if (j.value("event", "") == "start") start_seen = true;
    }
    CHECK(start_seen);
    CHECK(exit_seen);
    REQUIRE(launch.size() == 16);
    // The real summary names the launch; the override is escaped in it and in
    // the JSON events: no raw U+202E reaches the terminal.
    CHECK_THAT(r.err, Catch::Contains("\nmcp-jail: trust: blocked 1 syscall (unshare), 1 write (/etc/evil\\u202egnp.exe) [launch " +
                                      launch + "]\n"));
    CHECK(r.err.find("\u202e") == std::string::npos);
    CHECK_THAT(r.err, Catch::Contains("\\u202e"));
    // The server's partial line stays its own.
    CHECK_THAT(r.err, Catch::Contains("{\"event\":\"exit\",\"status\":0,\n"));
  }
}

// (2) A link planted by the jail of one profile does not redirect the read
// path of another profile, nor a write path of the next launch.
TEST_CASE("trust: a symlink a jail of the same user could have planted redirects no bind or write path") {
  for (Mode m : modes()) {
    World a(m);
    TempDir secret(m), profb(m);
    secret.file("id_ed25519", "PRIVATE KEY");
    a.ws.file("docs/readme.txt", "the docs");
    a.ws.file("sub/notes.txt", "notes");
    // Launch 1, profile A: the jail replaces docs and sub with links to the
    // user's secret directory.
    auto r = a.probe({"steps", "rename", a.ws.path() + "/docs", a.ws.path() + "/docs.old", "symlink", secret.path(),
                      a.ws.path() + "/docs", "rename", a.ws.path() + "/sub", a.ws.path() + "/sub.old", "symlink",
                      secret.path(), a.ws.path() + "/sub"});
    INFO(mode_name(m) << " launch 1: " << r.err);
    REQUIRE(r.status == 0);

    // Launch 2, profile B reads the docs: refused, the real path named.
    const std::string b = profb.file("b.toml", R"(version = 1
name = "b"
extends = "base"
[filesystem]
read = ["${DOCS}"]
)");
    r = run(m, {"run", b, "--var", "DOCS=" + a.ws.path() + "/docs", "--audit-log", "none", "--",
                Harness::get().probe(), "absent", a.ws.path() + "/docs/id_ed25519"});
    INFO(mode_name(m) << " launch 2: " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("refusing to follow symlink " + a.ws.path() + "/docs") &&
                          Catch::Contains("list the real path " + secret.path()));

    // Launch 3, profile A with the planted link as its workspace: refused.
    r = run(m, {"run", a.profile, "--var", "WORKSPACE=" + a.ws.path() + "/sub", "--audit-log", "none", "--",
                Harness::get().probe(), "absent", a.ws.path() + "/sub/id_ed25519"});
    INFO(mode_name(m) << " launch 3: " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("refusing to follow symlink " + a.ws.path() + "/sub"));

    // Positive control: the real directory is bound and readable.
    r = run(m, {"run", b, "--var", "DOCS=" + a.ws.path() + "/docs.old", "--audit-log", "none", "--",
                Harness::get().probe(), "readable", a.ws.path() + "/docs.old/readme.txt"});
    INFO(mode_name(m) << " control: " << r.err);
    CHECK(r.status == 0);
    CHECK(slurp(secret.path() + "/id_ed25519") == "PRIVATE KEY");
  }
}

// (1) Nested narrowing inside a write path: the jail cannot rename the
// directories above a hidden file or a read-only directory, and a hide path
// whose directory vanished refuses the launch instead of hiding nothing.
TEST_CASE("trust: hide and read paths nested in a write path hold across launches") {
  for (Mode m : modes()) {
    World w(m, R"(read = ["${WORKSPACE}/tools/build-scripts"]
hide = ["${WORKSPACE}/config/secret.txt"]
)");
    w.ws.file("config/secret.txt", "TOKEN=hunter2");
    w.ws.file("config/app.conf", "ok");
    w.ws.file("tools/build-scripts/build.sh", "#!/bin/sh\necho build\n");
    if (::geteuid() == 0)
      for (const char* d : {"/config", "/tools", "/tools/build-scripts"})
        REQUIRE(::chown((w.ws.path() + d).c_str(), Harness::get().uid(m), Harness::get().gid(m)) == 0);
    const std::string ws = w.ws.path();
    // Launch 1: the jail tries to move the ancestors aside and put decoys in
    // their place; the renames fail, writing next to them works (control).
    auto r = w.probe({"steps", "rename-fails", ws + "/config", ws + "/config.x", "rename-fails", ws + "/tools",
                      ws + "/tools.x", "rename-fails", ws + "/tools/build-scripts", ws + "/tools/bs.x", "write",
                      ws + "/config/new.txt", "written", "unreadable-step", ws + "/config/secret.txt"});
    INFO(mode_name(m) << " launch 1: " << r.err);
    CHECK(r.status == 0);
    // On the host: everything in place, the script unchanged.
    CHECK(slurp(ws + "/config/secret.txt") == "TOKEN=hunter2");
    CHECK(slurp(ws + "/tools/build-scripts/build.sh") == "#!/bin/sh\necho build\n");
    CHECK(slurp(ws + "/config/new.txt") == "written");
    // Launch 2: still hidden, still read-only.
    r = w.probe({"steps", "unreadable-step", ws + "/config/secret.txt", "create-fails", ws + "/tools/build-scripts/x"});
    INFO(mode_name(m) << " launch 2: " << r.err);
    CHECK(r.status == 0);
    // The directories made mount points are nosuid and nodev like every mount.
    r = w.probe({"mounts-hardened"});
    INFO(mode_name(m) << " mounts: " << r.err);
    CHECK(r.status == 0);

    // What an earlier jail without these rules (another profile of the same
    // workspace) could do: rename the directory of the hidden file. The next
    // launch refuses instead of finding nothing to hide.
    World other(m);
    r = run(m, {"run", other.profile, "--var", "WORKSPACE=" + ws, "--audit-log", "none", "--", Harness::get().probe(),
                "steps", "rename", ws + "/config", ws + "/config.x"});
    INFO(mode_name(m) << " other profile: " << r.err);
    REQUIRE(r.status == 0);
    r = w.probe({"exit", "0"});
    INFO(mode_name(m) << " launch 3: " << r.err);
    CHECK(r.status == 125);
    CHECK_THAT(r.err, Catch::Contains("its directory " + ws + "/config is gone"));
  }
}
