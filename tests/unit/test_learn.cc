// mcp-jail learn: the reduction of what a launch recorded to profile entries
// (never /, a home or a credential; escape-class calls never granted), the
// profile text and reading it back (sessions accumulate, an identical one
// changes nothing).
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "mcpjail/frontends/learn.hpp"
#include "mcpjail/paths.hpp"

using namespace mcpjail;
using namespace mcpjail::learn;

namespace {

// A host of the test's own: these paths exist, directories are those with
// something below them.
Context host(std::set<std::string> files) {
  Context c;
  c.homes = {"/home/u"};
  c.anchors = {"/work/proj"};
  c.write_through = {"/work/proj"};
  c.secrets = {"/home/u/.ssh", "/home/u/.aws", "/work/proj/.env"};
  c.covered_read = [](const std::string& p) { return path_is_under(p, "/usr") || path_is_under(p, "/etc/ssl"); };
  c.covered_write = [](const std::string&) { return false; };
  c.covered_exec = [](const std::string& p) { return p == "/usr/bin/node"; };
  auto all = std::make_shared<std::set<std::string>>(std::move(files));
  c.exists = [all](const std::string& p) {
    if (p == "/") return true;
    for (const auto& f : *all)
      if (path_is_under(f, p)) return true;
    return false;
  };
  c.is_dir = [all](const std::string& p) {
    for (const auto& f : *all)
      if (f != p && path_is_under(f, p)) return true;
    return false;
  };
  return c;
}

std::vector<std::string> values(const std::vector<Entry>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.value);
  return out;
}

}  // namespace

TEST_CASE("learn: reads reduce to the smallest roots, never /, a home or a credential") {
  const Context c = host({"/work/proj/src/a.js", "/work/proj/src/b/c.js", "/home/u/.config/tool/x.json",
                          "/home/u/.config/tool/y.json", "/home/u/notes/todo.txt", "/home/u/.ssh/id_ed25519",
                          "/home/u/.aws/credentials", "/opt/app/lib/z.so", "/etc/hosts", "/usr/lib/libc.so",
                          "/home/u/.gitconfig", "/data"});
  Observed o;
  for (const char* p : {"/work/proj/src/a.js", "/work/proj/src/b/c.js", "/home/u/.config/tool/x.json",
                        "/home/u/.config/tool/y.json", "/home/u/notes/todo.txt", "/opt/app/lib/z.so", "/etc/hosts",
                        "/usr/lib/libc.so", "/home/u/.ssh/id_ed25519", "/home/u/.aws/credentials", "/home/u",
                        "/", "/proc/self/status", "/tmp/x", "/home/u/missing/file", "/home/u/.gitconfig"})
    o.read[p] = 2;
  const Learned l = reduce(o, c);
  CHECK(values(l.read) == std::vector<std::string>{"/etc/hosts", "/home/u/.config/tool", "/home/u/.gitconfig",
                                                   "/home/u/notes", "/opt/app", "/work/proj"});
  for (const auto& e : l.read) {
    CHECK(e.value != "/");
    CHECK(e.value != "/home/u");
    CHECK_FALSE(path_is_under(e.value, "/home/u/.ssh"));
    CHECK_FALSE(path_is_under(e.value, "/home/u/.aws"));
  }
  // Evidence: every read below a root counts, one example is kept.
  CHECK(l.read.back().count == 4);
  CHECK(l.read.back().example.starts_with("/work/proj/src/"));
  // What was not granted is said.
  bool ssh = false;
  for (const auto& n : l.notes) ssh |= n.find("/home/u/.ssh/id_ed25519 (a credential)") != std::string::npos;
  CHECK(ssh);
}

TEST_CASE("learn: read_root never widens to a root holding a credential") {
  Context c = host({"/srv/site/index.html", "/srv/site/.env"});
  c.anchors.clear();
  c.secrets.push_back("/srv/site/.env");
  CHECK(read_root("/srv/site/index.html", c) == "/srv/site/index.html");
  CHECK(read_root("/srv/site/.env", c).empty());
  CHECK(read_root("/srv/site", c).empty());  // listing the directory that holds it
  CHECK(read_root("/", c).empty());
  CHECK(read_root("/home/u", c).empty());
}

TEST_CASE("learn: writes are the directories written, never /, a home or a system tree") {
  Context c = host({"/work/proj/out/r.txt", "/home/u/.cache/tool/db", "/home/u/.bashrc", "/usr/lib/x",
                    "/etc/cron.d/job", "/work/other/f", "/srv/app/dist/index.js"});
  c.own_files = {"/srv/app"};
  Observed o;
  o.write["/work/proj/out/r.txt"] = 3;      // below a directory the command line names: that directory
  o.write["/work/proj/new.txt"] = 1;
  o.write["/home/u/.cache/tool/db"] = 2;    // its directory
  o.write["/home/u/.bashrc"] = 1;           // a home: not granted
  o.write["/etc/cron.d/job"] = 1;           // a system tree: not granted
  o.write["/usr/lib/x"] = 1;
  o.write["/home/u/.ssh/authorized_keys"] = 1;  // a credential: not granted
  o.write["/dev/null"] = 9;
  o.write["/srv/app/dist/state.json"] = 1;  // the server's own files: not granted
  o.read["/work/proj/out/r.txt"] = 1;       // inside a write root: no read line
  o.read["/work/other/f"] = 1;
  // mkdir -p /srv/app2/new/deeper: mkdir of /srv and /srv/app2 (they exist),
  // then the new ones; a write to a top-level directory itself is not granted.
  o.write["/srv"] = 1;
  o.write["/srv/app2"] = 1;
  o.write["/srv/app2/new"] = 1;
  o.write["/srv/app2/new/deeper"] = 1;
  o.write["/opt"] = 1;
  c.exists = [prev = c.exists](const std::string& p) { return p == "/srv/app2" || p == "/opt" || prev(p); };
  c.is_dir = [prev = c.is_dir](const std::string& p) { return p == "/srv/app2" || p == "/opt" || prev(p); };
  const Learned l = reduce(o, c);
  CHECK(values(l.write) == std::vector<std::string>{"/home/u/.cache/tool", "/srv/app2", "/work/proj"});
  CHECK(values(l.read) == std::vector<std::string>{"/work/other"});
  CHECK(l.notes.size() == 6);
  bool top = false;
  for (const auto& n : l.notes) top |= n.find("write /opt (a top-level directory)") != std::string::npos;
  CHECK(top);
}

TEST_CASE("learn: escape-class system calls are reported, never granted") {
  for (const char* s : {"unshare", "setns", "mount", "bpf", "ptrace", "keyctl", "init_module", "perf_event_open",
                        "userfaultfd", "io_uring_setup", "process_vm_readv", "clone", "pivot_root", "syscall_999"})
    CHECK(escape_class(s));
  for (const char* s : {"sched_setattr", "mlock", "getrandom"}) CHECK_FALSE(escape_class(s));
  const Context c = host({});
  Observed o;
  o.syscalls = {{"ptrace", 3}, {"unshare", 1}, {"mlock", 2}, {"bpf", 1}};
  const Learned l = reduce(o, c);
  CHECK(values(l.seccomp) == std::vector<std::string>{"mlock"});
  CHECK(values(l.refused) == std::vector<std::string>{"bpf", "ptrace", "unshare"});
}

TEST_CASE("learn: programs run are granted unless the profile already runs them") {
  const Context c = host({"/usr/bin/node", "/usr/bin/git", "/opt/tool/bin/t"});
  Observed o;
  o.exec = {{"/usr/bin/node", 1}, {"/usr/bin/git", 2}, {"/opt/tool/bin/t", 1}, {"/usr/local/bin/missing", 4}};
  const Learned l = reduce(o, c);
  CHECK(values(l.exec) == std::vector<std::string>{"/opt/tool/bin/t", "/usr/bin/git"});
  CHECK(values(l.read) == std::vector<std::string>{"/opt/tool"});  // a program run is visible too
}

TEST_CASE("learn: the audit log's learn events are the observations") {
  const Observed o = parse_events(
      "{\"event\":\"start\"}\n"
      "{\"event\":\"learn\",\"access\":\"read\",\"path\":\"/a\",\"count\":3}\n"
      "{\"event\":\"learn\",\"access\":\"write\",\"path\":\"/b\",\"count\":1}\n"
      "{\"event\":\"learn\",\"access\":\"exec\",\"path\":\"/c\",\"count\":2}\n"
      "{\"event\":\"learn\",\"access\":\"syscall\",\"path\":\"ptrace\",\"count\":5}\n"
      "not json\n");
  CHECK(o.read.at("/a") == 3);
  CHECK(o.write.at("/b") == 1);
  CHECK(o.exec.at("/c") == 2);
  CHECK(o.syscalls.at("ptrace") == 5);
}

TEST_CASE("learn: the profile text reads back, merging widens, the same session again changes nothing") {
  ProfileText p;
  p.name = "srv";
  p.extends = "base";
  p.command = "node /x/index.js /work/proj";
  p.learned.read = {{"/opt/app", 4, "/opt/app/lib/z.so"}, {"/work/a\"b$c", 1, ""}};
  p.learned.write = {{"/work/proj", 3, "/work/proj/out/r.txt"}};
  p.learned.exec = {{"/usr/bin/git", 2, ""}};
  p.learned.read.push_back({"/work/z", 0, "named on the command line"});
  p.learned.seccomp = {{"mlock", 2, ""}};
  p.learned.refused = {{"ptrace", 3, ""}};
  const std::string text = render(p);
  CHECK(text.starts_with(kMarker));
  CHECK(text.find("\"/opt/app\",  # 4 reads, e.g. /opt/app/lib/z.so") != std::string::npos);
  CHECK(text.find("mode = \"none\"") != std::string::npos);
  CHECK(text.find("\"/work/z\",  # 0 reads: named on the command line") != std::string::npos);
  CHECK(text.find("# not granted (escape class): ptrace, 3 calls") != std::string::npos);

  ProfileText back;
  std::string why;
  REQUIRE(parse_learned(text, &back, &why));
  CHECK(back.name == "srv");
  CHECK(back.learned.read == p.learned.read);
  CHECK(back.learned.write == p.learned.write);
  CHECK(back.learned.exec == p.learned.exec);
  CHECK(back.learned.seccomp == p.learned.seccomp);
  CHECK(back.learned.refused == p.learned.refused);

  // The same entries again (even with other counts): identical text.
  ProfileText again = back;
  std::vector<Entry> same = {{"/opt/app", 9, "/opt/app/other"}, {"/work/a\"b$c", 1, ""}, {"/work/z", 0, ""}};
  again.learned.read = merge(back.learned.read, same, true);
  again.command = p.command;
  CHECK(render(again) == text);
  // Another session widens.
  again.learned.read = merge(back.learned.read, {{"/srv/data", 1, ""}, {"/opt/app/lib", 1, ""}}, true);
  CHECK(values(again.learned.read) == std::vector<std::string>{"/opt/app", "/srv/data", "/work/a\"b$c", "/work/z"});

  CHECK_FALSE(parse_learned("version = 1\nname = \"x\"\n", &back, &why));
  CHECK(why.find("not a profile written by mcp-jail learn") != std::string::npos);
}

TEST_CASE("learn: connections become name:port entries by the names that led to them, else address:port") {
  const Observed o = parse_events(
      "{\"event\":\"dns_learned\",\"name\":\"api.test\",\"addresses\":[\"198.18.1.10\"]}\n"
      "{\"event\":\"dns_learned\",\"name\":\"v6.test\",\"addresses\":[\"2001:db8::7\"]}\n"
      "{\"event\":\"dns_learned\",\"name\":\"unused.test\",\"addresses\":[\"198.18.1.99\"]}\n"
      "{\"event\":\"net_learned\",\"address\":\"198.18.1.10\",\"protocol\":\"tcp\",\"port\":8080}\n"
      "{\"event\":\"net_learned\",\"address\":\"198.18.1.10\",\"protocol\":\"tcp\",\"port\":8080}\n"
      "{\"event\":\"net_learned\",\"address\":\"2001:db8::7\",\"protocol\":\"tcp\",\"port\":443}\n"
      "{\"event\":\"net_learned\",\"address\":\"198.18.1.66\",\"protocol\":\"udp\",\"port\":9000}\n"
      "{\"event\":\"net_learned\",\"address\":\"198.18.1.66\",\"protocol\":\"icmp\"}\n");
  CHECK(o.names_of.at("198.18.1.10") == std::vector<std::string>{"api.test"});
  CHECK(o.connections.at("tcp 198.18.1.10 8080") == 2);
  const Learned l = reduce(o, host({}));
  REQUIRE(l.network.size() == 3);
  CHECK(l.network[0] == Entry{"198.18.1.66:9000", 1, "udp 198.18.1.66:9000"});
  CHECK(l.network[1] == Entry{"api.test:8080", 2, "tcp 198.18.1.10:8080"});
  CHECK(l.network[2] == Entry{"v6.test:443", 1, "tcp [2001:db8::7]:443"});

  // Written as an allowlist, read back as it was; no connection: mode none.
  ProfileText p;
  p.name = "srv";
  p.extends = "base";
  p.learned.network = l.network;
  const std::string text = render(p);
  CHECK(text.find("mode = \"allowlist\"") != std::string::npos);
  CHECK(text.find("  \"api.test:8080\",  # 2 connections, e.g. tcp 198.18.1.10:8080\n") != std::string::npos);
  ProfileText back;
  std::string why;
  REQUIRE(parse_learned(text, &back, &why));
  CHECK(back.learned.network == l.network);
  p.learned.network.clear();
  CHECK(render(p).find("mode = \"none\"") != std::string::npos);
}

TEST_CASE("learn: paths only looked at are granted as themselves, never a walk, a home or a credential") {
  const Context c = host({"/work/proj/src/a.js", "/opt/tool/conf.json", "/opt/tool/data/x", "/srv/flags/on",
                          "/home/u/.config/tool/x.json", "/home/u/.config/other/y", "/home/u/.ssh/id_ed25519",
                          "/home/u/bin/helper", "/home/u/notes/todo.txt", "/var/lib/app/state", "/usr/lib/libc.so"});
  Observed o;
  o.read["/home/u/notes/todo.txt"] = 1;
  for (const char* p : {
           "/opt/tool/conf.json",          // a file: granted as itself
           "/srv/flags",                   // a directory: itself
           "/home/u/.config/tool/x.json",  // below ~/.config: itself
           "/home/u/.config",              // a dot-directory of a home: never
           "/home/u",                      // a home: never
           "/home",                        // holds a home: never
           "/", "/opt",                    // too wide
           "/home/u/.ssh",                 // a credential
           "/home/u/.ssh/id_ed25519",      // below one
           "/home/u/notes/todo.txt",       // read anyway: covered by its read root
           "/home/u/notes",                // the read root itself
           "/work", "/work/proj",          // the walk to what the command line names; the anchor itself
           "/work/proj/src/a.js",          // below the anchor: the anchor
           "/usr/lib/libc.so",             // the extended profile shows it
           "/var/lib/app", "/var/lib/app/state",  // a walk: only the deepest
           "/opt/missing",                 // not on the host
           "/proc/self/exe", "/tmp/x",     // the jail's own
       })
    o.stat[p] = 1;
  const Learned l = reduce(o, c);
  CHECK(values(l.read) == std::vector<std::string>{"/home/u/.config/tool/x.json", "/home/u/notes",
                                                   "/opt/tool/conf.json", "/srv/flags", "/var/lib/app/state",
                                                   "/work/proj"});
  for (const auto& e : l.read)
    CHECK(e.looked == (e.value != "/home/u/notes"));
  // Through the text and back: the evidence says what was seen.
  ProfileText p;
  p.name = "srv";
  p.extends = "base";
  p.learned = l;
  const std::string text = render(p);
  CHECK(text.find("\"/srv/flags\",  # 1 existence check") != std::string::npos);
  ProfileText back;
  std::string why;
  REQUIRE(parse_learned(text, &back, &why));
  CHECK(back.learned.read == l.read);
  // A later session that reads it: the entry's evidence becomes the read.
  const auto merged = merge(back.learned.read, {{"/srv/flags", 3, "/srv/flags/on"}}, true);
  for (const auto& e : merged)
    if (e.value == "/srv/flags") CHECK((!e.looked && e.count == 3));
}

TEST_CASE("learn: the audit log's stat events are looks") {
  const Observed o = parse_events("{\"event\":\"learn\",\"access\":\"stat\",\"path\":\"/a\",\"count\":4}\n");
  CHECK(o.stat.at("/a") == 4);
  CHECK(o.read.empty());
}
