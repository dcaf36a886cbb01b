#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mcpjail/paths.hpp"

using namespace mcpjail;
namespace fs = std::filesystem;

TEST_CASE("paths: lexical normalisation") {
  CHECK(normalize_absolute("/a//b/./c/", nullptr) == "/a/b/c");
  CHECK(normalize_absolute("/", nullptr) == "/");
  std::string why;
  CHECK_FALSE(normalize_absolute("a/b", &why));
  CHECK_THAT(why, Catch::Contains("absolute"));
  CHECK_FALSE(normalize_absolute("/a/../b", &why));
  CHECK_FALSE(normalize_absolute(std::string("/a\0b", 4), &why));
  CHECK(path_is_under("/a/b", "/a"));
  CHECK(path_is_under("/a", "/a"));
  CHECK_FALSE(path_is_under("/ab", "/a"));
  CHECK(path_is_under("/x", "/"));
}

TEST_CASE("paths: safe_walk follows trusted symlinks and refuses planted ones") {
  char tmpl[] = "/tmp/mcpjail-walk-XXXXXX";
  const fs::path d = ::mkdtemp(tmpl);
  fs::create_directories(d / "real/sub");
  std::ofstream(d / "real/sub/file") << "x";
  fs::create_directory_symlink(d / "real", d / "link");        // owned by us: trusted
  fs::create_directories(d / "ws");
  fs::create_directory_symlink(d / "real", d / "ws/planted");  // inside a writable tree
  fs::create_symlink("loop", d / "loop");
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  const TrustPolicy policy{::getuid(), {(d / "ws").string()}};

  auto w = safe_walk(root.get(), (d / "link/sub/file").string(), policy);
  CHECK(w.error.empty());
  CHECK(w.type == ObjType::File);
  CHECK(w.canonical == (d / "real/sub/file").string());
  CHECK(w.via_symlink);

  w = safe_walk(root.get(), (d / "ws/planted/sub").string(), policy);
  CHECK_THAT(w.error, Catch::Contains("inside the writable path"));

  w = safe_walk(root.get(), (d / "loop").string(), policy);
  CHECK_THAT(w.error, Catch::Contains("too many levels"));

  w = safe_walk(root.get(), (d / "real/missing/x").string(), policy);
  CHECK(w.error.empty());
  CHECK(w.type == ObjType::Missing);

  w = safe_walk(root.get(), (d / "real/sub/file/below").string(), policy);
  CHECK_THAT(w.error, Catch::Contains("not a directory"));

  if (::geteuid() == 0) {
    // A symlink owned by another user is not followed.
    fs::create_directory_symlink(d / "real", d / "foreign");
    REQUIRE(::lchown((d / "foreign").c_str(), 4321, 4321) == 0);
    w = safe_walk(root.get(), (d / "foreign/sub").string(), TrustPolicy{0, {}});
    CHECK_THAT(w.error, Catch::Contains("owned by uid 4321"));
  }
  // ".." in a symlink target never climbs above the walk's root.
  UniqueFd sub(::open((d / "real").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  fs::create_symlink("../../../../../../..", d / "real/up");
  w = safe_walk(sub.get(), "/up/sub/file", policy);
  CHECK(w.type == ObjType::File);
  CHECK(w.canonical == "/sub/file");
  fs::remove_all(d);
}

TEST_CASE("lexical_path: relative to a directory, . and .. folded, never above /") {
  CHECK(lexical_path("/a/b", "c") == "/a/b/c");
  CHECK(lexical_path("/a/b", "../c") == "/a/c");
  CHECK(lexical_path("/a/b", "sub/../x/./y") == "/a/b/x/y");
  CHECK(lexical_path("/", "../../etc/cron.d/x") == "/etc/cron.d/x");
  CHECK(lexical_path("/a", "/b/./c//d/") == "/b/c/d");
  CHECK(lexical_path("/a/b", "..") == "/a");
  CHECK(lexical_path("/a", "") == "/a");
  CHECK(lexical_path("/", "") == "/");
}
