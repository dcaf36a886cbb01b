// A scratch tree of real files for tests (removed afterwards), and the
// invocation of the user running the tests from inside it.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <system_error>
#include <vector>

#include "mcpjail/plan.hpp"

namespace support {

class ScratchDir {
 public:
  // /tmp/mcpjail-PREFIX-XXXXXX, its real path (no symlink on the way)
  explicit ScratchDir(const std::string& prefix) {
    std::string tmpl = "/tmp/mcpjail-" + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::filesystem::filesystem_error("mkdtemp", std::error_code(errno, std::generic_category()));
    d = std::filesystem::canonical(tmpl);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // The absolute path of `rel` in the tree (of the tree itself when empty).
  std::string p(const std::string& rel = "") const { return rel.empty() ? d.string() : (d / rel).string(); }
  void dir(const std::string& rel) const { std::filesystem::create_directories(d / rel); }
  void dirs(std::initializer_list<std::string> rels) const {
    for (const auto& rel : rels) dir(rel);
  }
  // A symbolic link at `rel` to `target`.
  void link(const std::string& rel, const std::string& target) const { std::filesystem::create_symlink(target, d / rel); }
  // Writes a file (its directories made first) with `mode`; returns its path.
  std::string write(const std::string& rel, const std::string& text, unsigned mode = 0755) const {
    std::filesystem::create_directories((d / rel).parent_path());
    std::ofstream(d / rel) << text;
    ::chmod(p(rel).c_str(), mode);
    return p(rel);
  }

  std::filesystem::path d;
};

// The test process's own ids, HOME and working directory as given; the rest
// (environment, command, variables) is the caller's.
inline mcpjail::Invocation invocation_as_me(const std::string& home, const std::string& pwd) {
  mcpjail::Invocation i;
  i.uid = ::getuid();
  i.euid = ::geteuid();
  i.gid = ::getgid();
  i.load.home = home;
  i.load.pwd = pwd;
  return i;
}

}  // namespace support
