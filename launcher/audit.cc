#include "mcpjail/audit.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "mcpjail/errors.hpp"
#include "mcpjail/paths.hpp"

namespace mcpjail {

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (::getrandom(b.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    for (std::size_t i = 0; i < bytes; ++i) b[i] = static_cast<unsigned char>((t >> ((i % 8) * 8)) ^ ::getpid());
  }
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

namespace {
std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}
}  // namespace

namespace {

std::atomic<bool> g_server_shares_stderr{false};

// Writes all of `s` to `fd`; false on an error (the log is best effort once
// the server runs).
bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t w = ::write(fd, s.data() + off, s.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += static_cast<std::size_t>(w);
  }
  return true;
}

// The code point of the UTF-8 sequence at s[i] and its length; length 0 when
// the bytes are not UTF-8 (overlong forms and surrogates included).
std::pair<char32_t, std::size_t> utf8_at(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t len;
  char32_t cp, min;
  if (c < 0x80) return {c, 1};
  if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
  else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
  else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
  else return {0, 0};
  if (i + len > s.size()) return {0, 0};
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return {0, 0};
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {0, 0};
  return {cp, len};
}

bool invisible(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xad || cp == 0x61c || cp == 0x180e ||
         (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) ||
         cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
}

}  // namespace

std::string escape_for_terminal(std::string_view s) {
  std::string out;
  char buf[16];
  for (std::size_t i = 0; i < s.size();) {
    const auto [cp, len] = utf8_at(s, i);
    if (len == 0) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
      ++i;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else if (invisible(cp)) {
      std::snprintf(buf, sizeof buf, cp > 0xffff ? "\\U%08x" : "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

void server_shares_stderr() { g_server_shares_stderr = true; }

void stderr_line(const std::string& line) {
  (void)write_all(STDERR_FILENO, (g_server_shares_stderr ? "\n" : "") + line + "\n");
}

UniqueFd open_audit_log(const std::string& path, const std::vector<std::string>& jail_writable) {
  const std::string fix = "; fix the path in [audit] log or --audit-log";
  std::string why;
  const auto norm = normalize_absolute(path, &why);
  if (!norm) throw LaunchError("audit", "the audit log path \"" + path + "\" " + why + fix);
  const std::string& p = *norm;
  for (const auto& t : jail_writable) {
    if (path_is_under(p, t))
      throw LaunchError("audit", "the audit log " + p + " is inside " + t +
                                     ", which a jail can write (it could replace the log with a link or a FIFO, or "
                                     "rewrite it); put the log outside every write path and state directory" + fix);
  }
  // Every component without following a link; relative to "/" so that
  // RESOLVE_BENEATH does not matter.
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw LaunchError("audit", errno_text("open /", errno));
  open_how how{};
  how.flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  how.mode = 0600;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const std::string rel = p.size() > 1 ? p.substr(1) : p;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof how)));
  if (!fd) {
    const int e = errno;
    if (e == ELOOP)
      throw LaunchError("audit", "the audit log path " + p +
                                     " goes through a symbolic link, which is not followed (one planted by a jail "
                                     "would redirect the log); give the real path (realpath " + p + ")" + fix);
    if (e == ENXIO)
      throw LaunchError("audit", "the audit log " + p + " is a FIFO or socket, not a regular file" + fix);
    throw LaunchError("audit", errno_text("cannot open the audit log " + p, e) + fix);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw LaunchError("audit", errno_text("fstat of the audit log " + p, errno));
  if (!S_ISREG(st.st_mode))
    throw LaunchError("audit", "the audit log " + p + " is not a regular file (a FIFO, device or socket is refused)" + fix);
  const int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) (void)::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

Audit::Audit(const std::string& target, std::string profile, const std::vector<std::string>& jail_writable)
    : profile_(std::move(profile)), launch_id_(random_hex(8)) {
  if (target == "stderr") {
    fd_ = STDERR_FILENO;
  } else if (target != "none") {
    file_ = open_audit_log(target, jail_writable);
    fd_ = file_.get();
  }
}

void Audit::count(const std::string& type, const nlohmann::json& fields) {
  auto str = [&](const char* key) {
    auto it = fields.find(key);
    return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto flag = [&](const char* key) {
    auto it = fields.find(key);
    return it != fields.end() && it->is_boolean() && it->get<bool>();
  };
  Category c;
  std::string item;
  if (type == "deny") {
    c = flag("allowed") ? kLogged : kSyscalls;
    item = str("syscall");
  } else if (type == "fs_denied") {
    c = kWrites;
    item = str("path");
  } else if (type == "exec") {
    if (flag("allowed")) return;
    c = kExecs;
    item = str("path");
  } else if (type == "net_block") {
    c = kConnections;
    item = str("address");
    if (auto it = fields.find("port"); it != fields.end() && it->is_number()) {
      if (item.find(':') != std::string::npos) item = "[" + item + "]";
      item += ":" + std::to_string(it->get<long>());
    }
  } else if (type == "dns_refused") {
    c = kNames;
    item = str("name");
  } else if (type == "limit") {
    c = kLimits;
    item = str("which");
  } else {
    return;
  }
  constexpr std::size_t kItems = 3, kItemChars = 80;
  // Paths and names come from the jail: no control, bidi or invisible
  // character reaches the terminal raw.
  item = escape_for_terminal(item);
  if (item.size() > kItemChars) {
    std::size_t cut = kItemChars - 3;
    while (cut > 0 && (static_cast<unsigned char>(item[cut]) & 0xc0) == 0x80) --cut;  // whole characters
    item = item.substr(0, cut) + "...";
  }
  Tally& t = tally_[c];
  ++t.count;
  if (item.empty() || std::find(t.items.begin(), t.items.end(), item) != t.items.end()) return;
  if (t.items.size() < kItems) t.items.push_back(item);
  else t.more = true;
}

std::string Audit::summary() const {
  static const char* const kNoun[kCategories][2] = {
      {"syscall", "syscalls"}, {"syscall", "syscalls"}, {"write", "writes"},           {"exec", "execs"},
      {"connection", "connections"}, {"DNS query", "DNS queries"},  {"limit reached", "limits reached"}};
  auto part = [&](Category c) {
    const Tally& t = tally_[c];
    std::string s = std::to_string(t.count) + " " + kNoun[c][t.count == 1 ? 0 : 1];
    if (!t.items.empty()) {
      s += " (";
      for (std::size_t i = 0; i < t.items.size(); ++i) s += (i ? ", " : "") + t.items[i];
      s += t.more ? ", ...)" : ")";
    }
    return s;
  };
  std::string blocked;
  for (Category c : {kSyscalls, kWrites, kExecs, kConnections, kNames, kLimits})
    if (tally_[c].count) blocked += (blocked.empty() ? "" : ", ") + part(c);
  std::string line;
  if (!blocked.empty()) line = "blocked " + blocked;
  if (tally_[kLogged].count)
    line += (line.empty() ? "" : "; ") + std::string("let through by seccomp action \"log\": ") + part(kLogged);
  if (line.empty()) return line;
  return "mcp-jail: " + escape_for_terminal(profile_) + ": " + line + " [launch " + launch_id_ + "]";
}

void Audit::hold_back(const std::string& type, const nlohmann::json& fields) {
  count(type, fields);
  ++held_back_[type];
}

void Audit::event(const std::string& type, nlohmann::json fields) {
  count(type, fields);
  if (type == "exit") {
    nlohmann::json held = nlohmann::json::object();
    for (const auto& [k, n] : held_back_) held[k] = n;
    fields["held_back"] = std::move(held);
  }
  if (fd_ < 0) return;
  nlohmann::json j = {{"ts", timestamp()}, {"event", type}, {"profile", profile_}, {"launch", launch_id_}};
  for (auto& [k, v] : fields.items()) j[k] = v;
  // ensure_ascii: every character outside ASCII, bidi controls included, is
  // written as \uXXXX (control characters always are).
  std::string line = j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (fd_ == STDERR_FILENO) {
    stderr_line(line);
    return;
  }
  (void)write_all(fd_, line + "\n");
}

}  // namespace mcpjail
