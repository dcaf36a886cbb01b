#include "mcpjail/frontends/user_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "mcpjail/errors.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail {

namespace {

[[noreturn]] void fail(const std::string& what, int err) { throw UserFileError(errno_text(what, err)); }

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// A new file beside `target` (mkostemp, mode 0600 until set), removed unless
// it was renamed over the target.
class TempFile {
 public:
  explicit TempFile(const std::string& target) : target_(target) {
    const std::filesystem::path p(target);
    path_ = (p.parent_path() / ("." + p.filename().string() + ".mcp-jail-XXXXXX")).string();
    fd_.reset(::mkostemp(path_.data(), O_CLOEXEC));
    if (!fd_) fail("cannot create a temporary file beside " + target, errno);
  }
  ~TempFile() {
    if (!renamed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  // Mode and owner (as root) of `like`, the data, fsync, close.
  void write(std::string_view data, mode_t mode, const struct stat* owner) {
    if (owner && ::geteuid() == 0 && ::fchown(fd_.get(), owner->st_uid, owner->st_gid) != 0)
      fail("cannot set the owner of " + path_, errno);
    if (::fchmod(fd_.get(), mode & 07777) != 0) fail("cannot set the mode of " + path_, errno);
    if (!write_all(fd_.get(), data)) fail("cannot write " + path_, errno);
    if (::fsync(fd_.get()) != 0) fail("cannot sync " + path_, errno);
    if (::close(fd_.release()) != 0) fail("cannot write " + path_, errno);
  }
  void rename() {
    if (::rename(path_.c_str(), target_.c_str()) != 0) fail("cannot replace " + target_, errno);
    renamed_ = true;
  }

 private:
  std::string target_, path_;
  UniqueFd fd_;
  bool renamed_ = false;
};

void sync_directory_of(const std::string& path) {
  UniqueFd dfd(::open(std::filesystem::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
}

// Writes the backup of `file` beside it, never over an existing file.
std::string write_backup(const UserFile& file) {
  std::string backup = file.real + ".mcp-jail.bak";
  if (exists(backup)) {
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    struct tm tm {};
    ::localtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    backup = file.real + ".mcp-jail." + stamp + ".bak";
    for (int k = 2; exists(backup) && k < 1000; ++k) backup = file.real + ".mcp-jail." + stamp + "-" + std::to_string(k) + ".bak";
  }
  UniqueFd fd(::open(backup.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) fail("cannot write the backup " + backup, errno);
  int err = 0;
  if (::geteuid() == 0 && ::fchown(fd.get(), file.st.st_uid, file.st.st_gid) != 0) err = errno;
  if (!err && ::fchmod(fd.get(), file.st.st_mode & 07777) != 0) err = errno;
  if (!err && !write_all(fd.get(), file.text)) err = errno;
  if (!err && ::fsync(fd.get()) != 0) err = errno;
  if (!err && ::close(fd.release()) != 0) err = errno;
  if (err) {
    ::unlink(backup.c_str());
    fail("cannot write the backup " + backup, err);
  }
  return backup;
}

}  // namespace

UserFile read_user_file(const std::string& path, std::size_t limit) {
  UserFile f;
  f.path = path;
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) fail("cannot read " + path, errno);
  f.real = real;
  std::free(real);
  // O_NONBLOCK: a FIFO put in the file's place does not hang the open.
  UniqueFd fd(::open(f.real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) fail("cannot read " + path, errno);
  if (::fstat(fd.get(), &f.st) != 0) fail("cannot read " + path, errno);
  if (!S_ISREG(f.st.st_mode)) throw UserFileError(path + " is not a regular file");
  const std::string too_large = path + " is larger than " + std::to_string(limit >> 20) + " MiB; refusing to read it";
  if (static_cast<std::uint64_t>(f.st.st_size) > limit) throw UserFileError(too_large);
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read " + path, errno);
    if (n == 0) break;
    f.text.append(buf, static_cast<std::size_t>(n));
    if (f.text.size() > limit) throw UserFileError(too_large);
  }
  return f;
}

std::string replace_user_file(const UserFile& file, std::string_view text, const ReplaceOptions& options) {
  const std::string backup = options.backup ? write_backup(file) : std::string();
  TempFile tmp(file.real);
  tmp.write(text, file.st.st_mode, &file.st);
  struct stat now {};
  if (::stat(file.real.c_str(), &now) != 0 || now.st_ino != file.st.st_ino || now.st_dev != file.st.st_dev ||
      now.st_size != file.st.st_size || now.st_mtim.tv_sec != file.st.st_mtim.tv_sec ||
      now.st_mtim.tv_nsec != file.st.st_mtim.tv_nsec)
    throw UserFileError(file.path + " changed while mcp-jail was rewriting it; run the command again");
  tmp.rename();
  sync_directory_of(file.real);
  return backup;
}

void write_file_atomically(const std::string& path, std::string_view data, mode_t mode) {
  TempFile tmp(path);
  tmp.write(data, mode, nullptr);
  tmp.rename();
  sync_directory_of(path);
}

}  // namespace mcpjail
