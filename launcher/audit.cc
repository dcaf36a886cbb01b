#include "mcpjail/audit.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

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

void Audit::event(const std::string& type, nlohmann::json fields) {
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
