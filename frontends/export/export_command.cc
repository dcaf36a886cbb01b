// `mcp-jail export oci|k8s PROFILE [OPTION]... -o DIR [--] COMMAND [ARG]...`,
// parsed from the command table (frontends/cli/commands.cc).
//
// Plans the jail as `run` would (same profile, same --var/--read/--write/
// --env), builds the engine's form of it in memory, and only then writes
// DIR: a new or empty directory. Any failure leaves DIR as it was found
// (removed when this command created it) and exits 125 with the fix.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "export.hpp"
#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/export.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/state.hpp"
#include "mcpjail/unique_fd.hpp"
#include "readme.hpp"

namespace mcpjail::exporter {

namespace {

using cli::UsageError;

// ---- the output directory ----------------------------------------------------

class OutputDir {
 public:
  // Opens DIR, creating it (not its parents) when missing. Refuses a DIR that
  // holds anything, or that this user cannot write.
  explicit OutputDir(const std::string& path) : path_(path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode))
        throw UsageError("-o " + path + " is a symlink; name the directory itself (" +
                         std::filesystem::weakly_canonical(path).string() + ")");
      if (!S_ISDIR(st.st_mode)) throw UsageError("-o " + path + " exists and is not a directory; choose a new directory");
      if (!std::filesystem::is_empty(path))
        throw UsageError("-o " + path + " is not empty; choose a new directory or empty this one (export never "
                         "overwrites files)");
      if (::access(path.c_str(), W_OK | X_OK) != 0)
        throw UsageError(errno_text("-o " + path + " is not writable by this user", errno) +
                         "; choose a directory you can write");
    } else if (errno == ENOENT) {
      if (::mkdir(path.c_str(), 0755) != 0) {
        const int err = errno;
        const std::string parent = path.substr(0, std::max<std::size_t>(1, path.rfind('/')));
        throw UsageError(errno_text("cannot create -o " + path, err) +
                         (err == ENOENT ? "; its parent " + parent + " does not exist: create it first"
                                        : "; choose a directory you can write"));
      }
      created_ = true;
    } else {
      throw UsageError(errno_text("-o " + path, errno) + "; choose a directory you can write");
    }
    fd_.reset(::open(path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd_) throw UsageError(errno_text("open -o " + path, errno));
  }

  ~OutputDir() {
    if (done_) return;
    // Leave DIR as it was found.
    std::error_code ec;
    if (created_) {
      std::filesystem::remove_all(path_, ec);
    } else {
      for (const auto& e : written_) std::filesystem::remove_all(path_ + "/" + e, ec);
    }
  }
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  void dir(const std::string& rel, mode_t mode) {
    note(rel);
    if (::mkdirat(fd_.get(), rel.c_str(), mode) != 0 && errno != EEXIST)
      throw UsageError(errno_text("cannot create " + path_ + "/" + rel, errno));
    // mkdir's mode passes through the umask; the bundle's is exact (runc
    // gives a tmpfs the mode of its mount point: 1777 for /tmp).
    UniqueFd d(::openat(fd_.get(), rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d || ::fchmod(d.get(), mode) != 0) throw UsageError(errno_text("chmod " + path_ + "/" + rel, errno));
  }

  void file(const std::string& rel, const std::string& content, mode_t mode) {
    note(rel);
    UniqueFd f(::openat(fd_.get(), rel.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f) throw UsageError(errno_text("cannot create " + path_ + "/" + rel, errno));
    std::size_t off = 0;
    while (off < content.size()) {
      const ssize_t w = ::write(f.get(), content.data() + off, content.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw UsageError(errno_text("cannot write " + path_ + "/" + rel, w < 0 ? errno : EIO));
      off += static_cast<std::size_t>(w);
    }
    if (::fchmod(f.get(), mode) != 0) throw UsageError(errno_text("chmod " + path_ + "/" + rel, errno));
  }

  void symlink(const std::string& rel, const std::string& target) {
    note(rel);
    if (::symlinkat(target.c_str(), fd_.get(), rel.c_str()) != 0)
      throw UsageError(errno_text("cannot create the symlink " + path_ + "/" + rel, errno));
  }

  // Parents of `rel` (relative, no "..") that are not there yet.
  void parents(const std::string& rel) {
    std::string at;
    const auto comps = path_components("/" + rel);
    for (std::size_t i = 0; i + 1 < comps.size(); ++i) {
      at += (at.empty() ? "" : "/") + comps[i];
      struct stat st {};
      if (::fstatat(fd_.get(), at.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISDIR(st.st_mode)) throw UsageError(path_ + "/" + at + " is not a directory");
        continue;
      }
      dir(at, 0755);
    }
  }

  void commit() { done_ = true; }

 private:
  void note(const std::string& rel) {
    const std::string top = rel.substr(0, rel.find('/'));
    if (std::find(written_.begin(), written_.end(), top) == written_.end()) written_.push_back(top);
  }

  std::string path_;
  UniqueFd fd_;
  bool created_ = false, done_ = false;
  std::vector<std::string> written_;  // top-level names written (to undo)
};

std::string dump(const nlohmann::json& j) {
  try {
    return j.dump(2) + "\n";
  } catch (const nlohmann::json::type_error&) {
    // JSON holds UTF-8 only; a value is never altered to fit.
    throw LaunchError("export", "a value of the plan (an environment variable's value or a path) is not valid UTF-8, "
                                "which JSON cannot hold; drop it from the environment (or the profile) and export again");
  }
}

void print_gaps(const std::vector<Gap>& gaps, const std::string& engine) {
  if (gaps.empty()) return;
  std::fprintf(stderr, "mcp-jail: export: what %s cannot express (also in README.md):\n", engine.c_str());
  for (const auto& g : gaps)
    std::fprintf(stderr, "  [%s] the jail: %s\n      %s: %s\n", g.layer.c_str(), g.jail.c_str(), engine.c_str(),
                 g.here.c_str());
}

int run_export(const cli::Arguments& args) {
  struct {
    std::string format, profile, out, image, name, replicas;
    std::vector<std::string> server;
    bool have_name, have_replicas;
  } o{args.operand, args.operand2, args.value("output"), args.value("image"), args.value("name"),
      args.value("replicas"), args.server, args.has("name"), args.has("replicas")};
  if (o.format.empty()) throw UsageError("export needs a FORMAT: oci or k8s");
  if (o.format != "oci" && o.format != "k8s")
    throw UsageError("unknown export format '" + o.format + "': use oci (a runc bundle) or k8s (Kubernetes manifests)");
  const bool k8s = o.format == "k8s";
  if (o.profile.empty()) throw UsageError("export " + o.format + " needs a PROFILE (a built-in name or a .toml file)");
  if (o.out.empty()) throw UsageError("export needs -o DIR: a new or empty directory to write into");
  if (o.server.empty()) throw UsageError("export needs the server's command after PROFILE, as run has it");
  if (o.server[0].empty()) throw UsageError("the server's command is an empty string");
  if (!k8s) {
    if (!o.image.empty()) throw UsageError("--image belongs to export k8s (an OCI bundle runs the host's files)");
    if (o.have_name) throw UsageError("--name belongs to export k8s (give runc the container's name: runc run --bundle DIR NAME)");
    if (o.have_replicas) throw UsageError("--replicas belongs to export k8s");
  }
  K8sOptions ko;
  if (k8s) {
    if (o.image.empty())
      throw UsageError("export k8s needs --image IMAGE: the container image that holds the server and its runtime "
                       "(e.g. --image node:20-slim, or your own image; pin it by digest)");
    ko.image = o.image;
    if (o.have_name) {
      if (o.name.empty() || dns_label(o.name) != o.name)
        throw UsageError("--name '" + o.name + "' is not a DNS-1123 label: lower-case letters, digits and '-', at most "
                         "63, starting and ending with a letter or digit (e.g. --name " + dns_label(o.name) + ")");
      ko.name = o.name;
    }
    if (o.have_replicas) {
      const std::string& r = o.replicas;
      if (r.empty() || r.size() > 4 || r.find_first_not_of("0123456789") != std::string::npos || std::stoul(r) < 1)
        throw UsageError("--replicas wants a number from 1 to 9999, got '" + r + "'");
      ko.replicas = static_cast<unsigned>(std::stoul(r));
    }
    ko.command = o.server;
  }

  Invocation inv = cli::invocation(args);
  inv.profile = o.profile;
  std::string out = o.out.starts_with("/") ? o.out : inv.load.pwd + "/" + o.out;
  std::string why;
  auto norm = normalize_absolute(out, &why);
  if (!norm) throw UsageError("-o " + o.out + ": " + why);
  out = *norm;
  if (out == "/") throw UsageError("-o / : choose a new directory");
  {
    // Symlinks above DIR resolved: bind sources in the bundle are named by
    // this path, and it is compared with the plan's canonical paths.
    std::error_code ec;
    const auto canonical = std::filesystem::weakly_canonical(out, ec);
    if (!ec && canonical.is_absolute()) out = canonical.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
  }

  const Profile profile = load_profile(o.profile, inv.load);
  // k8s: the command runs in IMAGE, whose files are not the host's: it is
  // not planned (nor looked up) here.
  if (k8s) {
    inv.command.clear();
    inv.require_command = false;
  } else {
    inv.command = o.server;
    inv.require_command = true;
  }
  const Plan plan = make_plan(profile, inv);
  if (k8s && ko.name.empty()) ko.name = dns_label(plan.profile_name);

  // Everything is built before anything is written.
  std::vector<Gap> gaps;
  std::string readme;
  std::vector<std::pair<std::string, std::string>> files;  // JSON files: path, text
  std::vector<mode_t> modes;
  OciBundle bundle;
  if (k8s) {
    K8sExport k = build_k8s(plan, profile, ko);
    gaps = k.gaps;
    readme = k8s_readme(plan, k, ko, out);
    for (const auto& f : k.files) {
      files.emplace_back(f.path, dump(f.json));
      modes.push_back(f.mode);
    }
  } else {
    bundle = build_oci(plan, out);
    gaps = bundle.gaps;
    readme = oci_readme(plan, bundle, out);
  }

  const std::string config_text = k8s ? std::string() : dump(bundle.config);
  OutputDir dir(out);
  if (k8s) {
    for (std::size_t i = 0; i < files.size(); ++i) {
      dir.parents(files[i].first);
      dir.file(files[i].first, files[i].second, modes[i]);
    }
  } else {
    // config.json holds the server's environment: readable by its owner only.
    dir.file("config.json", config_text, 0600);
    for (const auto& e : bundle.entries) {
      switch (e.kind) {
        case BundleEntry::Kind::Dir: dir.dir(e.path, e.mode); break;
        case BundleEntry::Kind::File: dir.file(e.path, e.content, e.mode); break;
        case BundleEntry::Kind::Symlink: dir.symlink(e.path, e.content); break;
      }
    }
  }
  dir.file("README.md", readme, 0644);
  // The bundle binds the profile's state directory: created as `run` creates
  // it (the pod's volumes are emptyDirs instead).
  if (!k8s) prepare_state(plan);
  dir.commit();

  std::fprintf(stderr, "mcp-jail: export: wrote %s (%s, profile \"%s\")\n", out.c_str(),
               k8s ? "Kubernetes manifests" : "OCI bundle for runc", plan.profile_name.c_str());
  print_gaps(gaps, k8s ? "Kubernetes" : "the OCI bundle");
  if (!k8s && plan.network.mode == NetMode::Allowlist)
    std::fprintf(stderr, "mcp-jail: export: the allowlist has no OCI form: the bundle has NO NETWORK (loopback only)\n");
  return 0;
}

}  // namespace

int export_command(const cli::Arguments& args) {
  try {
    return run_export(args);
  } catch (const ProfileError& e) {
    std::fprintf(stderr, "%s\nmcp-jail: profile rejected; nothing was exported\n", e.what());
    return kExitLauncherError;
  } catch (const LaunchError& e) {
    // A plan that cannot be made or exported: nothing is written, nothing runs.
    std::fprintf(stderr, "mcp-jail: export: %s: %s\n", e.layer().c_str(), e.what());
    return kExitLauncherError;
  }
}

}  // namespace mcpjail::exporter
