// `mcp-jail wrap CONFIG.json`: reads the host configuration, rewrites it
// (wrap_config), reports each server, and replaces the file (a backup first)
// or prints the diff (--dry-run).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "mcpjail/errors.hpp"
#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/user_file.hpp"
#include "mcpjail/frontends/wrap.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail {

namespace {

int wrap_fail(const std::string& msg) {
  std::fprintf(stderr, "mcp-jail: wrap: %s\nmcp-jail: wrap: nothing was changed\n", msg.c_str());
  return kExitLauncherError;
}

const char* action_text(WrapAction a) {
  switch (a) {
    case WrapAction::Wrapped: return "wrapped";
    case WrapAction::AlreadyWrapped: return "left as is";
    case WrapAction::NotStdio: return "left as is";
    case WrapAction::Skipped: return "NOT wrapped";
  }
  return "";
}

void report(const ServerReport& s) {
  std::string line = "  " + s.section + "." + s.name + ": " + action_text(s.action);
  if (s.action == WrapAction::Wrapped) {
    line += ", profile " + s.profile;
    for (const auto& a : s.jail_args) line += " " + a;
  }
  if (s.action != WrapAction::Wrapped && !s.note.empty()) line += ": " + s.note;
  if (s.action == WrapAction::Wrapped && !s.note.empty()) {
    std::size_t from = 0;
    for (std::size_t nl; (nl = s.note.find('\n', from)) != std::string::npos; from = nl + 1)
      line += "\n      note: " + s.note.substr(from, nl - from);
    line += "\n      note: " + s.note.substr(from);
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace

int wrap_command(const cli::Arguments& args) {
  const std::string& config = args.operand;
  std::string profile = args.value("profile");
  if (args.has("profile") && profile.empty()) throw cli::UsageError("--profile needs a NAME");
  const bool dry_run = args.has("dry-run");

  WrapOptions opts;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof self - 1))
    return wrap_fail(errno_text("cannot find this program's path (/proc/self/exe)", errno));
  opts.jail_path.assign(self, static_cast<std::size_t>(n));
  if (const char* h = std::getenv("HOME")) opts.home = h;
  if (!profile.empty() && is_profile_path(profile)) {  // the host starts mcp-jail elsewhere: make it absolute
    std::error_code ec;
    profile = std::filesystem::absolute(profile, ec).lexically_normal().string();
  }
  opts.profile = profile;

  UserFile file;  // through a symlink: the target is what gets rewritten
  try {
    file = read_user_file(config, kMaxConfigBytes);
  } catch (const UserFileError& e) {
    return wrap_fail(e.what());
  }

  WrapResult res;
  try {
    res = wrap_config(file.text, opts);
  } catch (const WrapError& e) {
    std::string where = config;
    if (e.line()) where += ":" + std::to_string(e.line()) + ":" + std::to_string(e.column());
    return wrap_fail(where + ": error: " + e.what());
  }
  for (const auto& s : res.servers) report(s);

  if (dry_run) {
    std::fputs(unified_diff(file.text, res.text, config, config).c_str(), stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "mcp-jail: wrap: dry run: %s\n", res.changed ? "nothing was written" : "nothing to change");
    return 0;
  }
  if (!res.changed) {
    std::fprintf(stderr, "mcp-jail: wrap: nothing to change in %s\n", config.c_str());
    return 0;
  }
  std::string backup;
  try {
    backup = replace_user_file(file, res.text, {.backup = true});
  } catch (const UserFileError& e) {
    return wrap_fail(e.what());
  }
  std::fprintf(stderr, "mcp-jail: wrap: wrote %s (backup: %s)\n", config.c_str(), backup.c_str());
  return 0;
}

}  // namespace mcpjail
