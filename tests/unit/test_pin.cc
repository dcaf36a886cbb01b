// Pinning: the tree hash and its manifest, file hashes, the [pin] schema,
// the section rewrite, verification.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mcpjail/frontends/pin.hpp"
#include "mcpjail/plan.hpp"
#include "../support/profile_text.hpp"
#include "../support/scratch.hpp"

using namespace mcpjail;
namespace fs = std::filesystem;

namespace {

const char* kShaEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const char* kShaAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// A scratch tree whose files are 0644 unless said otherwise (the mode is
// part of a tree's hash).
struct PinScratch : support::ScratchDir {
  PinScratch() : ScratchDir("pin") {}
  std::string write(const std::string& rel, const std::string& content, unsigned mode = 0644) const {
    return ScratchDir::write(rel, content, mode);
  }
};

std::string tree(const PinScratch& d, const std::string& rel = "") { return pin::hash_tree(d.p(rel)).sha256; }

LoadOptions pin_options() {
  LoadOptions o = support::alice_options();
  o.pwd = "/work";
  o.vars = {{"PROJECT", "/srv/app"}};
  return o;
}

Profile load_pins(const std::string& text) { return load_profile_text(text, "t.toml", "/profiles", pin_options()); }

const std::string kHex(64, 'a');

}  // namespace

TEST_CASE("pin: file sha256 through libcrypto, missing and linked paths told apart") {
  PinScratch d;
  CHECK(pin::hash_file(d.write("empty", "")).sha256 == kShaEmpty);
  const auto abc = pin::hash_file(d.write("abc", "abc"));
  CHECK(abc.sha256 == kShaAbc);
  CHECK(abc.size == 3);
  // a large file goes through several reads
  const std::string big(3 << 20, 'x');
  CHECK(pin::hash_file(d.write("big", big)).size == big.size());
  try {
    pin::hash_file(d.p("nope"));
    FAIL("missing file hashed");
  } catch (const pin::HashError& e) {
    CHECK(e.missing());
  }
  // no symbolic link is followed: not as the last component, not on the way
  d.link("abc-link", "abc");
  d.dir("real");
  d.write("real/f", "abc");
  d.link("via", "real");
  for (const std::string rel : {"abc-link", "via/f"}) {
    INFO(rel);
    try {
      pin::hash_file(d.p(rel));
      FAIL("followed a link");
    } catch (const pin::HashError& e) {
      CHECK_FALSE(e.missing());
      CHECK_THAT(e.what(), Catch::Contains("symbolic link"));
    }
  }
  CHECK_THROWS_AS(pin::hash_file(d.p("real")), pin::HashError);  // a directory
}

TEST_CASE("pin: the manifest format, byte for byte") {
  PinScratch d;
  d.write("b.js", "abc");
  d.write("a dir/run.sh", "", 0755);
  d.write("a dir/100%", "abc");
  d.link("lnk", "../outside target");
  const auto t = pin::hash_tree(d.p());
  const std::string expected = std::string("mcp-jail-tree-v1\n") +
                               "d a%20dir\n"
                               "f a%20dir/100%25 - 3 " + kShaAbc + "\n" +
                               "f a%20dir/run.sh x 0 " + kShaEmpty + "\n" +
                               "f b.js - 3 " + kShaAbc + "\n" +
                               "l lnk ../outside%20target\n";
  CHECK(t.manifest == expected);
  CHECK(t.files == 3);
  CHECK(t.bytes == 6);
  PinScratch elsewhere;
  CHECK(t.sha256 == pin::hash_file(elsewhere.write("manifest", expected)).sha256);
}

TEST_CASE("pin: the example manifest of mcp-jail-profile(5)") {
  PinScratch d;
  d.write("index.js", "abc");
  d.write("bin/run", "", 0755);
  d.link("lib", "bin");
  CHECK(pin::hash_tree(d.p()).manifest == std::string("mcp-jail-tree-v1\n") + "d bin\n" + "f bin/run x 0 " + kShaEmpty +
                                              "\n" + "f index.js - 3 " + kShaAbc + "\n" + "l lib bin\n");
}

TEST_CASE("pin: the tree hash does not depend on creation order, location or thread count") {
  PinScratch a, b;
  a.write("x/1.js", "one");
  a.write("x/2.js", "two");
  a.write("y.js", "why");
  a.dir("empty");
  a.link("x/alias", "1.js");
  // the same tree, built the other way round
  b.dir("empty");
  b.write("y.js", "why");
  b.dir("x");
  b.link("x/alias", "1.js");
  b.write("x/2.js", "two");
  b.write("x/1.js", "one");
  CHECK(tree(a) == tree(b));
  for (unsigned threads : {1u, 2u, 7u}) CHECK(pin::hash_tree(a.p(), {}, threads).sha256 == tree(a));
  // many files: the work is shared between threads, the result is the same
  for (int i = 0; i < 300; ++i) a.write("many/" + std::to_string(i % 7) + "/" + std::to_string(i), std::to_string(i));
  CHECK(pin::hash_tree(a.p(), {}, 1).sha256 == pin::hash_tree(a.p(), {}, 4).sha256);
}

TEST_CASE("pin: symbolic links are recorded, never followed") {
  PinScratch outside, d;
  outside.write("secret.js", "v1");
  d.write("index.js", "x");
  d.link("dep", outside.p());
  d.link("dep-file", outside.p("secret.js"));
  const auto t = pin::hash_tree(d.p());
  CHECK_THAT(t.manifest, Catch::Contains("l dep " + outside.p() + "\n"));
  CHECK_THAT(t.manifest, !Catch::Contains("secret.js "));
  CHECK(t.files == 1);
  // what a link points to is outside the tree and outside the hash
  outside.write("secret.js", "v2");
  CHECK(tree(d) == t.sha256);
  // where it points is inside the hash
  fs::remove(d.d / "dep");
  d.link("dep", outside.p() + "/");
  CHECK(tree(d) != t.sha256);
  // the tree's own path may not pass through a link either
  PinScratch parent;
  parent.link("via", d.p());
  CHECK_THROWS_AS(pin::hash_tree(parent.p("via")), pin::HashError);
}

TEST_CASE("pin: content, type, exec bit, additions and removals change the hash and the first difference is named") {
  PinScratch d;
  d.write("index.js", "console.log(1)\n");
  d.write("node_modules/dep/index.js", "module.exports = 1\n");
  d.write("node_modules/dep/package.json", "{}");
  const auto before = pin::hash_tree(d.p());
  auto after = [&] { return pin::hash_tree(d.p()); };
  auto diff = [&] { return pin::first_difference(before.manifest, after().manifest); };

  SECTION("one byte") {
    d.write("node_modules/dep/index.js", "module.exports = 2\n");
    CHECK(after().sha256 != before.sha256);
    CHECK(diff().path == "node_modules/dep/index.js");
    CHECK(diff().change == "modified");
  }
  SECTION("exec bit") {
    ::chmod(d.p("index.js").c_str(), 0744);
    CHECK(after().sha256 != before.sha256);
    CHECK(diff().path == "index.js");
  }
  SECTION("file becomes a directory") {
    fs::remove(d.d / "node_modules/dep/package.json");
    d.dir("node_modules/dep/package.json");
    CHECK(after().sha256 != before.sha256);
    CHECK(diff().path == "node_modules/dep/package.json");
  }
  SECTION("file becomes a link to identical content") {
    d.write("copy.js", "console.log(1)\n");
    const auto with_copy = pin::hash_tree(d.p());
    fs::remove(d.d / "copy.js");
    d.link("copy.js", "index.js");
    CHECK(after().sha256 != with_copy.sha256);
  }
  SECTION("added and removed") {
    d.write("node_modules/evil.js", "");
    CHECK(diff().path == "node_modules/evil.js");
    CHECK(diff().change == "added");
    fs::remove(d.d / "node_modules/evil.js");
    fs::remove(d.d / "node_modules/dep/package.json");
    CHECK(diff().path == "node_modules/dep/package.json");
    CHECK(diff().change == "removed");
  }
  SECTION("an empty directory counts") {
    d.dir("node_modules/new");
    CHECK(after().sha256 != before.sha256);
  }
  SECTION("unchanged") {
    CHECK(after().sha256 == before.sha256);
    CHECK(diff().path.empty());
  }
}

TEST_CASE("pin: FIFOs, sockets and devices make a tree unpinnable, exclude leaves paths out") {
  PinScratch d;
  d.write("index.js", "x");
  REQUIRE(::mkfifo(d.p("pipe").c_str(), 0600) == 0);
  try {
    pin::hash_tree(d.p());
    FAIL("a FIFO was hashed");
  } catch (const pin::HashError& e) {
    CHECK_THAT(e.what(), Catch::Contains(d.p("pipe")) && Catch::Contains("FIFO"));
  }
  // excluded: left out with everything below it
  const auto t = pin::hash_tree(d.p(), {"pipe"});
  d.write("profile.toml", "version = 1\n");
  d.write("cache/a", "1");
  const auto t2 = pin::hash_tree(d.p(), {"pipe", "profile.toml", "cache"});
  CHECK(t2.sha256 == t.sha256);
  d.write("profile.toml", "version = 1\n# edited\n");
  CHECK(pin::hash_tree(d.p(), {"pipe", "profile.toml", "cache"}).sha256 == t.sha256);
}

TEST_CASE("pin: the pin section loads in both TOML spellings with expanded paths, lists append through extends") {
  const auto p = load_pins("version = 1\n[pin]\nfiles = [\n  { path = \"${PROJECT}/dist/index.js\", sha256 = \"" +
                      std::string(64, 'A') + "\" },\n]\ntrees = [{ path = \"~/app\", sha256 = \"" + kHex +
                      "\", files = 12, exclude = [\"mcp-jail.toml\"] }]\n");
  REQUIRE(p.pin.files.size() == 1);
  CHECK(p.pin.files[0].path == "/srv/app/dist/index.js");
  CHECK(p.pin.files[0].sha256 == std::string(64, 'a'));  // stored in lower case
  CHECK(p.pin.files[0].loc.line == 4);
  REQUIRE(p.pin.trees.size() == 1);
  CHECK(p.pin.trees[0].path == "/home/alice/app");
  CHECK(p.pin.trees[0].files == 12u);
  CHECK(p.pin.trees[0].exclude == std::vector<std::string>{"mcp-jail.toml"});

  const auto q = load_pins("version = 1\n[[pin.files]]\npath = \"/a\"\nsha256 = \"" + kHex + "\"\n[[pin.files]]\npath = \"/b\"\nsha256 = \"" +
                      kHex + "\"\n[[pin.trees]]\npath = \"/t\"\nsha256 = \"" + kHex + "\"\n");
  REQUIRE(q.pin.files.size() == 2);
  CHECK(q.pin.files[1].path == "/b");
  CHECK(q.pin.trees.size() == 1);
  CHECK_FALSE(q.pin.trees[0].files);

  PinScratch d;
  d.write("parent.toml", "version = 1\n[pin]\nfiles = [{ path = \"/parent\", sha256 = \"" + kHex + "\" }]\n");
  const auto child = load_profile_text("version = 1\nextends = \"parent.toml\"\n[pin]\nfiles = [{ path = \"/child\", sha256 = \"" +
                                           kHex + "\" }]\n",
                                       "child.toml", d.p(), pin_options());
  REQUIRE(child.pin.files.size() == 2);
  CHECK(child.pin.files[0].path == "/parent");
  CHECK(child.pin.files[1].path == "/child");
}

TEST_CASE("pin: bad pin entries are errors with file:line:column") {
  const std::string h = "sha256 = \"" + kHex + "\"";
  support::check_errors({
      {"version = 1\n[pin]\nfiles = [{ path = \"/a\", sha256 = \"abc\" }]\n", 3, 34, "64 digits"},
      {"version = 1\n[pin]\nfiles = [{ path = \"/a\", sha256 = \"" + std::string(63, 'a') + "g\" }]\n", 3, 34, "64 digits"},
      {"version = 1\n[pin]\nfiles = [{ path = \"/a\", sha256 = 12 }]\n", 3, 34, "must be a string"},
      {"version = 1\n[pin]\nfiles = [{ path = \"/a\" }]\n", 3, 10, "needs sha256"},
      {"version = 1\n[pin]\nfiles = [{ " + h + " }]\n", 3, 10, "needs path"},
      {"version = 1\n[pin]\nfiles = [{ path = \"rel/a\", " + h + " }]\n", 3, 19, "rel/a"},
      {"version = 1\n[pin]\nfiles = [{ path = \"${NOPE}/a\", " + h + " }]\n", 3, 19, "${NOPE} is not set"},
      {"version = 1\n[pin]\nfiles = [{ path = \"/a\", " + h + ", files = 3 }]\n", 3, 0, "unknown key 'files'"},
      {"version = 1\n[pin]\nfiles = \"/a\"\n", 3, 9, "array of tables"},
      {"version = 1\n[pin]\nfiles = [\"/a\"]\n", 3, 10, "must be tables"},
      {"version = 1\n[pin]\ndirs = []\n", 3, 1, "unknown key 'dirs' in [pin]; allowed: files, trees"},
      {"version = 1\n[pin]\ntrees = [{ path = \"/t\", " + h + ", files = -1 }]\n", 3, 0, "'pin.trees.files' must be an integer"},
      {"version = 1\n[pin]\ntrees = [{ path = \"/t\", " + h + ", exclude = [\"../up\"] }]\n", 3, 0, "has an empty, . or .. component"},
      {"version = 1\n[pin]\ntrees = [{ path = \"/t\", " + h + ", exclude = [\"/abs\"] }]\n", 3, 0, "not a relative path"},
      {"version = 1\n[pin]\nfiles = [{ path = \"/a\", " + h + " },\n  { path = \"/a\", " + h + " }]\n", 4, 0, "twice"},
      {"version = 1\npin = 3\n", 2, 0, "must be a table"},
  }, pin_options());
}

TEST_CASE("pin: the section rewrite keeps everything else byte-identical and is idempotent") {
  Pins pins;
  pins.files.push_back({"/srv/app/index.js", kShaAbc, {}});
  pins.trees.push_back({"/srv/app", kShaEmpty, 12, {"mcp-jail.toml"}, {}});
  const std::string section = pin::render_section(pins, "recorded for: node index.js");

  SECTION("appended when there is none") {
    const std::string text = "version = 1\n# keep me\nextends = \"base\"\n\n[limits]\npids = 64 # and me\n";
    const auto out = pin::replace_section(text, section);
    CHECK(out == text + "\n" + section);
    CHECK(pin::replace_section(out, section) == out);
    // no newline at the end of the file
    CHECK(pin::replace_section("version = 1", section) == "version = 1\n\n" + section);
  }
  SECTION("replaced in the middle; what follows, and the comment above it, stay") {
    const std::string head = "version = 1\n\n[exec]\ncwd = \"/srv\"\n\n";
    const std::string tail = "\n# limits for the server\n[limits]\npids = 64\n";
    const std::string old = "[pin]\nfiles = [\n  { path = \"/old\", sha256 = \"" + kHex + "\" },\n]\n[pin.extra]\nx = 1\n";
    const auto out = pin::replace_section(head + old + tail, section);
    CHECK(out == head + section + tail);
    CHECK(pin::replace_section(out, section) == out);
  }
  SECTION("every pin table goes, including [[pin.files]] and quoted keys, wherever they are") {
    const std::string text = "version = 1\n[[pin.files]]\npath = \"/a\"\nsha256 = \"" + kHex + "\"\n[env]\npass = []\n"
                             "[ \"pin\" . trees ]\nx = 1\n[audit]\nlog = \"none\"\n";
    CHECK(pin::replace_section(text, section) == "version = 1\n" + section + "[env]\npass = []\n[audit]\nlog = \"none\"\n");
  }
  SECTION("brackets inside strings and multi-line values are not headers") {
    const std::string text = "version = 1\ndescription = \"\"\"\n[pin]\nnot a header\n\"\"\"\n"
                             "[network]\nallow = [\n  \"a.example:443\",\n]\n[seccomp]\ndeny = [\n\"ptrace\",\n]\n";
    const auto out = pin::replace_section(text, section);
    CHECK(out == text + "\n" + section);
  }
  SECTION("the result loads back with the same pins; odd characters in paths survive") {
    Pins odd;
    odd.files.push_back({"/srv/we\"ird $dir/a b.js", kShaAbc, {}});
    odd.trees.push_back({"/srv/we\"ird $dir", kShaEmpty, 1, {"sub/pro file.toml"}, {}});
    const auto text = pin::replace_section("version = 1\n", pin::render_section(odd, "line one\nline two"));
    const auto p = load_pins(text);
    REQUIRE(p.pin.files.size() == 1);
    CHECK(p.pin.files[0].path == odd.files[0].path);
    CHECK(p.pin.files[0].sha256 == kShaAbc);
    REQUIRE(p.pin.trees.size() == 1);
    CHECK(p.pin.trees[0].path == odd.trees[0].path);
    CHECK(p.pin.trees[0].exclude == odd.trees[0].exclude);
    CHECK(p.pin.trees[0].files == 1u);
  }
}

TEST_CASE("pin: verify reports changed, missing and unreadable pins, the stored manifest names the file") {
  PinScratch d, state;
  d.write("index.js", "abc");
  d.write("node_modules/dep/index.js", "1");
  const auto t = pin::hash_tree(d.p());
  Pins pins;
  pins.files.push_back({d.p("index.js"), kShaAbc, {}});
  pins.trees.push_back({d.p(), t.sha256, t.files, {}, {}});
  CHECK(pin::verify(pins, state.p()).empty());

  d.write("node_modules/dep/index.js", "2");
  auto m = pin::verify(pins, state.p());
  REQUIRE(m.size() == 1);
  CHECK(m[0].kind == "tree");
  CHECK(m[0].expected == t.sha256);
  CHECK(m[0].actual.size() == 64);
  CHECK(m[0].first_difference.empty());  // no manifest kept: cannot name it
  CHECK_THAT(m[0].detail, Catch::Contains("cannot be named"));

  // the manifest as `mcp-jail pin` keeps it, named by its sha256
  state.write(".pin-manifests/" + t.sha256, t.manifest);
  m = pin::verify(pins, state.p());
  REQUIRE(m.size() == 1);
  CHECK(m[0].first_difference == "node_modules/dep/index.js");
  CHECK(m[0].change == "modified");
  // a stored manifest whose content does not match its name is ignored
  state.write(".pin-manifests/" + t.sha256, t.manifest + "f planted - 0 " + kShaEmpty + "\n");
  CHECK(pin::verify(pins, state.p())[0].first_difference.empty());

  fs::remove(d.d / "index.js");
  m = pin::verify(pins, state.p());
  REQUIRE(m.size() == 2);
  CHECK(m[0].kind == "file");
  CHECK(m[0].actual == "missing");
  d.link("index.js", "node_modules/dep/index.js");
  m = pin::verify(pins, state.p());
  CHECK(m[0].actual == "unreadable");
  CHECK_THAT(m[0].detail, Catch::Contains("symbolic link"));
}

TEST_CASE("pin: the plan knows the script and its project, check shows the pins") {
  PinScratch d;
  d.write("app/package.json", "{}");
  const std::string script = d.write("app/dist/index.js", "");
  Invocation inv;
  inv.uid = ::getuid();
  inv.euid = ::geteuid();
  inv.gid = ::getgid();
  inv.load.home = "/nonexistent-home";
  inv.load.pwd = d.p();
  inv.host_env = {{"PATH", "/usr/bin:/bin"}};
  inv.command = {"/usr/bin/perl", script};
  const Profile pr = load_profile_text("version = 1\nextends = \"base\"\n[pin]\nfiles = [{ path = \"" + script +
                                           "\", sha256 = \"" + kShaEmpty + "\" }]\n",
                                       "t.toml", d.p(), inv.load);
  const Plan plan = make_plan(pr, inv);
  CHECK(plan.script == script);
  CHECK(plan.project == d.p("app"));
  REQUIRE(plan.pins.files.size() == 1);
  const std::string shown = render_plan(plan);
  CHECK_THAT(shown, Catch::Contains(std::string("  file       ") + script + "  " + kShaEmpty + "  (t.toml:4:"));
  CHECK_THAT(shown, !Catch::Contains("does not cover"));

  inv.command = {"/usr/bin/perl", d.write("other.pl", "")};
  CHECK_THAT(render_plan(make_plan(pr, inv)), Catch::Contains("does not cover the command's entry point " + d.p("other.pl")));
}
