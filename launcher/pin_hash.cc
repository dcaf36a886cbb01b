// Pinning, the hashes: sha256 of files and trees (OpenSSL EVP) and the tree
// manifest (specified in mcp-jail-profile(5)).
//
// Trees are walked without following symbolic links and without leaving the
// tree: every open goes through openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
// from the tree's own directory fd. Files are hashed on a few threads.
#include "mcpjail/pin.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <climits>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include "mcpjail/unique_fd.hpp"

namespace mcpjail::pin {

namespace {

constexpr std::size_t kReadBuffer = 1 << 20;
constexpr unsigned kMaxThreads = 8;
constexpr std::string_view kManifestHeader = "mcp-jail-tree-v1\n";

// ---- sha256 --------------------------------------------------------------

// libcrypto's built-in SHA256, without reading openssl.cnf (or $OPENSSL_CONF):
// a configuration could load provider modules into the launcher.
EVP_MD* fetch_sha256() {
  if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) != 1) return nullptr;
  return EVP_MD_fetch(nullptr, "SHA256", nullptr);
}

const EVP_MD* sha256_md() {
  static const std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> md(fetch_sha256(), &EVP_MD_free);
  if (!md) throw LaunchError("pin", "OpenSSL's libcrypto offers no SHA256 digest (EVP_MD_fetch failed); check its installation");
  return md.get();
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    if (!ctx_) throw LaunchError("pin", "EVP_MD_CTX_new failed (out of memory)");
    reset();
  }
  void reset() {
    if (EVP_DigestInit_ex(ctx_.get(), sha256_md(), nullptr) != 1) throw LaunchError("pin", "EVP_DigestInit_ex(SHA256) failed");
  }
  void update(const void* p, std::size_t n) {
    if (EVP_DigestUpdate(ctx_.get(), p, n) != 1) throw LaunchError("pin", "EVP_DigestUpdate failed");
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) throw LaunchError("pin", "EVP_DigestFinal_ex failed");
    return to_hex(md, len);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

// ---- opening without following links --------------------------------------

// Opens `rel` (relative, no "..") below `dirfd`, following no symbolic link on
// the way and never leaving `dirfd`. -1 with errno on failure (ELOOP: a link).
int open_beneath(int dirfd, const std::string& rel, int flags) {
  static std::atomic<bool> no_openat2{false};
  flags |= O_CLOEXEC | O_NOFOLLOW;
  if (!no_openat2.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd;
    do fd = ::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how);
    while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
    no_openat2.store(true, std::memory_order_relaxed);
  }
  // Kernels before 5.6: one component at a time with O_NOFOLLOW.
  UniqueFd cur;
  int at = dirfd;
  std::size_t i = 0;
  for (;;) {
    const auto slash = rel.find('/', i);
    const std::string part = rel.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
    if (part == "..") {
      errno = EXDEV;
      return -1;
    }
    if (slash == std::string::npos) return ::openat(at, part.c_str(), flags);
    UniqueFd next(::openat(at, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      if (errno == ENOTDIR) errno = ELOOP;  // a link (or a file) where a directory was
      return -1;
    }
    cur = std::move(next);
    at = cur.get();
    i = slash + 1;
  }
}

HashError open_error(const std::string& path, int err) {
  if (err == ENOENT) return HashError(path + ": does not exist", true);
  if (err == ELOOP)
    return HashError(path + ": a symbolic link is on its path; pins name canonical paths and no link is followed "
                            "when they are checked",
                     false);
  return HashError(errno_text(path + ": cannot open", err), false);
}

const char* type_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symbolic link";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  return "not a regular file";
}

// Hashes what `fd` holds to its end; the byte count. `expected`: the size
// fstat gave; a read that reaches it ends the loop without one more read.
std::uint64_t hash_fd(int fd, Sha256& h, std::vector<unsigned char>& buf, const std::string& path,
                      std::uint64_t expected = UINT64_MAX) {
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n == 0) return total;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw HashError(errno_text(path + ": read", errno), false);
    }
    h.update(buf.data(), static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
    if (total == expected && static_cast<std::size_t>(n) < buf.size()) return total;
  }
}

// ---- the manifest ----------------------------------------------------------

// Bytes up to space, '%' and DEL are written %XX; the rest as they are.
void append_escaped(std::string& out, std::string_view s) {
  static const char digits[] = "0123456789ABCDEF";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '%' || c == 0x7f) {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out += ch;
    }
  }
}

std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Entry {
  std::string rel;  // relative path, raw bytes
  char type = 'f';  // 'd' directory, 'f' regular file, 'l' symbolic link
  std::string target;  // 'l'
  bool exec = false;   // 'f': any execute bit
  std::uint64_t size = 0;
  std::string sha256;
};

struct CloseDir {
  void operator()(DIR* d) const { ::closedir(d); }
};

unsigned thread_count(unsigned wanted) {
  return wanted ? wanted : std::clamp(std::thread::hardware_concurrency(), 1u, kMaxThreads);
}

// The walk and the hashing of a tree, on a few threads sharing one list of
// work: a directory to list or a file to hash. Every open is relative to
// the tree's own fd and follows no symbolic link (open_beneath).
class TreeWalk {
 public:
  TreeWalk(int root, const std::string& path, const std::vector<std::string>& exclude)
      : root_(root), path_(path), excluded_(exclude.begin(), exclude.end()) {
    top_.type = 'd';
    todo_.push_back(&top_);
  }

  // Every entry below the root, in no particular order.
  std::vector<Entry*> run(unsigned threads) {
    {
      const unsigned n = thread_count(threads);
      std::vector<std::jthread> pool;
      for (unsigned k = 1; k < n; ++k) pool.emplace_back([this] { work(); });
      work();
    }  // joined here
    if (error_) std::rethrow_exception(error_);
    std::vector<Entry*> out;
    out.reserve(entries_.size());
    for (auto& e : entries_) out.push_back(&e);
    return out;
  }

 private:
  void work() {
    try {
      work_loop();
    } catch (...) {  // out of memory, or libcrypto failing: the others stop too
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
      cv_.notify_all();
    }
  }

  void work_loop() {
    Sha256 h;
    std::vector<unsigned char> buf(kReadBuffer);
    std::vector<Entry> found;
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return error_ || !todo_.empty() || busy_ == 0; });
      if (error_ || todo_.empty()) break;  // failed, or nothing left and nobody adding more
      Entry* e = todo_.back();
      todo_.pop_back();
      ++busy_;
      lock.unlock();
      found.clear();
      std::exception_ptr err;
      try {
        if (e->type == 'd') list(*e, found);
        else hash(*e, h, buf);
      } catch (...) {
        err = std::current_exception();
      }
      lock.lock();
      --busy_;
      if (err && !error_) error_ = err;
      for (auto& f : found) {
        entries_.push_back(std::move(f));
        Entry& added = entries_.back();
        if (added.type != 'l') todo_.push_back(&added);
      }
      cv_.notify_all();
    }
    cv_.notify_all();
  }

  void list(const Entry& dir, std::vector<Entry>& found) {
    const std::string shown = dir.rel.empty() ? path_ : path_ + "/" + dir.rel;
    UniqueFd dfd(dir.rel.empty() ? ::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                 : open_beneath(root_, dir.rel, O_RDONLY | O_DIRECTORY));
    if (!dfd) {
      if (errno == ENOTDIR || errno == ELOOP || errno == ENOENT)
        throw HashError(shown + ": changed while the tree was walked (" + std::strerror(errno) + "); try again", false);
      throw open_error(shown, errno);
    }
    std::unique_ptr<DIR, CloseDir> d(::fdopendir(dfd.get()));
    if (!d) throw HashError(errno_text(shown + ": fdopendir", errno), false);
    dfd.release();
    const int fd = ::dirfd(d.get());
    char link[PATH_MAX + 1];
    for (;;) {
      errno = 0;
      const dirent* de = ::readdir(d.get());
      if (!de) {
        if (errno) throw HashError(errno_text(shown + ": readdir", errno), false);
        return;
      }
      const std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      std::string rel = dir.rel.empty() ? std::string(name) : dir.rel + "/" + std::string(name);
      if (excluded_.count(rel)) continue;
      unsigned char type = de->d_type;
      mode_t mode = 0;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
          throw HashError(errno_text(path_ + "/" + rel + ": fstatat", errno), false);
        mode = st.st_mode;
        type = S_ISDIR(mode) ? DT_DIR : S_ISREG(mode) ? DT_REG : S_ISLNK(mode) ? DT_LNK : DT_FIFO;
      }
      Entry en;
      if (type == DT_DIR) {
        en.type = 'd';
      } else if (type == DT_REG) {
        en.type = 'f';
      } else if (type == DT_LNK) {
        en.type = 'l';
        const ssize_t n = ::readlinkat(fd, de->d_name, link, sizeof link);
        if (n < 0) throw HashError(errno_text(path_ + "/" + rel + ": readlink", errno), false);
        if (static_cast<std::size_t>(n) >= sizeof link) throw HashError(path_ + "/" + rel + ": link target too long", false);
        en.target.assign(link, static_cast<std::size_t>(n));
      } else {
        const char* what = type == DT_FIFO ? "a FIFO (named pipe)" : type == DT_SOCK ? "a socket"
                           : type == DT_CHR ? "a character device" : type == DT_BLK ? "a block device" : "an unknown file type";
        if (mode) what = type_of(mode);
        throw HashError(path_ + "/" + rel + ": " + what +
                            "; a pinned tree may hold only directories, regular files and symbolic links "
                            "(remove it or move it out of the tree)",
                        false);
      }
      en.rel = std::move(rel);
      found.push_back(std::move(en));
    }
  }

  void hash(Entry& e, Sha256& h, std::vector<unsigned char>& buf) {
    const std::string_view rel = e.rel;
    UniqueFd fd(open_beneath(root_, e.rel, O_RDONLY | O_NONBLOCK | O_NOCTTY));
    if (!fd) {
      if (errno == ELOOP || errno == ENOENT)
        throw HashError(path_ + "/" + std::string(rel) + ": changed while the tree was hashed (" + std::strerror(errno) +
                            "); try again",
                        false);
      throw open_error(path_ + "/" + std::string(rel), errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw HashError(errno_text(path_ + "/" + e.rel + ": fstat", errno), false);
    if (!S_ISREG(st.st_mode))
      throw HashError(path_ + "/" + e.rel + ": changed while the tree was hashed (now " + type_of(st.st_mode) + "); try again",
                      false);
    e.exec = (st.st_mode & 0111) != 0;
    h.reset();
    e.size = hash_fd(fd.get(), h, buf, path_ + "/" + e.rel, static_cast<std::uint64_t>(st.st_size));
    e.sha256 = h.hex();
  }

  const int root_;
  const std::string& path_;
  const std::set<std::string> excluded_;
  Entry top_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Entry> entries_;  // stable addresses
  std::vector<Entry*> todo_;
  unsigned busy_ = 0;
  std::exception_ptr error_;
};

}  // namespace

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

// ---- hashing ------------------------------------------------------------------

FileDigest hash_file(const std::string& path) {
  if (!path.starts_with("/") || path.size() < 2) throw HashError(path + ": not an absolute path to a file", false);
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw HashError(errno_text("open /", errno), false);
  UniqueFd fd(open_beneath(root.get(), path.substr(1), O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (!fd) throw open_error(path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw HashError(errno_text(path + ": fstat", errno), false);
  if (!S_ISREG(st.st_mode)) throw HashError(path + ": " + type_of(st.st_mode) + ", not a regular file", false);
  Sha256 h;
  std::vector<unsigned char> buf(std::min<std::size_t>(kReadBuffer, static_cast<std::size_t>(st.st_size) + 1));
  FileDigest d;
  d.size = hash_fd(fd.get(), h, buf, path);
  d.sha256 = h.hex();
  return d;
}

TreeDigest hash_tree(const std::string& path, const std::vector<std::string>& exclude, unsigned threads) {
  if (!path.starts_with("/")) throw HashError(path + ": not an absolute path to a directory", false);
  UniqueFd top(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!top) throw HashError(errno_text("open /", errno), false);
  UniqueFd root(path == "/" ? ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                            : open_beneath(top.get(), path.substr(1), O_RDONLY | O_DIRECTORY));
  if (!root) {
    if (errno == ENOTDIR) throw HashError(path + ": not a directory", false);
    throw open_error(path, errno);
  }
  TreeWalk walk(root.get(), path, exclude);
  std::vector<Entry*> entries = walk.run(threads);
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) { return a->rel < b->rel; });

  TreeDigest d;
  d.manifest.reserve(kManifestHeader.size() + entries.size() * 120);
  d.manifest += kManifestHeader;
  for (const Entry* e : entries) {
    d.manifest += e->type;
    d.manifest += ' ';
    append_escaped(d.manifest, e->rel);
    if (e->type == 'f') {
      d.manifest += e->exec ? " x " : " - ";
      d.manifest += std::to_string(e->size);
      d.manifest += ' ';
      d.manifest += e->sha256;
      ++d.files;
      d.bytes += e->size;
    } else if (e->type == 'l') {
      d.manifest += ' ';
      append_escaped(d.manifest, e->target);
    }
    d.manifest += '\n';
  }
  d.sha256 = sha256_hex(d.manifest);
  return d;
}

Difference first_difference(std::string_view pinned, std::string_view now) {
  struct Item {
    std::string path;
    std::string_view line;
  };
  auto parse = [](std::string_view m) {
    std::vector<Item> items;
    std::size_t pos = 0;
    bool header = true;
    while (pos < m.size()) {
      auto nl = m.find('\n', pos);
      if (nl == std::string_view::npos) nl = m.size();
      const std::string_view line = m.substr(pos, nl - pos);
      pos = nl + 1;
      if (std::exchange(header, false)) continue;
      if (line.size() < 3) continue;
      const auto sp = line.find(' ', 2);
      items.push_back({unescape(line.substr(2, sp == std::string_view::npos ? std::string_view::npos : sp - 2)), line});
    }
    return items;
  };
  const auto a = parse(pinned), b = parse(now);
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) return {a[i].path, "removed"};
    if (i == a.size() || b[j].path < a[i].path) return {b[j].path, "added"};
    if (a[i].line != b[j].line) return {a[i].path, "modified"};
    ++i, ++j;
  }
  return {};
}

}  // namespace mcpjail::pin
