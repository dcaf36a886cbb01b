// Audit log: JSON lines (one event per line) to stderr, a file, or nowhere.
// Never stdout: stdout belongs to the server.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/unique_fd.hpp"

namespace mcpjail {

// `bytes` random bytes as lowercase hex (launch ids, canary names).
std::string random_hex(std::size_t bytes);

// Opens the audit log file `path` (absolute) for appending, or throws
// LaunchError("audit", ...) naming the fix:
//   - no component is a symbolic link (openat2 RESOLVE_NO_SYMLINKS): a link
//     a jail planted cannot redirect the log;
//   - O_NONBLOCK and then fstat: only a regular file is accepted, so a FIFO
//     (or a device) planted at the path neither blocks the launch nor
//     receives the events;
//   - the file is not inside any of `jail_writable` (canonical host paths a
//     jail can write), where the next server could replace it.
UniqueFd open_audit_log(const std::string& path, const std::vector<std::string>& jail_writable);

// `s` made safe to show on a terminal: C0 and C1 controls, DEL, the Unicode
// format and bidirectional controls (U+00AD, U+061C, U+180E, U+200B-U+200F,
// U+202A-U+202E, U+2060-U+206F, U+FEFF, U+FFF9-U+FFFB) and bytes that are
// not UTF-8 are written as \uXXXX or \xNN; a backslash as "\\".
std::string escape_for_terminal(std::string_view s);

// Launcher lines on stderr. The server inherits the same stderr and may have
// left a line unterminated; once server_shares_stderr() was called (when the
// jail is started) every line written here starts with "\n", so a launcher
// line always starts at the beginning of a line.
void server_shares_stderr();
void stderr_line(const std::string& line);  // `line` without its final "\n"

class Audit {
 public:
  // `target`: "stderr", "none" or an absolute path (appended to, created 0600).
  // A file is opened by open_audit_log(): `jail_writable` lists the host
  // trees some jail can write (jail_writable_trees() in trust.hpp).
  // Throws LaunchError("audit", ...) when the file cannot be opened.
  Audit(const std::string& target, std::string profile, const std::vector<std::string>& jail_writable = {});

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
  // The line ends with "[launch ID]": the id of this launch's events, which
  // the server cannot learn, so a line the server prints cannot pass for it.
  // Names from the jail are shown with escape_for_terminal().
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
