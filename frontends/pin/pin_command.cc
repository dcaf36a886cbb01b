// `mcp-jail pin`: plans the server's command as `run` would, hashes its entry
// point, its lockfiles and its project tree, and writes the pins into the
// profile's [pin] section (or prints the section).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/pin.hpp"
#include "mcpjail/frontends/user_file.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/text.hpp"

namespace mcpjail::pin {

namespace {

constexpr const char* kLockfiles[] = {"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
                                      "poetry.lock",       "uv.lock",             "Pipfile.lock"};

// Keeps a tree's manifest, named by its sha256, so that a later mismatch can
// name the first file that differs (load_manifest). Content-addressed: a
// planted file with another content is ignored when read back. Best effort.
bool store_manifest(const std::string& state, const TreeDigest& d, std::string* why) {
  namespace fs = std::filesystem;
  if (state.empty()) return *why = "no state directory (HOME unset)", false;
  const fs::path dir = fs::path(state) / ".pin-manifests";
  std::error_code ec;
  const fs::path base = fs::path(state).parent_path();
  struct stat st {};
  // root launched with another user's HOME: do not litter that home with root's files
  for (fs::path p = base; !p.empty(); p = p.parent_path()) {
    if (::stat(p.c_str(), &st) == 0) {
      if (st.st_uid != ::geteuid()) return *why = p.string() + " belongs to another user", false;
      break;
    }
    if (p == p.root_path()) break;
  }
  fs::create_directories(base, ec);
  for (const fs::path& p : {fs::path(state), dir})
    if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) return *why = errno_text("mkdir " + p.string(), errno), false;
  const std::string target = manifest_path(state, d.sha256);
  if (::access(target.c_str(), F_OK) == 0) return true;
  try {
    write_file_atomically(target, d.manifest, 0600);
  } catch (const UserFileError& e) {
    return *why = e.what(), false;
  }
  return true;
}

std::string megabytes(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// Replaces the [pin] section of the profile file `path` (canonical). The new
// text must load, with exactly the pins just recorded, before it replaces the
// file (replace_user_file: mode and owner kept, refused when the file changed
// meanwhile). No backup: the profile may lie in the tree just pinned, and a
// backup beside it would change that tree; the old pins are in the file's
// history, and the new text differs from the old only in [pin].
void rewrite_profile(const std::string& path, const std::string& section, const Invocation& inv, const Pins& pins) {
  UserFile file;
  try {
    file = read_user_file(path, kMaxProfileBytes);
  } catch (const UserFileError& e) {
    throw LaunchError("pin", e.what());
  }
  const std::string updated = replace_section(file.text, section);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  try {
    const Profile p = load_profile_text(updated, path, dir, inv.load);
    for (const auto& f : pins.files)
      if (std::none_of(p.pin.files.begin(), p.pin.files.end(),
                       [&](const PinFile& g) { return g.path == f.path && g.sha256 == f.sha256; }))
        throw ProfileError(SourceLoc{path}, "the pin of " + f.path + " does not read back");
    for (const auto& t : pins.trees)
      if (std::none_of(p.pin.trees.begin(), p.pin.trees.end(),
                       [&](const PinTree& g) { return g.path == t.path && g.sha256 == t.sha256; }))
        throw ProfileError(SourceLoc{path}, "the pin of the tree " + t.path + " does not read back");
  } catch (const ProfileError& e) {
    throw LaunchError("pin", "the profile with its new [pin] section would not load, so nothing was written:\n" +
                                 std::string(e.what()) +
                                 "\nPins written outside a [pin] table (pin.files = ... at the top, or pin = { ... }) "
                                 "cannot be replaced in place: move them into a [pin] table, or delete them, and pin again");
  }
  if (updated == file.text) return;
  try {
    replace_user_file(file, updated);
  } catch (const UserFileError& e) {
    throw LaunchError("pin", e.what());
  }
}

}  // namespace

int pin_command(const cli::Arguments& args) {
  const Invocation inv = cli::invocation(args);
  const bool print = args.has("print");
  const bool is_file = is_profile_path(inv.profile);
  if (!is_file && !print)
    throw LaunchError("pin", "'" + inv.profile +
                                 "' is a built-in profile, which cannot be written to. Create a profile file that "
                                 "extends it, for example ./my-server.toml holding the two lines `version = 1` and "
                                 "`extends = \"" + inv.profile +
                                 "\"`, and pin that: mcp-jail pin ./my-server.toml -- COMMAND... (or add --print to "
                                 "print the [pin] section on stdout without writing anything)");
  const auto t0 = std::chrono::steady_clock::now();
  const Profile profile = load_profile(inv.profile, inv.load);
  const Plan plan = make_plan(profile, inv);
  std::string target;
  if (is_file) {
    std::error_code ec;
    const std::string abs = inv.profile.starts_with("/") ? inv.profile : inv.load.pwd + "/" + inv.profile;
    target = std::filesystem::canonical(abs, ec).string();
    if (ec) throw LaunchError("pin", "cannot resolve the profile path " + abs + ": " + ec.message());
  }

  Pins pins;
  std::uint64_t hashed_files = 0, hashed_bytes = 0;
  auto add_file = [&](const std::string& p) {
    const auto d = hash_file(p);
    pins.files.push_back(PinFile{p, d.sha256, {}});
    ++hashed_files;
    hashed_bytes += d.size;
  };
  add_file(plan.script.empty() ? plan.exe : plan.script);
  std::string note;
  if (!plan.project.empty()) {
    for (const char* lock : kLockfiles) {
      const std::string p = plan.project + "/" + lock;
      struct stat st {};
      if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) add_file(p);
    }
    // A profile inside the tree is left out of it: writing the pins changes it.
    std::vector<std::string> exclude;
    if (!target.empty() && target != plan.project && path_is_under(target, plan.project))
      exclude.push_back(target.substr(plan.project.size() + (plan.project == "/" ? 0 : 1)));
    const auto d = hash_tree(plan.project, exclude);
    pins.trees.push_back(PinTree{plan.project, d.sha256, d.files, exclude, {}});
    hashed_files += d.files;
    hashed_bytes += d.bytes;
    std::string why;
    if (!store_manifest(state_dir(inv), d, &why))
      note = "; the tree's manifest was not kept (" + why + "), so a later mismatch cannot name the changed file";
  }
  const std::string cmd = shell_join(inv.command);
  const std::string section = render_section(pins, "recorded by `mcp-jail pin` for: " + cmd);
  if (print) std::fputs(section.c_str(), stdout);
  else rewrite_profile(target, section, inv, pins);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "mcp-jail: pin: %zu file%s and %zu tree%s pinned (%llu files, %s hashed in %lld ms); %s%s\n",
               pins.files.size(), pins.files.size() == 1 ? "" : "s", pins.trees.size(), pins.trees.size() == 1 ? "" : "s",
               static_cast<unsigned long long>(hashed_files), megabytes(hashed_bytes).c_str(), static_cast<long long>(ms),
               print ? "[pin] printed on stdout, nothing written" : ("[pin] written to " + target).c_str(), note.c_str());
  return 0;
}

}  // namespace mcpjail::pin
