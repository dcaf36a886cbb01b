// Reading and writing the files of cgroupfs and /proc, for launcher/cgroup/.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <sstream>

#include "mcpjail/cgroup_internal.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::limits::detail {

std::vector<std::string> words(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep || c == '\n' || (sep == ' ' && c == '\t')) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

int write_text(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n;
  while ((n = ::write(fd.get(), value.data(), value.size())) < 0 && errno == EINTR) {
  }
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(value.size()) ? 0 : EIO;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::optional<std::uint64_t> key_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  std::uint64_t v;
  while (in >> k) {
    if (!(in >> v)) return std::nullopt;
    if (k == key) return v;
  }
  return std::nullopt;
}

void sleep_for(std::chrono::milliseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>((d.count() % 1000) * 1000000)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::string parent_of(const std::string& dir) {
  auto p = dir.rfind('/');
  return p == 0 ? "/" : dir.substr(0, p);
}

}  // namespace mcpjail::limits::detail
