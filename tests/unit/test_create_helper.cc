// The create helper's checks (mcpjail/create_helper.hpp), run in the test's
// own process on a scratch tree: a protected name missing in a directory
// cannot be created there by any creating call, directly, through a dangling
// link or a chain of links, through another name for the directory, or by a
// rename; the same calls make other names as the kernel would; and the
// messages between the supervisor and the helper survive a socketpair.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "../../launcher/create_wire.hpp"
#include "mcpjail/create_helper.hpp"
#include "../support/files.hpp"
#include "../support/scratch.hpp"

using namespace mcpjail;

namespace {

// A plan whose write path `dir` misses `.mcp.json` and `.claude`.
Plan plan_missing(const std::string& dir) {
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  Plan plan;
  for (const char* name : {".mcp.json", ".claude"}) {
    ProtectedPath p;
    p.state = ProtectedPath::State::Absent;
    p.path = p.refuse = p.refuse_host = dir + "/" + name;
    p.parent_dev = st.st_dev;
    p.parent_ino = st.st_ino;
    plan.protect.push_back(p);
  }
  return plan;
}

create::Outcome run_call(create::Op op, const std::string& path, const std::string& other = "", std::uint64_t flags = 0,
                         const protect::Guard* guard = nullptr, std::uint64_t mode = 0644) {
  create::Call c;
  c.op = op;
  c.path = path;
  c.other = other;
  c.flags = flags;
  c.mode = mode;
  create::CallFds fds;
  static const protect::Guard none{Plan{}};
  return create::perform(c, fds, guard ? *guard : none);
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("create helper: a missing protected name cannot be made by any creating call", "[create]") {
  support::ScratchDir d("create");
  const Plan plan = plan_missing(d.p(""));
  const protect::Guard guard(plan);
  REQUIRE(create::needed(plan));
  const std::string bad = d.p(".mcp.json");
  ::symlink(".mcp.json", d.p("dangling").c_str());
  ::symlink("dangling", d.p("chain").c_str());
  ::symlink(".", d.p("self").c_str());
  d.write("plain", "x", 0644);
  d.dir("dir");
  struct Case {
    const char* what;
    create::Op op;
    std::string path, other;
    std::uint64_t flags;
  };
  const Case cases[] = {
      {"open O_CREAT", create::Op::Open, bad, "", O_WRONLY | O_CREAT},
      {"open through a dangling link", create::Op::Open, d.p("dangling"), "", O_WRONLY | O_CREAT},
      {"open through a chain of links", create::Op::Open, d.p("chain"), "", O_WRONLY | O_CREAT},
      {"open through another name of the directory", create::Op::Open, d.p("self/.mcp.json"), "", O_WRONLY | O_CREAT},
      {"open with .. on the way", create::Op::Open, d.p("dir/../.mcp.json"), "", O_WRONLY | O_CREAT},
      {"mkdir", create::Op::Mkdir, d.p(".claude"), "", 0},
      {"mkdir with a trailing slash", create::Op::Mkdir, d.p(".claude/"), "", 0},
      {"mknod", create::Op::Mknod, bad, "", 0},
      {"symlink", create::Op::Symlink, bad, "/tmp/x", 0},
      {"link", create::Op::Link, bad, d.p("plain"), 0},
      {"rename onto it", create::Op::Rename, bad, d.p("plain"), 0},
      {"rename a directory onto it", create::Op::Rename, d.p(".claude/"), d.p("dir"), 0},
  };
  for (const auto& k : cases) {
    INFO(k.what);
    auto o = run_call(k.op, k.path, k.other, k.flags, &guard, k.op == create::Op::Mknod ? S_IFREG | 0644 : 0644);
    CHECK(o.error == EACCES);
    CHECK(!o.fd);
    CHECK_FALSE(o.refused.empty());
    CHECK_FALSE(exists(bad));
    CHECK_FALSE(exists(d.p(".claude")));
  }
  CHECK(exists(d.p("plain")));  // a refused rename moved nothing
  CHECK(exists(d.p("dir")));

  // Controls: the same calls at other names, or with the names not protected.
  auto o = run_call(create::Op::Open, d.p("dir/ok"), "", O_WRONLY | O_CREAT | O_CLOEXEC, &guard);
  CHECK(o.error == 0);
  CHECK(o.fd);
  CHECK(run_call(create::Op::Mkdir, d.p("newdir"), "", 0, &guard, 0755).error == 0);
  CHECK(run_call(create::Op::Rename, d.p("renamed"), d.p("plain"), 0, &guard).error == 0);
  auto made = run_call(create::Op::Open, d.p("dangling"), "", O_WRONLY | O_CREAT | O_CLOEXEC);
  CHECK(made.error == 0);
  CHECK(exists(bad));  // without the names, a dangling link's target is made, as the kernel does
}

TEST_CASE("create helper: RENAME_EXCHANGE cannot give a protected name new content", "[create]") {
  support::ScratchDir d("create-exchange");
  const Plan plan = plan_missing(d.p(""));
  const protect::Guard guard(plan);
  // The name appeared after the launch (made on the host meanwhile).
  d.write(".mcp.json", "host\n", 0644);
  d.write("plain", "jail\n", 0644);
  d.write("other", "other\n", 0644);
  // renameat2(old, new, RENAME_EXCHANGE): the call's old name (its `other`
  // field) is the protected one, its new name the plain file.
  const auto o = run_call(create::Op::Rename, d.p("plain"), d.p(".mcp.json"), RENAME_EXCHANGE, &guard);
  CHECK(o.error == EACCES);
  CHECK(o.refused == d.p(".mcp.json"));
  CHECK(support::slurp(d.p(".mcp.json")) == "host\n");
  CHECK(support::slurp(d.p("plain")) == "jail\n");
  // The control: an exchange of two names that are not protected.
  CHECK(run_call(create::Op::Rename, d.p("plain"), d.p("other"), RENAME_EXCHANGE, &guard).error == 0);
  CHECK(support::slurp(d.p("plain")) == "other\n");
  CHECK(support::slurp(d.p("other")) == "jail\n");
}

TEST_CASE("create helper: errors are the kernel's", "[create]") {
  support::ScratchDir d("create");
  d.write("f", "x", 0644);
  ::symlink("f", d.p("lnk").c_str());
  CHECK(run_call(create::Op::Open, d.p("f"), "", O_WRONLY | O_CREAT | O_EXCL).error == EEXIST);
  CHECK(run_call(create::Op::Open, d.p("lnk"), "", O_WRONLY | O_CREAT | O_EXCL).error == EEXIST);
  CHECK(run_call(create::Op::Open, d.p("lnk"), "", O_WRONLY | O_CREAT | O_NOFOLLOW).error == ELOOP);
  CHECK(run_call(create::Op::Open, d.p("new/"), "", O_WRONLY | O_CREAT).error == EISDIR);
  CHECK(run_call(create::Op::Open, d.p("none/x"), "", O_WRONLY | O_CREAT).error == ENOENT);
  CHECK(run_call(create::Op::Open, d.p("f/x"), "", O_WRONLY | O_CREAT).error == ENOTDIR);
  CHECK(run_call(create::Op::Open, "", "", O_WRONLY | O_CREAT).error == ENOENT);
  CHECK(run_call(create::Op::Mkdir, d.p("f"), "", 0, nullptr, 0755).error == EEXIST);
  CHECK(run_call(create::Op::Symlink, d.p("f"), "x").error == EEXIST);
  CHECK(run_call(create::Op::Link, d.p("g"), d.p("missing")).error == ENOENT);
  CHECK(run_call(create::Op::Rename, d.p("g"), "").error == ENOENT);
  // A loop of links ends as the kernel's walk does.
  ::symlink("loop2", d.p("loop1").c_str());
  ::symlink("loop1", d.p("loop2").c_str());
  CHECK(run_call(create::Op::Open, d.p("loop1"), "", O_WRONLY | O_CREAT).error == ELOOP);
}

TEST_CASE("create helper: calls and outcomes cross the socketpair whole, descriptors attached", "[create]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  create::Call c;
  c.op = create::Op::Rename;
  c.umask = 027;
  c.flags = 1;
  c.path = "new name";
  c.other = "../old";
  create::CallFds fds;
  fds.cwd.reset(::open("/", O_PATH | O_CLOEXEC));
  fds.other_dir.reset(::open("/tmp", O_PATH | O_CLOEXEC));
  REQUIRE(create::wire::send_call(a.get(), c, fds));
  std::vector<char> buf(create::wire::kCallMax);
  UniqueFd got[3];
  bool truncated = true;
  const ssize_t n = channel::receive_message(b.get(), buf.data(), buf.size(), got, &truncated);
  REQUIRE(n > 0);
  CHECK_FALSE(truncated);
  create::Call back;
  create::CallFds back_fds;
  REQUIRE(create::wire::decode_call(buf.data(), static_cast<std::size_t>(n), got, &back, &back_fds));
  CHECK(back.op == create::Op::Rename);
  CHECK(back.umask == 027);
  CHECK(back.path == "new name");
  CHECK(back.other == "../old");
  CHECK(back_fds.cwd);
  CHECK_FALSE(back_fds.dir);
  CHECK(back_fds.other_dir);
  // A message cut short or with a NUL inside a path is refused.
  CHECK_FALSE(create::wire::decode_call(buf.data(), static_cast<std::size_t>(n) - 1, got, &back, &back_fds));

  create::Outcome o;
  o.error = EACCES;
  o.refused = "/ws/.mcp.json";
  REQUIRE(create::wire::send_outcome(b.get(), o));
  UniqueFd none[1];
  const ssize_t m = channel::receive_message(a.get(), buf.data(), buf.size(), none, &truncated);
  create::Outcome r;
  REQUIRE(create::wire::decode_outcome(buf.data(), static_cast<std::size_t>(m), std::move(none[0]), &r));
  CHECK(r.error == EACCES);
  CHECK(r.refused == "/ws/.mcp.json");
}

TEST_CASE("create helper: a launch without missing protected names has none", "[create]") {
  Plan plan;
  CHECK_FALSE(create::needed(plan));
  ProtectedPath bound;
  bound.state = ProtectedPath::State::Bound;
  plan.protect.push_back(bound);
  CHECK_FALSE(create::needed(plan));
}
