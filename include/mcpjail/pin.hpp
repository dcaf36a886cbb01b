// Pinning: sha256 of the files that make up a server (its entry point, its
// lockfiles, its project tree), recorded by `mcp-jail pin` in the profile's
// [pin] section and checked before anything starts (launch(), `check`). The
// tree hash and its manifest format are specified in mcp-jail-profile(5).
// Here: the hashes and the check; recording them is the `pin` front-end's
// (frontends/pin).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/errors.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail {
class Audit;
struct Plan;
struct Invocation;
}  // namespace mcpjail

namespace mcpjail::pin {

// A file or tree that cannot be hashed. `missing`: the path does not exist.
class HashError : public LaunchError {
 public:
  HashError(const std::string& message, bool missing) : LaunchError("pin", message), missing_(missing) {}
  bool missing() const { return missing_; }

 private:
  bool missing_;
};

struct FileDigest {
  std::string sha256;  // lowercase hex
  std::uint64_t size = 0;
};

struct TreeDigest {
  std::string sha256;    // sha256 of `manifest`
  std::string manifest;  // one line per entry, sorted by relative path
  std::uint64_t files = 0, bytes = 0;
};

// sha256 of a regular file. No symbolic link is followed anywhere on the
// path. Throws HashError.
FileDigest hash_file(const std::string& path);

// The tree hash of directory `path`: walked without following symbolic links
// and without leaving it; `exclude` lists relative paths left out with all
// they hold. Anything but directories, regular files and symbolic links is
// refused. `threads` 0: as many as the machine has cores (at most 8).
// Throws HashError.
TreeDigest hash_tree(const std::string& path, const std::vector<std::string>& exclude = {}, unsigned threads = 0);

// sha256 of `data`, lowercase hex.
std::string sha256_hex(std::string_view data);

// The first entry (relative path, unescaped) where two manifests differ, and
// how: "modified", "added" (only in `now`) or "removed". Empty when equal.
struct Difference {
  std::string path, change;
};
Difference first_difference(std::string_view pinned, std::string_view now);

// A pin that does not hold.
struct Mismatch {
  std::string kind;              // "file" or "tree"
  std::string path;              // as pinned
  std::string expected;          // hex
  std::string actual;            // hex, "missing" or "unreadable"
  std::string detail;            // why unreadable; file counts for trees
  std::string first_difference;  // trees: the first differing relative path, when known
  std::string change;            // trees: "modified", "added", "removed"
  SourceLoc loc;
};

// Checks every pin. `state_dir` holds the manifests `pin` stored (to name
// the first differing file of a tree); empty: none.
std::vector<Mismatch> verify(const Pins& pins, const std::string& state_dir);

// Manifests larger than this are not read back.
inline constexpr std::size_t kMaxManifestBytes = 512ULL << 20;

// Where `mcp-jail pin` keeps the manifest of the tree with hash `sha`, in the
// state directory `state`: <state>/.pin-manifests/<sha>.
std::string manifest_path(const std::string& state, const std::string& sha);

// That manifest, when it is there and its content has that hash.
std::optional<std::string> load_manifest(const std::string& state, const std::string& sha);

// The invoking user's state directory: $XDG_STATE_HOME/mcp-jail or
// ~/.local/state/mcp-jail (may not exist yet).
std::string state_dir(const Invocation& inv);

// Before a launch (launch(), `check`): verifies the pins; on a mismatch prints
// what changed and the fix, writes a pin_mismatch audit event per mismatch
// (when `audit` is given) and returns false: nothing may be started.
bool verify_before_launch(const Pins& pins, const Invocation& inv, Audit* audit);

}  // namespace mcpjail::pin
