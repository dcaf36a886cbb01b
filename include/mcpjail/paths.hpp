// Host paths: lexical normalisation and a symlink-safe walk.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/unique_fd.hpp"

namespace mcpjail {

// "/a//b/./c/" -> "/a/b/c". Refuses relative paths, ".." and NUL bytes
// (".." cannot be resolved lexically when symlinks are involved).
std::optional<std::string> normalize_absolute(std::string_view path, std::string* why);

// The non-empty components of `path`: "/a//b/" -> {"a", "b"}.
std::vector<std::string> path_components(std::string_view path);

// `rel` made absolute against `dir` (unless it is absolute already), "." and
// ".." folded lexically (".." at "/" stays at "/"), slashes collapsed. For
// paths inside a jail as a supervisor reports them, where symlinks cannot be
// followed; never for deciding what to mount.
std::string lexical_path(std::string_view dir, std::string_view rel);

// True when `path` is `dir` or lies below it (both normalised, absolute).
bool path_is_under(std::string_view path, std::string_view dir);

// Which symlinks a walk may follow. A symlink is followed only when it is
// owned by root or by `trusted_uid`, and does not lie inside one of
// `untrusted_trees` (the paths the jail can write: a server could have planted
// it there during an earlier run).
struct TrustPolicy {
  uid_t trusted_uid = 0;
  std::vector<std::string> untrusted_trees;
};

enum class ObjType { Missing, Directory, File, Other };

struct WalkResult {
  UniqueFd fd;              // O_PATH fd of the object (when it exists)
  std::string canonical;    // the path with every symlink resolved
  ObjType type = ObjType::Missing;
  bool via_symlink = false; // some symlink was followed
  std::string error;        // set when the walk was refused (untrusted symlink, loop, EACCES, ...)
};

// Walks absolute `path` below `root_fd` (which stands for "/") component by
// component with O_NOFOLLOW, following only symlinks that `policy` trusts.
// Absolute symlink targets restart at `root_fd`; ".." never climbs above it.
// A path without symlinks, "." or ".." that exists is opened in one
// openat2() call (open_no_symlinks) instead.
WalkResult safe_walk(int root_fd, std::string_view path, const TrustPolicy& policy);

// Opens relative `rel` below `dirfd` with O_PATH in one openat2() call that
// refuses every symlink (magic links included) and never leaves `dirfd`. An
// invalid fd when that fails for any reason (ENOENT, ELOOP, also ENOSYS, or
// EAGAIN after a concurrent mount): callers then walk component by
// component, which says what is wrong.
UniqueFd open_no_symlinks(int dirfd, std::string_view rel);

// The final component of `path` is a symlink (lstat), without following it.
bool is_symlink(const std::string& path);

// A small file's text (a /proc or /sys file, a configuration): read to its
// end or to `limit` bytes, whichever comes first (the result is cut at
// `limit`). nullopt when it cannot be opened or read, the errno in `*err`.
// `extra_flags` are added to O_RDONLY | O_CLOEXEC (O_NOFOLLOW, say).
std::optional<std::string> read_file(const std::string& path, std::size_t limit = std::size_t{1} << 20,
                                     int extra_flags = 0, int* err = nullptr);

}  // namespace mcpjail
