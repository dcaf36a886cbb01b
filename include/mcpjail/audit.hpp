// Audit log: JSON lines (one event per line) to stderr, a file, or nowhere.
// Never stdout: stdout belongs to the server.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "mcpjail/unique_fd.hpp"

namespace mcpjail {

// `bytes` random bytes as lowercase hex (launch ids, canary names).
std::string random_hex(std::size_t bytes);

class Audit {
 public:
  // `target`: "stderr", "none" or an absolute path (appended to, created 0600).
  // Throws LaunchError("audit", ...) when the file cannot be opened.
  Audit(const std::string& target, std::string profile);

  // Writes {"ts": ..., "event": type, "profile": ..., "launch": id, ...fields}.
  void event(const std::string& type, nlohmann::json fields = nlohmann::json::object());
  const std::string& launch_id() const { return launch_id_; }

 private:
  UniqueFd file_;
  int fd_ = -1;
  std::string profile_;
  std::string launch_id_;
};

}  // namespace mcpjail
