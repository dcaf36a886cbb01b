// The protected names that must not be created (mcpjail/protect.hpp): the
// refused paths with the identity of the directory each would be created in.
// The supervisor asks by path; the create helper (create_helper.cc) by the
// identity of the directory it holds open and creates in, race-free.
#include <sys/stat.h>

#include <algorithm>

#include "mcpjail/paths.hpp"
#include "mcpjail/protect.hpp"

namespace mcpjail::protect {

Guard::Guard(const Plan& plan) {
  for (const auto& p : plan.protect) {
    if (p.state == ProtectedPath::State::Anywhere) {
      anywhere_.push_back({p.root, std::string(anywhere_name(p.name)), p.parent_dev});
      continue;
    }
    if (!refused_at_launch(p)) continue;
    const auto slash = p.refuse.rfind('/');
    refuse_.push_back({p.refuse, p.parent_dev, p.parent_ino, p.refuse.substr(slash + 1)});
  }
}

std::string Guard::refuses_lexically(const std::string& lexical) const {
  if (lexical.empty()) return {};
  for (const auto& r : refuse_)
    if (path_is_under(lexical, r.path)) return r.path;
  const auto slash = lexical.rfind('/');
  const std::string_view last = slash == std::string::npos ? std::string_view(lexical) : std::string_view(lexical).substr(slash + 1);
  for (const auto& a : anywhere_)
    if (last == a.name && lexical != a.root && path_is_under(lexical, a.root)) return lexical;
  return {};
}

std::string Guard::refused_at(dev_t dev, ino_t ino, std::string_view name) const {
  for (const auto& r : refuse_)
    if (r.name == name && r.dev == dev && r.ino == ino) return r.path;
  // By filesystem: any directory of the write path (a read-only part of the
  // same filesystem refuses creation anyway; other filesystems, such as the
  // jail's tmpfs, are not concerned).
  for (const auto& a : anywhere_)
    if (a.name == name && a.dev == dev) return a.root + "/**/" + a.name;
  return {};
}

std::vector<std::string> appeared(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& p : plan.protect) {
    if (p.state != ProtectedPath::State::Absent || p.refuse_host.empty()) continue;
    struct stat st {};
    if (::lstat(p.refuse_host.c_str(), &st) == 0 && std::find(out.begin(), out.end(), p.refuse_host) == out.end())
      out.push_back(p.refuse_host);
  }
  return out;
}

}  // namespace mcpjail::protect
