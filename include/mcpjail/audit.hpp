// Audit log: JSON lines (one event per line) to stderr, a file, or nowhere.
// Never stdout: stdout belongs to the server.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mcpjail/unique_fd.hpp"

namespace mcpjail {

// `bytes` random bytes as lowercase hex (launch ids, canary names).
std::string random_hex(std::size_t bytes);

class Audit {
 public:
  // `target`: "stderr", "none" or an absolute path (appended to, created 0600).
  // Throws LaunchError("audit", ...) when the file cannot be opened.
  Audit(const std::string& target, std::string profile);

  // Writes {"ts": ..., "event": type, "profile": ..., "launch": id, ...fields}
  // and counts it for summary().
  void event(const std::string& type, nlohmann::json fields = nlohmann::json::object());
  // Counts an event for summary() without writing it (rate-limited events).
  void count(const std::string& type, const nlohmann::json& fields);
  // An event a rate limit held back: counted for summary(), and per type
  // for the `exit` event, whose "held_back" field ({"fs_denied": 12, ...},
  // {} when none) says how many events of each kind were not written. So no
  // event is lost without a count, including those held back just before
  // the end that no later event of their kind reports as "suppressed".
  void hold_back(const std::string& type, const nlohmann::json& fields);
  const std::string& launch_id() const { return launch_id_; }

  // One line for a person, when something was blocked (deny, fs_denied, an
  // exec outside the allowed set, net_block, dns_refused, limit), else "":
  //   mcp-jail: PROFILE: blocked 2 syscalls (unshare, ptrace), 1 write (/etc/cron.d/x),
  //   1 exec (/bin/sh), 4 connections (198.18.1.66:8080), 2 DNS queries (c2.test)
  // Counts are attempts, rate-limited ones included; the first few distinct
  // items are named. Written whatever the audit target, "none" included.
  std::string summary() const;

 private:
  struct Tally {
    std::uint64_t count = 0;
    std::vector<std::string> items;  // the first distinct ones
    bool more = false;               // more distinct items than kept
  };
  enum Category { kSyscalls, kLogged, kWrites, kExecs, kConnections, kNames, kLimits, kCategories };

  UniqueFd file_;
  int fd_ = -1;
  std::string profile_;
  std::string launch_id_;
  Tally tally_[kCategories];
  std::map<std::string, std::uint64_t> held_back_;  // type -> events not written (hold_back)
};

}  // namespace mcpjail
