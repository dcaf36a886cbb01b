// Pinning: sha256 of files and trees (OpenSSL EVP), the tree manifest, the
// [pin] section rewrite, verification before a launch, and `mcp-jail pin`.
//
// Trees are walked without following symbolic links and without leaving the
// tree: every open goes through openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
// from the tree's own directory fd. Files are hashed on a few threads.
#include "mcpjail/pin.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <climits>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include "mcpjail/audit.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/state.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::pin {

namespace {

constexpr std::size_t kReadBuffer = 1 << 20;
constexpr unsigned kMaxThreads = 8;
constexpr std::size_t kMaxManifestBytes = 512ULL << 20;
constexpr std::string_view kManifestHeader = "mcp-jail-tree-v1\n";
constexpr const char* kLockfiles[] = {"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
                                      "poetry.lock",       "uv.lock",             "Pipfile.lock"};

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

std::string sha256_of(std::string_view s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.hex();
}

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

// ---- the [pin] section -------------------------------------------------------

// A TOML basic string; `dollar`: '$' doubled (profile paths expand ${NAME}).
std::string toml_quote(std::string_view s, bool dollar) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else if (ch == '$' && dollar) {
      out += "$$";
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

struct Line {
  std::size_t begin, end;  // [begin, end) including the newline
  bool header = false;
  bool pin = false;        // a header whose first key is pin
  bool filler = false;     // blank or comment only (outside any string or value)
};

// The first key of a table header line ("[pin.files]" -> "pin").
std::string header_key(std::string_view l) {
  std::size_t i = l.find('[') + 1;
  if (i < l.size() && l[i] == '[') ++i;
  while (i < l.size() && (l[i] == ' ' || l[i] == '\t')) ++i;
  if (i >= l.size()) return "";
  std::string key;
  if (l[i] == '"' || l[i] == '\'') {
    const char q = l[i++];
    while (i < l.size() && l[i] != q) {
      if (q == '"' && l[i] == '\\' && i + 1 < l.size()) ++i;
      key += l[i++];
    }
    return key;
  }
  while (i < l.size() && (std::isalnum(static_cast<unsigned char>(l[i])) || l[i] == '_' || l[i] == '-')) key += l[i++];
  return key;
}

// Splits a TOML text into lines and finds the table headers, skipping what
// is inside multi-line strings and multi-line arrays or inline tables.
std::vector<Line> scan_lines(std::string_view text) {
  std::vector<Line> lines;
  int depth = 0;           // open [ and { of a value
  std::string_view ml;     // the closing quotes of an open multi-line string
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    const std::string_view l = text.substr(pos, end - pos);
    Line line{pos, end};
    const auto first = l.find_first_not_of(" \t\r\n");
    if (ml.empty() && depth == 0) {
      if (first == std::string_view::npos || l[first] == '#') line.filler = true;
      else if (l[first] == '[') {
        line.header = true;
        line.pin = header_key(l.substr(first)) == "pin";
      }
    }
    if (!line.header) {
      std::size_t i = 0;
      while (i < l.size()) {
        if (!ml.empty()) {
          if (ml == "\"\"\"" && l[i] == '\\') {
            i += 2;
            continue;
          }
          if (l.substr(i, 3) == ml) {
            // a closing delimiter may be followed by up to two more quotes
            i += 3;
            while (i < l.size() && l[i] == ml[0]) ++i;
            ml = {};
            continue;
          }
          ++i;
          continue;
        }
        const char c = l[i];
        if (c == '#') break;
        if (c == '"' || c == '\'') {
          if (l.substr(i, 3) == std::string(3, c)) {
            ml = c == '"' ? std::string_view("\"\"\"") : std::string_view("'''");
            i += 3;
            continue;
          }
          ++i;
          while (i < l.size() && l[i] != c && l[i] != '\n') {
            if (c == '"' && l[i] == '\\') ++i;
            ++i;
          }
          ++i;
          continue;
        }
        if (c == '[' || c == '{') ++depth;
        if (c == ']' || c == '}') depth = std::max(0, depth - 1);
        ++i;
      }
    }
    lines.push_back(line);
    pos = end;
  }
  return lines;
}

// ---- whole files -----------------------------------------------------------------

// Reads `fd` to its end; false (errno set, EFBIG past `limit`) on failure.
bool read_all(int fd, std::string& out, std::size_t limit) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) return errno = EFBIG, false;
  }
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(w));
  }
  return true;
}

// A new file beside `target` (0600, O_EXCL) that replaces it by rename(2) on
// commit(), and is removed otherwise.
class TempFile {
 public:
  explicit TempFile(const std::string& target) : target_(target) {
    const auto p = std::filesystem::path(target);
    path_ = (p.parent_path() / ("." + p.filename().string() + "." + random_hex(6) + ".tmp")).string();
    fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    created_ = static_cast<bool>(fd_);
  }
  ~TempFile() {
    if (created_ && !committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  bool commit() {
    fd_.reset();
    committed_ = ::rename(path_.c_str(), target_.c_str()) == 0;
    return committed_;
  }

 private:
  std::string target_, path_;
  UniqueFd fd_;
  bool created_ = false, committed_ = false;
};

// ---- the state directory -------------------------------------------------------

// Manifests live in <state home>/mcp-jail/.pin-manifests: a profile name
// cannot start with ".", so no ${PROFILE_STATE} (<state home>/mcp-jail/<name>,
// writable by its jail) can be this directory.

std::string manifest_path(const std::string& state, const std::string& sha) { return state + "/.pin-manifests/" + sha; }

// Keeps a tree's manifest, named by its sha256, so that a later mismatch can
// name the first file that differs. Content-addressed: a planted file with
// another content is ignored when read back. Best effort.
bool store_manifest(const std::string& state, const TreeDigest& d, std::string* why) {
  namespace fs = std::filesystem;
  if (state.empty()) return *why = "no state directory (HOME unset)", false;
  const fs::path dir = fs::path(state) / ".pin-manifests";
  std::error_code ec;
  const fs::path base = fs::path(state).parent_path();
  struct stat st {};
  // root launched with another user's HOME: do not litter that home with root's files
  for (fs::path p = base; !p.empty(); p = p.parent_path()) {
    if (::stat(p.c_str(), &st) == 0) {
      if (st.st_uid != ::geteuid()) return *why = p.string() + " belongs to another user", false;
      break;
    }
    if (p == p.root_path()) break;
  }
  fs::create_directories(base, ec);
  for (const fs::path& p : {fs::path(state), dir})
    if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) return *why = errno_text("mkdir " + p.string(), errno), false;
  const std::string target = manifest_path(state, d.sha256);
  if (::access(target.c_str(), F_OK) == 0) return true;
  TempFile tmp(target);
  if (tmp.fd() < 0) return *why = errno_text("create " + tmp.path(), errno), false;
  if (!write_all(tmp.fd(), d.manifest)) return *why = errno_text("write " + tmp.path(), errno), false;
  if (!tmp.commit()) return *why = errno_text("rename " + tmp.path(), errno), false;
  return true;
}

std::optional<std::string> load_manifest(const std::string& state, const std::string& sha) {
  if (state.empty()) return std::nullopt;
  UniqueFd fd(::open(manifest_path(state, sha).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > kMaxManifestBytes)
    return std::nullopt;
  std::string text;
  if (!read_all(fd.get(), text, kMaxManifestBytes) || sha256_of(text) != sha) return std::nullopt;
  return text;
}

// ---- messages --------------------------------------------------------------

std::string shell_quote(const std::string& a) {
  const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                       "_-./=:@%+,") == std::string::npos;
  if (plain) return a;
  std::string out = "'";
  for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The `mcp-jail pin` command that records the pins again.
std::string pin_again(const Invocation& inv) {
  std::string cmd = "mcp-jail pin " + shell_quote(inv.profile);
  for (const auto& [k, v] : inv.load.vars) cmd += " --var " + shell_quote(k + "=" + v);
  cmd += " --";
  if (inv.command.empty()) return cmd + " COMMAND [ARG]...";
  for (const auto& a : inv.command) cmd += " " + shell_quote(a);
  return cmd;
}

std::string one_line(std::string s) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

std::string megabytes(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

void rewrite_profile(const std::string& path, const std::string& section, const Invocation& inv, const Pins& pins) {
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!in || ::fstat(in.get(), &st) != 0) throw LaunchError("pin", errno_text("cannot read " + path, errno));
  std::string text;
  if (!read_all(in.get(), text, kMaxProfileBytes)) throw LaunchError("pin", errno_text("cannot read " + path, errno));
  const std::string updated = replace_section(text, section);
  // The new text must load, with exactly the pins just recorded.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  try {
    const Profile p = load_profile_text(updated, path, dir, inv.load);
    for (const auto& f : pins.files)
      if (std::none_of(p.pin.files.begin(), p.pin.files.end(),
                       [&](const PinFile& g) { return g.path == f.path && g.sha256 == f.sha256; }))
        throw ProfileError(SourceLoc{path}, "the pin of " + f.path + " does not read back");
    for (const auto& t : pins.trees)
      if (std::none_of(p.pin.trees.begin(), p.pin.trees.end(),
                       [&](const PinTree& g) { return g.path == t.path && g.sha256 == t.sha256; }))
        throw ProfileError(SourceLoc{path}, "the pin of the tree " + t.path + " does not read back");
  } catch (const ProfileError& e) {
    throw LaunchError("pin", "the profile with its new [pin] section would not load, so nothing was written:\n" +
                                 std::string(e.what()) +
                                 "\nPins written outside a [pin] table (pin.files = ... at the top, or pin = { ... }) "
                                 "cannot be replaced in place: move them into a [pin] table, or delete them, and pin again");
  }
  if (updated == text) return;
  TempFile tmp(path);
  if (tmp.fd() < 0) throw LaunchError("pin", errno_text("cannot create " + tmp.path() + " beside the profile", errno));
  if (::geteuid() == 0 && ::fchown(tmp.fd(), st.st_uid, st.st_gid) != 0)
    throw LaunchError("pin", errno_text("chown " + tmp.path(), errno));
  if (::fchmod(tmp.fd(), st.st_mode & 07777) != 0) throw LaunchError("pin", errno_text("chmod " + tmp.path(), errno));
  if (!write_all(tmp.fd(), updated)) throw LaunchError("pin", errno_text("write " + tmp.path(), errno));
  if (::fsync(tmp.fd()) != 0) throw LaunchError("pin", errno_text("fsync " + tmp.path(), errno));
  if (!tmp.commit()) throw LaunchError("pin", errno_text("rename " + tmp.path() + " to " + path, errno));
}

}  // namespace

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
  d.sha256 = sha256_of(d.manifest);
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

// ---- the section --------------------------------------------------------------------

std::string render_section(const Pins& pins, const std::string& comment) {
  std::string s = "[pin]\n";
  if (!comment.empty()) s += "# " + one_line(comment) + "\n";
  if (!pins.files.empty()) {
    s += "files = [\n";
    for (const auto& f : pins.files)
      s += "  { path = " + toml_quote(f.path, true) + ", sha256 = " + toml_quote(f.sha256, false) + " },\n";
    s += "]\n";
  }
  if (!pins.trees.empty()) {
    s += "trees = [\n";
    for (const auto& t : pins.trees) {
      s += "  { path = " + toml_quote(t.path, true) + ", sha256 = " + toml_quote(t.sha256, false);
      if (t.files) s += ", files = " + std::to_string(*t.files);
      if (!t.exclude.empty()) {
        s += ", exclude = [";
        for (std::size_t i = 0; i < t.exclude.size(); ++i) s += (i ? ", " : "") + toml_quote(t.exclude[i], false);
        s += "]";
      }
      s += " },\n";
    }
    s += "]\n";
  }
  return s;
}

std::string replace_section(std::string_view text, std::string_view section) {
  const auto lines = scan_lines(text);
  // Lines that belong to a pin table: from its header to the next header that
  // is not pin.*, less the blank and comment lines just before that header
  // (they introduce what follows).
  std::vector<bool> drop(lines.size(), false);
  bool any = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].header || !lines[i].pin) continue;
    std::size_t j = i + 1;
    while (j < lines.size() && !(lines[j].header && !lines[j].pin)) ++j;
    std::size_t last = j;
    while (last > i + 1 && lines[last - 1].filler && !(lines[last - 1].header)) --last;
    for (std::size_t k = i; k < last; ++k) drop[k] = true;
    any = true;
    i = j - 1;
  }
  std::string out;
  out.reserve(text.size() + section.size() + 2);
  if (!any) {
    out = text;
    if (!out.empty() && out.back() != '\n') out += '\n';
    const bool blank_before = out.empty() || out.ends_with("\n\n");
    if (!blank_before) out += '\n';
    out += section;
    return out;
  }
  bool placed = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (drop[i]) {
      if (!placed) {
        out += section;
        placed = true;
      }
      continue;
    }
    out += text.substr(lines[i].begin, lines[i].end - lines[i].begin);
  }
  return out;
}

// ---- verification ----------------------------------------------------------------------

std::vector<Mismatch> verify(const Pins& pins, const std::string& state) {
  std::vector<Mismatch> out;
  for (const auto& f : pins.files) {
    Mismatch m{"file", f.path, f.sha256};
    m.loc = f.loc;
    try {
      const auto d = hash_file(f.path);
      if (d.sha256 == f.sha256) continue;
      m.actual = d.sha256;
    } catch (const HashError& e) {
      m.actual = e.missing() ? "missing" : "unreadable";
      m.detail = e.what();
    }
    out.push_back(std::move(m));
  }
  for (const auto& t : pins.trees) {
    Mismatch m{"tree", t.path, t.sha256};
    m.loc = t.loc;
    try {
      const auto d = hash_tree(t.path, t.exclude);
      if (d.sha256 == t.sha256) continue;
      m.actual = d.sha256;
      m.detail = (t.files ? std::to_string(*t.files) + " files when pinned, " : std::string()) + std::to_string(d.files) +
                 " now";
      if (auto pinned = load_manifest(state, t.sha256)) {
        const auto diff = first_difference(*pinned, d.manifest);
        m.first_difference = diff.path;
        m.change = diff.change;
      } else {
        m.detail += "; the manifest recorded by `mcp-jail pin` is not in " +
                    (state.empty() ? std::string("the state directory") : state + "/.pin-manifests") +
                    ", so the file that changed cannot be named";
      }
    } catch (const HashError& e) {
      m.actual = e.missing() ? "missing" : "unreadable";
      m.detail = e.what();
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::string state_dir(const Invocation& inv) {
  const std::string home = state_home(inv.load);
  return home.empty() ? "" : (home == "/" ? "" : home) + "/mcp-jail";
}

bool verify_before_launch(const Pins& pins, const Invocation& inv, Audit* audit) {
  if (pins.empty()) return true;
  const auto mismatches = verify(pins, state_dir(inv));
  malloc_trim(0);  // the supervisor stays small after hashing a large tree
  if (mismatches.empty()) return true;
  for (const auto& m : mismatches) {
    nlohmann::json ev = {{"path", m.path}, {"kind", m.kind}, {"expected", m.expected}, {"actual", m.actual}};
    if (!m.first_difference.empty()) {
      ev["first_difference"] = m.first_difference;
      ev["change"] = m.change;
    }
    if (!m.detail.empty()) ev["detail"] = m.detail;
    if (audit) audit->event("pin_mismatch", ev);
    const std::string where = m.loc.str();
    std::string msg;
    if (m.actual == "missing") {
      msg = (m.kind == "tree" ? "the pinned tree " : "") + m.path + " is missing (pinned at " + where + ")";
    } else if (m.actual == "unreadable") {
      msg = m.path + " cannot be checked (pinned at " + where + "): " + m.detail;
    } else if (m.kind == "file") {
      msg = m.path + " changed since it was pinned (" + where + "): sha256 " + m.actual + ", pinned " + m.expected;
    } else if (!m.first_difference.empty()) {
      msg = m.path + "/" + one_line(m.first_difference) + " was " + m.change + " in the pinned tree " + m.path + " (" +
            where + "; " + m.detail + "): tree sha256 " + m.actual + ", pinned " + m.expected;
    } else {
      msg = "the pinned tree " + m.path + " changed (" + where + "): tree sha256 " + m.actual + ", pinned " + m.expected +
            "; " + m.detail;
    }
    std::fprintf(stderr, "mcp-jail: pin: %s\n", msg.c_str());
  }
  std::fprintf(stderr,
               "mcp-jail: pin: the server's files are not the ones pinned; nothing was started. If this is an update "
               "you expect, review the change, then record the new pins: %s\n",
               pin_again(inv).c_str());
  return false;
}

// ---- `mcp-jail pin` ------------------------------------------------------------------------

int pin_command(const Invocation& inv, bool print) {
  const bool is_file = is_profile_path(inv.profile);
  if (!is_file && !print)
    throw LaunchError("pin", "'" + inv.profile +
                                 "' is a built-in profile, which cannot be written to. Create a profile file that "
                                 "extends it, for example ./my-server.toml holding the two lines `version = 1` and "
                                 "`extends = \"" + inv.profile +
                                 "\"`, and pin that: mcp-jail pin ./my-server.toml -- COMMAND... (or add --print to "
                                 "print the [pin] section on stdout without writing anything)");
  const auto t0 = std::chrono::steady_clock::now();
  const Profile profile = load_profile(inv.profile, inv.load);
  const Plan plan = make_plan(profile, inv);
  std::string target;
  if (is_file) {
    std::error_code ec;
    const std::string abs = inv.profile.starts_with("/") ? inv.profile : inv.load.pwd + "/" + inv.profile;
    target = std::filesystem::canonical(abs, ec).string();
    if (ec) throw LaunchError("pin", "cannot resolve the profile path " + abs + ": " + ec.message());
  }

  Pins pins;
  std::uint64_t hashed_files = 0, hashed_bytes = 0;
  auto add_file = [&](const std::string& p) {
    const auto d = hash_file(p);
    pins.files.push_back(PinFile{p, d.sha256, {}});
    ++hashed_files;
    hashed_bytes += d.size;
  };
  add_file(plan.script.empty() ? plan.exe : plan.script);
  std::string note;
  if (!plan.project.empty()) {
    for (const char* lock : kLockfiles) {
      const std::string p = plan.project + "/" + lock;
      struct stat st {};
      if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) add_file(p);
    }
    // A profile inside the tree is left out of it: writing the pins changes it.
    std::vector<std::string> exclude;
    if (!target.empty() && target != plan.project && path_is_under(target, plan.project))
      exclude.push_back(target.substr(plan.project.size() + (plan.project == "/" ? 0 : 1)));
    const auto d = hash_tree(plan.project, exclude);
    pins.trees.push_back(PinTree{plan.project, d.sha256, d.files, exclude, {}});
    hashed_files += d.files;
    hashed_bytes += d.bytes;
    std::string why;
    if (!store_manifest(state_dir(inv), d, &why))
      note = "; the tree's manifest was not kept (" + why + "), so a later mismatch cannot name the changed file";
  }
  std::string cmd;
  for (const auto& a : inv.command) cmd += (cmd.empty() ? "" : " ") + shell_quote(a);
  const std::string section = render_section(pins, "recorded by `mcp-jail pin` for: " + cmd);
  if (print) std::fputs(section.c_str(), stdout);
  else rewrite_profile(target, section, inv, pins);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "mcp-jail: pin: %zu file%s and %zu tree%s pinned (%llu files, %s hashed in %lld ms); %s%s\n",
               pins.files.size(), pins.files.size() == 1 ? "" : "s", pins.trees.size(), pins.trees.size() == 1 ? "" : "s",
               static_cast<unsigned long long>(hashed_files), megabytes(hashed_bytes).c_str(), static_cast<long long>(ms),
               print ? "[pin] printed on stdout, nothing written" : ("[pin] written to " + target).c_str(), note.c_str());
  return 0;
}

}  // namespace mcpjail::pin
