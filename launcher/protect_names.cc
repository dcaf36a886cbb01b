// The names of protected names (mcpjail/protect.hpp): what a profile may
// list, which apply, which the walk skips. Pure; used by the profile schema
// and the planner (launcher/plan/protect.cc).
#include <algorithm>
#include <iterator>

#include "mcpjail/protect.hpp"

namespace mcpjail {

namespace protect {

bool valid_name(std::string_view name, std::string* why) {
  auto no = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (name.empty()) return no("empty (write a path relative to the write path, such as \".envrc\")");
  if (name.front() == '/') return no("must be relative to the write path (no leading '/')");
  if (name.find('\0') != std::string_view::npos) return no("holds a NUL byte");
  if (name.starts_with("**/")) {
    const std::string_view rest = name.substr(3);
    if (rest.empty() || rest.find('/') != std::string_view::npos || rest == "." || rest == ".." || rest == "**")
      return no("\"**/\" must be followed by one name, as in \"**/.git\" (refused in every directory of the write path)");
    return true;
  }
  int n = 0;
  std::size_t i = 0;
  while (i <= name.size()) {
    const std::size_t slash = std::min(name.find('/', i), name.size());
    const std::string_view comp = name.substr(i, slash - i);
    if (comp.empty()) return no("has an empty component (\"//\" or a trailing '/')");
    if (comp == "." || comp == "..") return no("may not hold \".\" or \"..\"");
    if (comp == "**") return no("\"**\" only as the first component, as in \"**/.git\"");
    if (++n > 8) return no("has more than 8 components");
    i = slash + 1;
  }
  return true;
}

std::string_view anywhere_name(std::string_view listed) {
  return listed.starts_with("**/") ? listed.substr(3) : std::string_view{};
}

bool all_dropped(const std::vector<std::string>& unprotect) {
  return std::find(unprotect.begin(), unprotect.end(), "*") != unprotect.end();
}

std::vector<std::string> effective(const std::vector<std::string>& listed, const std::vector<std::string>& unprotect) {
  std::vector<std::string> out;
  if (all_dropped(unprotect)) return out;
  for (const auto& n : listed)
    if (std::find(unprotect.begin(), unprotect.end(), n) == unprotect.end() &&
        std::find(out.begin(), out.end(), n) == out.end())
      out.push_back(n);
  return out;
}

std::vector<std::string> git_dir_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names)
    if (n.starts_with(".git/")) out.push_back(n.substr(5));
  return out;
}

bool skip_in_walk(std::string_view name) {
  static const char* const skip[] = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox",
                                     ".cache", "target", ".gradle", ".m2", ".npm", ".cargo"};
  return std::find(std::begin(skip), std::end(skip), name) != std::end(skip);
}

const std::vector<std::string>& home_markers() {
  static const std::vector<std::string> m = {".bashrc", ".bash_profile", ".profile", ".zshrc", ".zshenv", ".zprofile",
                                             ".bash_login"};
  return m;
}

}  // namespace protect

}  // namespace mcpjail
