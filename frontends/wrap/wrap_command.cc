// `mcp-jail wrap CONFIG.json` and `mcp-jail unwrap CONFIG.json`: read the
// host configuration, rewrite it (wrap_config, unwrap_config), report each
// server, and replace the file (a backup first) or print the diff (--dry-run).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "mcpjail/errors.hpp"
#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/user_file.hpp"
#include "mcpjail/frontends/wrap.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail {

namespace {

int fail(const char* cmd, const std::string& msg) {
  std::fprintf(stderr, "mcp-jail: %s: %s\nmcp-jail: %s: nothing was changed\n", cmd, msg.c_str(), cmd);
  return kExitLauncherError;
}

int wrap_fail(const std::string& msg) { return fail("wrap", msg); }

// A file's text, "" when it cannot be read (for a dry run's diff).
std::string slurp_or_empty(const std::string& path) {
  try {
    return read_user_file(path, kMaxConfigBytes).text;
  } catch (const UserFileError&) {
    return {};
  }
}

std::string located(const std::string& config, const WrapError& e) {
  std::string where = config;
  if (e.line()) where += ":" + std::to_string(e.line()) + ":" + std::to_string(e.column());
  return where + ": error: " + e.what();
}

// Prints the diff (dry run) or replaces the file with a backup first.
int write_result(const char* cmd, const UserFile& file, const std::string& config, const std::string& text, bool changed,
                 bool dry_run) {
  if (dry_run) {
    std::fputs(unified_diff(file.text, text, config, config).c_str(), stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "mcp-jail: %s: dry run: %s\n", cmd, changed ? "nothing was written" : "nothing to change");
    return 0;
  }
  if (!changed) {
    std::fprintf(stderr, "mcp-jail: %s: nothing to change in %s\n", cmd, config.c_str());
    return 0;
  }
  std::string backup;
  try {
    backup = replace_user_file(file, text, {.backup = true});
  } catch (const UserFileError& e) {
    return fail(cmd, e.what());
  }
  std::fprintf(stderr, "mcp-jail: %s: wrote %s (backup: %s)\n", cmd, config.c_str(), backup.c_str());
  return 0;
}

// The backups beside `real` (REAL.mcp-jail.bak, REAL.mcp-jail.STAMP.bak),
// newest first; unreadable ones are left out.
std::vector<std::string> backups_of(const std::string& real) {
  const auto slash = real.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : real.substr(0, slash));
  const std::string prefix = real.substr(slash == std::string::npos ? 0 : slash + 1) + ".mcp-jail.";
  std::vector<std::pair<timespec, std::string>> found;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* ent = ::readdir(d)) {
      const std::string name = ent->d_name;
      if (!name.starts_with(prefix) || !name.ends_with(".bak")) continue;
      struct stat st {};
      const std::string path = dir + "/" + name;
      if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) found.emplace_back(st.st_mtim, path);
    }
    ::closedir(d);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first.tv_sec != b.first.tv_sec ? a.first.tv_sec > b.first.tv_sec : a.first.tv_nsec > b.first.tv_nsec;
  });
  std::vector<std::string> texts;
  for (const auto& [when, path] : found) {
    if (texts.size() == 20) break;  // the newest are the ones that matter
    try {
      texts.push_back(read_user_file(path, kMaxConfigBytes).text);
    } catch (const UserFileError&) {
    }
  }
  return texts;
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
  const bool dry_run = args.has("dry-run");
  // --profile NAME (once) for every server, --profile SERVER=NAME for one. A
  // profile file's path holds a "/" or ends in .toml, and no built-in name
  // holds "=": what stands before an "=" without a "/" is a server's name.
  std::string profile;
  std::map<std::string, std::string> server_profiles;
  for (const auto& v : args.values("profile")) {
    const auto eq = v.find('=');
    if (eq != std::string::npos && v.substr(0, eq).find('/') == std::string::npos) {
      if (eq == 0 || eq + 1 == v.size()) throw cli::UsageError("--profile " + v + ": give SERVER=NAME");
      if (!server_profiles.emplace(v.substr(0, eq), v.substr(eq + 1)).second)
        throw cli::UsageError("--profile names a profile for " + v.substr(0, eq) + " twice");
      continue;
    }
    if (v.empty()) throw cli::UsageError("--profile needs a NAME");
    if (!profile.empty()) throw cli::UsageError("--profile NAME given twice (" + profile + ", " + v + ")");
    profile = v;
  }

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
  for (auto& [server, p] : server_profiles) {
    if (is_profile_path(p)) {
      std::error_code ec;
      p = std::filesystem::absolute(p, ec).lexically_normal().string();
    }
  }
  opts.server_profiles = std::move(server_profiles);

  UserFile file;  // through a symlink: the target is what gets rewritten
  try {
    file = read_user_file(config, kMaxConfigBytes);
  } catch (const UserFileError& e) {
    return wrap_fail(e.what());
  }

  // A relative "envFile" is the configuration's neighbour.
  opts.env_file_dir = std::filesystem::path(file.real).parent_path().string();
  // Profiles wrap writes go beside the configuration, or below the user's
  // configuration directory.
  opts.config_path = file.real;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && x[0] == '/') opts.config_home = x;
  else if (opts.home.starts_with("/")) opts.config_home = (opts.home == "/" ? "" : opts.home) + "/.config";
  WrapResult res;
  try {
    res = wrap_config(file.text, opts);
  } catch (const WrapError& e) {
    return wrap_fail(located(config, e));
  }
  for (const auto& s : res.servers) report(s);
  // A dry run: the configuration's diff, then each profile's.
  if (dry_run) {
    const int status = write_result("wrap", file, config, res.text, res.changed, dry_run);
    for (const auto& g : res.profiles) {
      using State = GeneratedProfile::State;
      if (g.state == State::Unchanged || g.state == State::Kept) continue;
      std::fputs(unified_diff(g.state == State::New ? "" : slurp_or_empty(g.path), g.text,
                              g.state == State::New ? "/dev/null" : g.path, g.path)
                     .c_str(),
                 stdout);
    }
    return status;
  }
  // The profiles first: the configuration names them.
  for (const auto& g : res.profiles) {
    using State = GeneratedProfile::State;
    if (g.state == State::Unchanged || g.state == State::Kept) continue;
    try {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(g.path).parent_path(), ec);
      if (ec) throw UserFileError("cannot create " + std::filesystem::path(g.path).parent_path().string() + ": " + ec.message());
      write_file_atomically(g.path, g.text, 0644);
    } catch (const UserFileError& e) {
      return wrap_fail(e.what());
    }
    std::fprintf(stderr, "mcp-jail: wrap: wrote %s (the profile of %s)\n", g.path.c_str(), g.server.c_str());
  }
  return write_result("wrap", file, config, res.text, res.changed, dry_run);
}

int unwrap_command(const cli::Arguments& args) {
  const std::string& config = args.operand;
  UserFile file;
  try {
    file = read_user_file(config, kMaxConfigBytes);
  } catch (const UserFileError& e) {
    return fail("unwrap", e.what());
  }
  UnwrapResult res;
  try {
    res = unwrap_config(file.text, backups_of(file.real));
  } catch (const WrapError& e) {
    return fail("unwrap", located(config, e));
  }
  for (const auto& s : res.servers) {
    std::string line = "  " + s.section + "." + s.name + ": ";
    line += s.action == UnwrapAction::Restored ? "unwrapped" : "left as is (not wrapped)";
    if (!s.note.empty()) line += ": " + s.note;
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return write_result("unwrap", file, config, res.text, res.changed, args.has("dry-run"));
}

}  // namespace mcpjail
