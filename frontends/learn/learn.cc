// `mcp-jail learn`: the learning jail, one launch in it, and the profile
// written from what it recorded (see learn.hpp).
//
// The learning jail is an ordinary plan (so it is applied in the usual
// order): the profile being extended, plus every top-level directory of the
// host read-only (and executable), credentials hidden, the directories the
// command line names and --write writable on the host. Every other
// directory shown read-only is a throw-away layer (add_throwaway_layer in
// plan.hpp): writes there succeed in the jail's memory, are recorded, and
// end with the jail, so learning changes nothing on the host outside what
// the command line names. A layer that cannot be mounted stops the launch
// (exit 125, naming the layer, the cause and the fix): a learning jail
// whose writes fail where the server expects them to succeed would learn a
// different server. The plan's seccomp watch is put in learning mode
// (SeccompPlan::learn): every open, stat-like look at a path, write-intent
// call, exec and denied call reaches the supervisor, which counts them by
// path and writes them to the audit log as "learn" events when the launch
// ends.
#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "mcpjail/audit.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/frontends/learn.hpp"
#include "mcpjail/frontends/toml_text.hpp"
#include "mcpjail/frontends/user_file.hpp"
#include "mcpjail/launch.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/profile.hpp"
#include "mcpjail/text.hpp"

namespace mcpjail::learn {

namespace {

namespace fs = std::filesystem;

LaunchError learn_error(const std::string& what) { return LaunchError("learn", what); }

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}
bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Credentials below a home directory: hidden while learning, never granted.
constexpr const char* kHomeSecrets[] = {
    ".ssh", ".aws", ".gnupg", ".config/gh", ".local/share/keyrings", ".password-store", ".mozilla",
    ".config/google-chrome", ".config/chromium", ".config/BraveSoftware", ".config/microsoft-edge", ".netrc",
    ".git-credentials", ".npmrc", ".pypirc", ".docker", ".kube", ".config/gcloud", ".azure", ".config/op",
    ".vault-token", ".cargo/credentials", ".cargo/credentials.toml", ".gem/credentials", ".config/hub",
    ".config/git/credentials", ".m2/settings.xml", ".terraform.d",
};
// Credentials a project directory holds (the filesystem profile hides the same).
constexpr const char* kProjectSecrets[] = {".npmrc", ".netrc", ".git-credentials", ".ssh", ".aws"};

// `.env`, `.env.local`, ... directly in `dir`.
void env_files(const std::string& dir, std::vector<std::string>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n == ".env" || n.starts_with(".env.")) out->push_back(lexical_path(dir, n));
  }
  ::closedir(d);
}

// Key files below `dir` (depth 3, a bounded number of entries, links not
// followed): private keys and credential files a home keeps outside the
// well-known directories.
void key_files(const std::string& dir, int depth, std::size_t* budget, std::vector<std::string>* out) {
  if (depth < 0 || *budget == 0) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    if ((*budget)-- == 0) break;
    const std::string n = e->d_name;
    if (n == "." || n == ".." || n == "node_modules" || n == ".cache" || n == ".git") continue;
    const std::string p = lexical_path(dir, n);
    if (e->d_type == DT_DIR) {
      key_files(p, depth - 1, budget, out);
      continue;
    }
    if (e->d_type != DT_REG) continue;
    const auto ends = [&](std::string_view x) { return n.size() > x.size() && n.ends_with(x); };
    if (ends(".pem") || ends(".key") || ends(".p12") || ends(".pfx") || ends(".kdbx") || n.starts_with("id_rsa") ||
        n.starts_with("id_ed25519") || n.starts_with("id_ecdsa") || n == "credentials" || n == ".env" ||
        n.starts_with(".env."))
      out->push_back(p);
  }
  ::closedir(d);
}

std::vector<std::string> homes_of(const std::string& home) {
  std::vector<std::string> out;
  if (!home.empty() && home != "/") out.push_back(home);
  ::setpwent();
  while (const passwd* pw = ::getpwent()) {
    const std::string h = pw->pw_dir ? pw->pw_dir : "";
    if ((path_is_under(h, "/home") || path_is_under(h, "/root")) && h != "/home" && is_dir(h) &&
        std::find(out.begin(), out.end(), h) == out.end())
      out.push_back(h);
  }
  ::endpwent();
  return out;
}

// A name for the profile: --name, else the command's project or script, else the program.
std::string default_name(const std::vector<std::string>& command, const Plan* plan) {
  std::string n;
  if (plan && !plan->project.empty()) n = fs::path(plan->project).filename();
  else if (plan && !plan->script.empty()) n = fs::path(plan->script).stem();
  else if (!command.empty()) n = fs::path(command[0]).filename();
  std::string out;
  for (char ch : n) out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' ? ch : '-';
  while (!out.empty() && out[0] == '.') out.erase(0, 1);
  if (out.size() > 64) out.resize(64);
  return out.empty() ? "server" : out;
}

std::string quoted_list(const std::vector<std::string>& v, bool optional) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + toml_text::quote((optional ? "-" : "") + v[i], true);
  return s + "]";
}

// The mount of `plan` that decides what the server sees at `p`.
const MountStep* deciding_mount(const Plan& plan, const std::string& p) {
  const MountStep* best = nullptr;
  for (const auto& s : plan.mounts)
    if (path_is_under(p, s.target) && (!best || s.target.size() >= best->target.size())) best = &s;
  return best;
}
// The host's file at `p` is readable (writable) in the jail of `plan`: a
// tmpfs of the jail shows its own files, not the host's.
bool host_visible(const Plan& plan, const std::string& p) {
  const MountStep* m = deciding_mount(plan, p);
  return m && m->kind != MountKind::Mask && m->kind != MountKind::Tmpfs;
}
bool host_writable(const Plan& plan, const std::string& p) {
  const MountStep* m = deciding_mount(plan, p);
  return m && m->kind == MountKind::Bind && m->writable;
}

bool executable(const Plan& plan, const std::string& p) {
  std::error_code ec;
  const auto canon = fs::weakly_canonical(p, ec).string();
  for (const auto& a : plan.landlock.exec_allow)
    if (a == p || a == canon || fs::weakly_canonical(a, ec).string() == canon) return true;
  for (const auto& r : plan.landlock.rules)
    if (r.exec && (path_is_under(p, r.path) || path_is_under(canon, r.path))) return true;
  return false;
}

// What the throw-away layers hold together (the jail's memory limit, when
// lower, stops writes first).
constexpr std::uint64_t kLayerSize = 1ULL << 30;

struct Output {
  std::string path;
  ProfileText earlier;
  bool has_earlier = false;
};

// FILE checked before anything starts: an existing file must be a learned
// profile, and the directory must take a new file.
Output check_output(const std::string& path) {
  Output o;
  o.path = path;
  if (exists(path)) {
    UserFile f;
    try {
      f = read_user_file(path, kMaxProfileBytes);
    } catch (const UserFileError& e) {
      throw learn_error(std::string(e.what()) + "; name another file with -o FILE");
    }
    std::string why;
    if (!parse_learned(f.text, &o.earlier, &why))
      throw learn_error(path + " exists and " + why + "; it is left as it is. Name a new file with -o FILE");
    o.has_earlier = true;
    if (::access(path.c_str(), W_OK) != 0)
      throw learn_error(path + " cannot be written (" + std::string(std::strerror(errno)) + "); name another file with -o FILE");
  }
  // A file made and removed in the directory now, as the result will be
  // (access() says yes to root for directories nothing can be created in).
  const std::string dir = fs::path(path).parent_path().string();
  std::string probe = (dir.empty() ? "." : dir) + "/.mcp-jail-learn-XXXXXX";
  const int fd = ::mkstemp(probe.data());
  if (fd < 0)
    throw learn_error("cannot write " + path + ": no file can be created in " + (dir.empty() ? "." : dir) + " (" +
                      std::strerror(errno) + "); name another file with -o FILE");
  ::close(fd);
  ::unlink(probe.c_str());
  return o;
}

struct TempDir {
  std::string path;
  TempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string templ = std::string(t && *t == '/' ? t : "/tmp") + "/mcp-jail-learn-XXXXXX";
    if (!::mkdtemp(templ.data())) throw learn_error(errno_text("creating a directory for the observations", errno));
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::string slurp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return {};
  std::string s;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

}  // namespace

int learn_command(const cli::Arguments& args) {
  Invocation inv = cli::invocation(args);
  inv.require_command = true;
  inv.profile = "learn";
  std::string extends = args.has("extends") ? args.value("extends") : "base";
  if (is_profile_path(extends)) extends = lexical_path(inv.load.pwd, extends);

  // What the command line names: the directories among the server's
  // arguments, and --write. Writes there reach the host.
  std::vector<std::string> write_through = inv.extra_write, named_dirs;
  const std::vector<std::string> homes = homes_of(inv.load.home);
  for (std::size_t i = 1; i < inv.command.size(); ++i) {
    const std::string& a = inv.command[i];
    if (a.empty() || a.starts_with("-")) continue;
    std::string why;
    const auto p = normalize_absolute(a.starts_with("/") ? a : inv.load.pwd + "/" + a, &why);
    if (!p || *p == "/" || !is_dir(*p) || std::find(homes.begin(), homes.end(), *p) != homes.end()) continue;
    named_dirs.push_back(*p);
    if (std::find(write_through.begin(), write_through.end(), *p) == write_through.end()) write_through.push_back(*p);
  }

  // Credentials: hidden in the learning jail, never granted.
  std::vector<std::string> secrets;
  for (const auto& h : homes) {
    for (const char* s : kHomeSecrets) secrets.push_back(lexical_path(h, s));
    std::size_t budget = 20000;
    key_files(h, 3, &budget, &secrets);
  }
  std::vector<std::string> project_dirs = named_dirs;
  project_dirs.push_back(inv.load.pwd);
  for (const auto& w : inv.extra_write) project_dirs.push_back(w);
  for (const auto& d : project_dirs) {
    for (const char* s : kProjectSecrets) secrets.push_back(lexical_path(d, s));
    env_files(d, &secrets);
  }

  // The output file, before anything runs.
  std::string name = args.value("name");
  const Profile probe_profile =
      load_profile_text("version = 1\nname = \"learn\"\nextends = " + toml_text::quote(extends, false) + "\n",
                        "<learned profile>", "", inv.load);
  // The profile being extended, with this command, without --read and
  // --write (they go into the learned profile): what needs no line.
  Invocation bare = inv;
  bare.extra_read.clear();
  bare.extra_write.clear();
  Plan named_plan = make_plan(probe_profile, bare);
  if (name.empty()) name = default_name(inv.command, &named_plan);
  if (!valid_state_name(name))
    throw cli::UsageError("--name " + name + ": 1-64 letters, digits, '.', '_' or '-', not starting with '.'");
  const std::string state_root = lexical_path(inv.load.state_home.empty() ? inv.load.home + "/.local/state" : inv.load.state_home, "mcp-jail");
  if (DIR* d = ::opendir(state_root.c_str())) {  // mcp-jail's own state, except this profile's
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != ".." && n != name) secrets.push_back(lexical_path(state_root, n));
    }
    ::closedir(d);
  }
  std::sort(secrets.begin(), secrets.end());
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());

  std::string file = args.value("output");
  if (file.empty()) file = name + ".learned.toml";
  if (!file.starts_with("/")) file = lexical_path(inv.load.pwd, file);
  Output out = check_output(file);

  // The learning jail.
  std::vector<std::string> top;
  if (DIR* d = ::opendir("/")) {
    static const std::vector<std::string> kSkip = {"proc", "sys", "dev", "run", "tmp", "lost+found"};
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      const std::string p = "/" + n;
      if (n == "." || n == ".." || std::find(kSkip.begin(), kSkip.end(), n) != kSkip.end()) continue;
      if (!is_dir(p) || is_symlink(p)) continue;  // merged-/usr links: base has them
      if (n == "root" && !path_is_under(inv.load.home, "/root")) continue;
      top.push_back(p);
    }
    ::closedir(d);
  }
  std::sort(top.begin(), top.end());
  std::string text = "version = 1\nname = " + toml_text::quote(name, false) +
                     "\ndescription = \"learning jail\"\nextends = " + toml_text::quote(extends, false) + "\n";
  text += "[exec]\nallow = " + quoted_list(top, true) + "\n";
  text += "[filesystem]\nread = " + quoted_list(top, true) + "\nhide = " + quoted_list(secrets, false) + "\n";
  // --network: the DNS filter and the table in record mode (every public
  // name and address, recorded); the upstream resolvers as the extended
  // profile says (its `dns`, else the host's). Without it: no network.
  const bool network = args.has("network");
  text += network ? "[network]\nmode = \"allowlist\"\n" : "[network]\nmode = \"none\"\n";
  Invocation learning = inv;
  learning.extra_write = write_through;
  const Profile learning_profile = load_profile_text(text, "<learning jail>", "", inv.load);
  Plan plan = make_plan(learning_profile, learning);
  plan.network.record = network;
  plan.seccomp.learn = true;
  plan.seccomp.watch = true;
  plan.seccomp.action = SeccompAction::Errno;  // a denied call fails and is recorded; it never runs
  add_throwaway_layer(plan, slurp("/proc/self/mountinfo"), kLayerSize);

  TempDir tmp;
  const std::string log = tmp.path + "/events.jsonl";
  stderr_line("mcp-jail: learn: running " + shell_join(inv.command) + " in a learning jail; the profile goes to " + file);
  for (const auto& n : plan.notes)  // the throw-away layer: where it is, where it is not
    if (n.starts_with("learning: ")) stderr_line("mcp-jail: learn: " + n.substr(10));
  std::optional<Exerciser> client;
  if (args.has("exercise")) client.emplace();
  const int status = launch(plan, {.invocation = learning, .audit_log = log, .summary = false});
  const bool spoke = client ? client->finish() : true;
  const std::string events = slurp(log);
  const Observed observed = parse_events(events);

  // The entries: what the profile being extended does not already give.
  Context c;
  c.homes = homes;
  c.anchors = named_dirs;
  if (!named_plan.project.empty()) c.anchors.push_back(named_plan.project);
  for (const auto& r : inv.extra_read) c.anchors.push_back(r);
  c.write_through = write_through;
  c.secrets = secrets;
  if (!named_plan.project.empty()) c.own_files.push_back(named_plan.project);
  if (!named_plan.script.empty()) c.own_files.push_back(named_plan.script);
  c.covered_read = [&](const std::string& p) { return host_visible(named_plan, p); };
  c.covered_write = [&](const std::string& p) { return host_writable(named_plan, p); };
  c.covered_exec = [&](const std::string& p) { return executable(named_plan, p); };
  c.exists = exists;
  c.is_dir = is_dir;
  Learned now = reduce(observed, c);
  // What the command line names is the server's to see, even when it did
  // not open it during this session: a directory argument that was not
  // written is read.
  auto named = [&](const std::string& d, const char* why) {
    if (c.covered_read(d) || c.covered_write(d)) return;  // the extended profile has it
    if (std::none_of(now.read.begin(), now.read.end(), [&](const Entry& e) { return path_is_under(d, e.value); }))
      now.read.push_back({d, 0, why});
  };
  for (const auto& r : inv.extra_read) named(r, "named by --read");
  for (const auto& d : named_dirs) named(d, "named on the command line");
  std::sort(now.read.begin(), now.read.end(), [](const Entry& a, const Entry& b) { return a.value < b.value; });
  for (const auto& w : inv.extra_write)
    if (std::none_of(now.write.begin(), now.write.end(), [&](const Entry& e) { return e.value == w; }))
      now.write.push_back({w, 0, "named by --write"});

  bool failed = false;
  if (events.find("\"event\":\"start\"") == std::string::npos) {
    now.notes.push_back("the server did not start (exit status " + std::to_string(status) + ")");
    failed = true;
  } else if (!spoke) {
    now.notes.push_back("the server never answered initialize (--exercise): it may not speak MCP on stdio");
    failed = true;
  } else if (status != 0 && status != 128 + SIGTERM && status != 128 + SIGINT && status != 128 + SIGHUP &&
             status != 128 + SIGPIPE) {
    now.notes.push_back("the server ended with status " + std::to_string(status) +
                        ": what it did before is recorded; it may need more than this");
    failed = true;
  }

  ProfileText p;
  p.name = name;
  p.extends = extends;
  p.command = shell_join(inv.command);
  for (const auto& e : inv.env_args) {
    if (e.value) p.env_set.emplace_back(e.name, *e.value);
    else p.env_pass.push_back(e.name);
  }
  const Learned& before = out.earlier.learned;
  p.learned.write = merge(before.write, now.write, true);
  auto in_write = [&](const std::string& v) {
    return std::any_of(p.learned.write.begin(), p.learned.write.end(), [&](const Entry& w) { return path_is_under(v, w.value); });
  };
  for (const auto& e : merge(before.read, now.read, true))
    if (!in_write(e.value)) p.learned.read.push_back(e);
  p.learned.exec = merge(before.exec, now.exec, false);
  p.learned.seccomp = merge(before.seccomp, now.seccomp, false);
  p.learned.network = merge(before.network, now.network, false);
  p.learned.refused = merge(before.refused, now.refused, false);
  p.learned.notes = now.notes;
  // Credentials inside what is granted stay hidden.
  std::vector<std::string> roots;
  for (const auto& e : p.learned.read) roots.push_back(e.value);
  for (const auto& e : p.learned.write) roots.push_back(e.value);
  for (const auto& s : secrets)
    if (exists(s) && std::any_of(roots.begin(), roots.end(), [&](const std::string& r) { return path_is_under(s, r); }))
      p.hide.push_back(s);
  for (const auto& r : roots)
    if (is_dir(r)) {
      for (const char* s : kProjectSecrets)
        if (exists(lexical_path(r, s))) p.hide.push_back(lexical_path(r, s));
      env_files(r, &p.hide);
    }
  std::sort(p.hide.begin(), p.hide.end());
  p.hide.erase(std::unique(p.hide.begin(), p.hide.end()), p.hide.end());

  const std::string result = render(p);
  try {
    write_file_atomically(file, result, 0644);
  } catch (const UserFileError& e) {
    throw learn_error(std::string(e.what()) + "; nothing was written");
  }
  // The result must load as a profile (it is run next).
  try {
    (void)load_profile(file, inv.load);
  } catch (const ProfileError& e) {
    stderr_line(std::string("mcp-jail: learn: the written profile does not load: ") + e.what());
    return kExitLauncherError;
  }
  stderr_line("mcp-jail: learn: wrote " + file + ": " + std::to_string(p.learned.read.size()) + " read, " +
              std::to_string(p.learned.write.size()) + " write, " + std::to_string(p.learned.exec.size()) + " exec, " +
              std::to_string(p.learned.seccomp.size()) + " seccomp, " + std::to_string(p.learned.network.size()) +
              " network entries" +
              (p.learned.refused.empty() ? "" : "; " + std::to_string(p.learned.refused.size()) + " escape-class calls not granted"));
  if (failed) {
    stderr_line("mcp-jail: learn: " + now.notes.back());
    return kExitLauncherError;
  }
  return status;
}

}  // namespace mcpjail::learn
