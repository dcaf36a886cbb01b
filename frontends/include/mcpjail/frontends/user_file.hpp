// Rewriting a file a user owns (a host configuration for `wrap`, a profile
// for `pin`), and writing mcp-jail's own small files, atomically.
#pragma once
#include <sys/stat.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mcpjail {

// Why a file could not be read or replaced; the message names the path.
class UserFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A user's file as read for rewriting.
struct UserFile {
  std::string path;  // as the user named it (for messages)
  std::string real;  // the file itself, symbolic links resolved: what a replace rewrites
  std::string text;
  struct stat st {};  // when it was read
};

// Reads `path`, through symbolic links. Refuses anything but a regular file,
// and files larger than `limit` bytes. Throws UserFileError.
UserFile read_user_file(const std::string& path, std::size_t limit);

struct ReplaceOptions {
  // Keep the old content first in a new file beside it, REAL.mcp-jail.bak,
  // or REAL.mcp-jail.YYYYmmdd-HHMMSS.bak when that exists (never over an
  // existing file).
  bool backup = false;
};

// Replaces file.real with `text`: the backup (when asked for), then a
// temporary file beside it with the original's mode (and, as root, its owner)
// written and synced, renamed over the original unless that changed since it
// was read (inode, size or modification time: then nothing is replaced and
// the message says to run again), then the directory synced. Returns the
// backup's path, or "" without one. Throws UserFileError.
std::string replace_user_file(const UserFile& file, std::string_view text, const ReplaceOptions& options = {});

// Creates or replaces `path` (mode `mode`, owned by the caller) with `data`
// the same way: a synced temporary file beside it renamed over it. For
// mcp-jail's own files (pin manifests). Throws UserFileError.
void write_file_atomically(const std::string& path, std::string_view data, mode_t mode);

}  // namespace mcpjail
