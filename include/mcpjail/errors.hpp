// Error types. Every failure of mcp-jail itself ends the launch with a message
// that names the layer, the cause and the fix, and exit status 125.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace mcpjail {

// Exit statuses of `run` (as env(1), timeout(1) and podman use them).
inline constexpr int kExitLauncherError = 125;
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;

// A position in a profile file (1-based line and column).
struct SourceLoc {
  std::string file;
  unsigned line = 0;
  unsigned column = 0;
  std::string str() const;  // "file:line:column", or "file" when unknown
};

struct Diagnostic {
  SourceLoc loc;
  std::string message;
};

// A profile that cannot be loaded. Holds every problem found, in file order.
class ProfileError : public std::runtime_error {
 public:
  explicit ProfileError(std::vector<Diagnostic> diags);
  ProfileError(SourceLoc loc, const std::string& message);
  const std::vector<Diagnostic>& diagnostics() const { return diags_; }

 private:
  std::vector<Diagnostic> diags_;
};

// A layer of the jail that cannot be planned or applied.
class LaunchError : public std::runtime_error {
 public:
  LaunchError(std::string layer, const std::string& message, int exit_code = kExitLauncherError)
      : std::runtime_error(message), layer_(std::move(layer)), exit_code_(exit_code) {}
  const std::string& layer() const { return layer_; }
  int exit_code() const { return exit_code_; }

 private:
  std::string layer_;
  int exit_code_;
};

// "what: strerror(errno)" for syscall failures.
std::string errno_text(const std::string& what, int err);

}  // namespace mcpjail
