// Pinning, the check before a launch: every pin of the plan is hashed again;
// a mismatch is reported (with the first file that differs in a tree, when
// the manifest `mcp-jail pin` kept is at hand) and stops the launch.
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>

#include "mcpjail/audit.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/pin.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/text.hpp"
#include "mcpjail/state.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::pin {

// Manifests live in <state home>/mcp-jail/.pin-manifests: a profile name
// cannot start with ".", so no ${PROFILE_STATE} (<state home>/mcp-jail/<name>,
// writable by its jail) can be this directory.
std::string manifest_path(const std::string& state, const std::string& sha) { return state + "/.pin-manifests/" + sha; }

std::optional<std::string> load_manifest(const std::string& state, const std::string& sha) {
  if (state.empty()) return std::nullopt;
  UniqueFd fd(::open(manifest_path(state, sha).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > kMaxManifestBytes)
    return std::nullopt;
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxManifestBytes) return std::nullopt;
  }
  if (sha256_hex(text) != sha) return std::nullopt;
  return text;
}

namespace {

// The `mcp-jail pin` command that records the pins again.
std::string pin_again(const Invocation& inv) {
  std::vector<std::string> words = {"mcp-jail", "pin", inv.profile};
  for (const auto& [k, v] : inv.load.vars) {
    words.push_back("--var");
    words.push_back(k + "=" + v);
  }
  words.push_back("--");
  if (inv.command.empty()) return shell_join(words) + " COMMAND [ARG]...";
  words.insert(words.end(), inv.command.begin(), inv.command.end());
  return shell_join(words);
}

}  // namespace

std::vector<Mismatch> verify(const Pins& pins, const std::string& state) {
  std::vector<Mismatch> out;
  for (const auto& f : pins.files) {
    Mismatch m{"file", f.path, f.sha256};
    m.loc = f.loc;
    try {
      const auto d = hash_file(f.path);
      if (d.sha256 == f.sha256) continue;
      m.actual = d.sha256;
    } catch (const HashError& e) {
      m.actual = e.missing() ? "missing" : "unreadable";
      m.detail = e.what();
    }
    out.push_back(std::move(m));
  }
  for (const auto& t : pins.trees) {
    Mismatch m{"tree", t.path, t.sha256};
    m.loc = t.loc;
    try {
      const auto d = hash_tree(t.path, t.exclude);
      if (d.sha256 == t.sha256) continue;
      m.actual = d.sha256;
      m.detail = (t.files ? std::to_string(*t.files) + " files when pinned, " : std::string()) + std::to_string(d.files) +
                 " now";
      if (auto pinned = load_manifest(state, t.sha256)) {
        const auto diff = first_difference(*pinned, d.manifest);
        m.first_difference = diff.path;
        m.change = diff.change;
      } else {
        m.detail += "; the manifest recorded by `mcp-jail pin` is not in " +
                    (state.empty() ? std::string("the state directory") : state + "/.pin-manifests") +
                    ", so the file that changed cannot be named";
      }
    } catch (const HashError& e) {
      m.actual = e.missing() ? "missing" : "unreadable";
      m.detail = e.what();
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::string state_dir(const Invocation& inv) {
  const std::string home = state_home(inv.load);
  return home.empty() ? "" : (home == "/" ? "" : home) + "/mcp-jail";
}

bool verify_before_launch(const Pins& pins, const Invocation& inv, Audit* audit) {
  if (pins.empty()) return true;
  const auto mismatches = verify(pins, state_dir(inv));
  malloc_trim(0);  // the supervisor stays small after hashing a large tree
  if (mismatches.empty()) return true;
  for (const auto& m : mismatches) {
    nlohmann::json ev = {{"path", m.path}, {"kind", m.kind}, {"expected", m.expected}, {"actual", m.actual}};
    if (!m.first_difference.empty()) {
      ev["first_difference"] = m.first_difference;
      ev["change"] = m.change;
    }
    if (!m.detail.empty()) ev["detail"] = m.detail;
    if (audit) audit->event("pin_mismatch", ev);
    const std::string where = m.loc.str();
    std::string msg;
    if (m.actual == "missing") {
      msg = (m.kind == "tree" ? "the pinned tree " : "") + m.path + " is missing (pinned at " + where + ")";
    } else if (m.actual == "unreadable") {
      msg = m.path + " cannot be checked (pinned at " + where + "): " + m.detail;
    } else if (m.kind == "file") {
      msg = m.path + " changed since it was pinned (" + where + "): sha256 " + m.actual + ", pinned " + m.expected;
    } else if (!m.first_difference.empty()) {
      msg = m.path + "/" + one_line(m.first_difference) + " was " + m.change + " in the pinned tree " + m.path + " (" +
            where + "; " + m.detail + "): tree sha256 " + m.actual + ", pinned " + m.expected;
    } else {
      msg = "the pinned tree " + m.path + " changed (" + where + "): tree sha256 " + m.actual + ", pinned " + m.expected +
            "; " + m.detail;
    }
    std::fprintf(stderr, "mcp-jail: pin: %s\n", msg.c_str());
  }
  std::fprintf(stderr,
               "mcp-jail: pin: the server's files are not the ones pinned; nothing was started. If this is an update "
               "you expect, review the change, then record the new pins: %s\n",
               pin_again(inv).c_str());
  return false;
}

}  // namespace mcpjail::pin
