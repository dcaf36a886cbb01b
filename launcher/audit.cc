#include "mcpjail/audit.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "mcpjail/errors.hpp"

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

Audit::Audit(const std::string& target, std::string profile) : profile_(std::move(profile)), launch_id_(random_hex(8)) {
  if (target == "stderr") {
    fd_ = STDERR_FILENO;
  } else if (target != "none") {
    file_.reset(::open(target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!file_) throw LaunchError("audit", errno_text("cannot open the audit log " + target, errno) +
                                               "; fix the path in [audit] log or --audit-log");
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
  // Paths and names come from the jail: no control byte reaches the terminal.
  for (char& ch : item)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  if (item.size() > kItemChars) item = item.substr(0, kItemChars - 3) + "...";
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
  return "mcp-jail: " + profile_ + ": " + line;
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
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t w = ::write(fd_, line.data() + off, line.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the log is best effort once the server runs
    off += static_cast<std::size_t>(w);
  }
}

}  // namespace mcpjail
