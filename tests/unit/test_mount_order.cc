// Mount ordering, pass by pass, on made-up candidates: no filesystem at all
// (the paths need not exist).
#include <catch2/catch.hpp>

#include "mcpjail/plan/mount_order.hpp"

using namespace mcpjail;
using namespace mcpjail::planning;

namespace {

MountCandidate bind(const std::string& target, const std::string& source = "", bool writable = false,
                    const std::string& why = "t") {
  MountCandidate c;
  c.step.kind = MountKind::Bind;
  c.step.target = target;
  c.step.source = source.empty() ? target : source;
  c.step.writable = writable;
  c.step.why = why;
  return c;
}

MountCandidate listed_link(const std::string& target, const std::string& source) {
  MountCandidate c = bind(target, source);
  c.listed_symlink = true;
  return c;
}

MountCandidate tmpfs(const std::string& target) {
  MountCandidate c;
  c.step.kind = MountKind::Tmpfs;
  c.step.target = target;
  c.step.writable = true;
  return c;
}

std::vector<std::string> targets(const std::vector<MountCandidate>& v) {
  std::vector<std::string> out;
  for (const auto& c : v) out.push_back(c.step.target);
  return out;
}

std::vector<std::string> targets(const std::vector<MountStep>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.target);
  return out;
}

}  // namespace

TEST_CASE("mount order: parents first, component by component, stable") {
  CHECK(component_less("/a", "/a/b"));
  CHECK(component_less("/a/b", "/a-b"));  // by component: "a" < "a-b", whatever '/' and '-' compare as
  CHECK_FALSE(component_less("/a/b", "/a/b"));
  std::vector<MountCandidate> v = {bind("/w/sub/cache"), bind("/w-x"), bind("/w"), bind("/w/sub", "", true),
                                   bind("/usr"), bind("/w/sub", "/elsewhere")};
  sort_mounts(v);
  CHECK(targets(v) == std::vector<std::string>{"/usr", "/w", "/w/sub", "/w/sub", "/w/sub/cache", "/w-x"});
  CHECK(v[2].step.writable);  // equal targets keep their order
  CHECK(v[3].step.source == "/elsewhere");
}

TEST_CASE("mount order: duplicates are kept once and noted, conflicts are errors") {
  auto d = drop_duplicates({bind("/usr", "", false, "filesystem.read (a:1)"), bind("/data"),
                            bind("/usr", "", false, "filesystem.read (b:2)")});
  CHECK(targets(d.kept) == std::vector<std::string>{"/usr", "/data"});
  CHECK(d.conflicts.empty());
  REQUIRE(d.merged.size() == 1);
  CHECK_THAT(d.merged[0], Catch::Contains("/usr") && Catch::Contains("(a:1)") && Catch::Contains("(b:2)"));

  d = drop_duplicates({bind("/w", "", false, "filesystem.read (t.toml:3:9)"), bind("/w", "", true, "filesystem.write (t.toml:4:10)"),
                       tmpfs("/w")});
  CHECK(targets(d.kept) == std::vector<std::string>{"/w"});
  REQUIRE(d.conflicts.size() == 2);
  CHECK_THAT(d.conflicts[0].message, Catch::Contains("listed twice with different meanings"));
  CHECK(d.conflicts[0].loc.file == "filesystem.write (t.toml:4:10)");
  CHECK(d.merged.empty());
  // another source is another meaning
  CHECK(drop_duplicates({bind("/x", "/a"), bind("/x", "/b")}).conflicts.size() == 1);
}

TEST_CASE("mount order: a listed symlink to a visible path becomes a symlink") {
  // merged /usr: /lib -> /usr/lib, /usr bound at its place
  std::vector<MountCandidate> v = {bind("/usr"), listed_link("/lib", "/usr/lib"), listed_link("/lib64", "/opt/lib64"),
                                   listed_link("/etc/alt", "/usr/share/alt"), bind("/etc/alt/sub")};
  sort_mounts(v);
  symlink_steps(v);
  auto kind = [&](const std::string& t) {
    for (const auto& c : v)
      if (c.step.target == t) return c.step.kind;
    FAIL("no " << t);
    return MountKind::Bind;
  };
  CHECK(kind("/lib") == MountKind::Symlink);
  CHECK(kind("/lib64") == MountKind::Bind);    // its target is not visible
  CHECK(kind("/etc/alt") == MountKind::Bind);  // a bind lies under it
  // not when it is writable, nor when the listed path is not itself a link
  std::vector<MountCandidate> w = {bind("/usr"), listed_link("/lib", "/usr/lib"), bind("/data", "/usr/data")};
  w[1].step.writable = true;
  symlink_steps(w);
  CHECK(w[1].step.kind == MountKind::Bind);
  CHECK(w[2].step.kind == MountKind::Bind);
}

TEST_CASE("mount order: steps that change nothing are dropped") {
  std::vector<MountCandidate> v = {bind("/usr"), bind("/usr/bin/node"), listed_link("/usr/lib/x", "/usr/share/x"),
                                   bind("/w", "", true), bind("/w/ro"), bind("/w/rw", "", true), bind("/data", "/srv/data"),
                                   bind("/data/inner")};
  symlink_steps(v);
  const auto out = drop_noops(v);
  // /usr/bin/node is inside /usr; the symlink below /usr is already there;
  // /w/rw is as writable as /w. /w/ro narrows /w; /data/inner is below a
  // bind of another host path, so it is not a no-op.
  CHECK(targets(out) == std::vector<std::string>{"/usr", "/w", "/w/ro", "/data", "/data/inner"});
}

TEST_CASE("mount order: the whole order, and what the jail sees") {
  auto o = order_mounts({bind("/w/sub"), bind("/w", "", true), bind("/usr"), listed_link("/bin", "/usr/bin"), tmpfs("/w/sub/cache"),
                         bind("/usr")});
  CHECK(targets(o.mounts) == std::vector<std::string>{"/bin", "/usr", "/w", "/w/sub", "/w/sub/cache"});
  CHECK(o.mounts[0].kind == MountKind::Symlink);
  CHECK(o.merged.size() == 1);
  CHECK(o.conflicts.empty());

  std::vector<MountStep> m = o.mounts;
  MountStep mask;
  mask.kind = MountKind::Mask;
  mask.target = "/w/secret";
  m.push_back(mask);
  CHECK(visible_through(m, "/w/sub/x")->target == "/w/sub");
  CHECK(visible_through(m, "/w/sub/cache/y")->kind == MountKind::Tmpfs);
  CHECK(visible_through(m, "/etc") == nullptr);
  CHECK(jail_visible(m, "/w/a"));
  CHECK_FALSE(jail_visible(m, "/w/secret/a"));     // masked
  CHECK_FALSE(jail_visible(m, "/w/sub/cache/y"));  // a fresh tmpfs
  CHECK_FALSE(jail_visible(m, "/bin/sh"));         // a symlink step, not a bind

  std::vector<MountCandidate> c = {bind("/usr"), bind("/usr/lib"), bind("/data", "/srv/data")};
  CHECK(covering(c, "/usr/lib/x")->target == "/usr/lib");
  CHECK(covering(c, "/srv/data/x") == nullptr);  // shown elsewhere, not at its own path
}
