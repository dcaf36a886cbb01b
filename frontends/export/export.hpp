// `mcp-jail export oci|k8s`: the jail a profile describes, written for the
// engines that run containers at scale - a runc bundle (OCI runtime config
// and root directory) or Kubernetes manifests with a seccomp profile.
//
// The exporters read only the public interface of the core: the Plan
// (plan.hpp), the seccomp policy tables (seccomp.hpp) and the /proc lists of
// the mount layer (mounts.hpp). What an engine cannot express is never
// dropped silently: each such layer is a Gap, printed on stderr and written
// into the README of the output directory.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/plan.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail::exporter {

// Something the jail does that the exported form does not (or does
// differently). `layer` names the jail's layer, `jail` what the jail does,
// `here` what the export does instead and what still holds.
struct Gap {
  std::string layer;
  std::string jail;
  std::string here;
};

// ---- gaps every export has (gaps.cc) ---------------------------------------

// The jail's side of these layers, said once for every engine; `here` is what
// the engine does instead. protect_gap and pin_gap: only when the plan has
// a protected name missing at launch, or pins.
Gap memfd_gap(std::string here);
Gap supervisor_gap(std::string here);
std::optional<Gap> protect_gap(const Plan& plan);
std::optional<Gap> pin_gap(const Plan& plan, std::string here);

// ---- seccomp (seccomp_profile.cc) ------------------------------------------

// The seccomp policy of `plan` in the JSON form that runc reads in
// config.json (linux.seccomp) and that kubelet reads from its seccomp
// directory for a Localhost profile (the Docker/containerd profile format):
//   defaultAction    the profile's action: SCMP_ACT_ERRNO with
//                    defaultErrnoRet EPERM (errno), SCMP_ACT_KILL_PROCESS
//                    (kill), SCMP_ACT_LOG (log)
//   architectures    ["SCMP_ARCH_X86_64"] only: libseccomp answers every
//                    other architecture (ia32 through int 0x80) with its
//                    bad-architecture action, a kill
//   syscalls         ALLOW entries for the base groups and the profile's
//                    allow list; ALLOW entries with SCMP_CMP_MASKED_EQ
//                    argument filters for the argument rules (one entry per
//                    allowed case: the runtime ANDs the filters of one entry
//                    when they name different arguments); ERRNO entries with
//                    errnoRet ENOSYS where the jail answers ENOSYS.
// Throws LaunchError("export", ...) for a plan it cannot express at all
// (an unknown base).
struct SeccompProfile {
  nlohmann::json json;
  std::vector<Gap> gaps;
};
SeccompProfile seccomp_profile(const SeccompPlan& plan);

// ---- OCI runtime bundle (oci.cc) ------------------------------------------

// A file or directory to create below the bundle directory. `path` is
// relative to the bundle ("rootfs/etc/passwd", "masks/empty").
struct BundleEntry {
  enum class Kind { Dir, File, Symlink } kind = Kind::Dir;
  std::string path;
  std::string content;  // File: the bytes; Symlink: the target
  mode_t mode = 0755;
};

struct OciBundle {
  nlohmann::json config;             // config.json
  std::vector<BundleEntry> entries;  // rootfs/ and what the mounts need, parents first
  std::vector<Gap> gaps;
};

// The bundle for `plan`, to be written at `bundle_dir` (absolute: bind
// sources inside the bundle are named by their absolute path). Pure: reads
// the host only to check that mount points exist where a bound host
// directory would otherwise have to be changed. Throws LaunchError("export",
// ...) for a plan that cannot be written as a bundle.
OciBundle build_oci(const Plan& plan, const std::string& bundle_dir);

// ---- Kubernetes (k8s.cc) ----------------------------------------------------

struct K8sOptions {
  std::string image;
  std::string name;                  // metadata.name, a DNS-1123 label
  std::optional<unsigned> replicas;  // set: a Deployment; else a Pod
  std::vector<std::string> command;  // the server's command inside IMAGE, as written
};

// One file of the output directory: a path relative to it and its JSON.
struct OutputFile {
  std::string path;
  nlohmann::json json;
  mode_t mode = 0644;
};

struct K8sExport {
  std::vector<OutputFile> files;  // manifests, the seccomp profile, the Cilium policy
  std::string seccomp_path;       // relative to kubelet's seccomp directory
  std::vector<Gap> gaps;
};

// The manifests for `plan` (planned without a command: the command runs in
// IMAGE, whose files are not the host's). `profile` is the loaded profile,
// for what the plan folds together (which variables were set rather than
// passed). Pure.
K8sExport build_k8s(const Plan& plan, const Profile& profile, const K8sOptions& opts);

// "filesystem" -> "filesystem"; "My_Profile.v2" -> "my-profile-v2": a
// DNS-1123 label (lower case letters, digits, '-', at most 63, starting and
// ending with a letter or digit); "mcp-server" when nothing is left.
std::string dns_label(const std::string& s);

// A Kubernetes quantity for a byte count: "512Mi", "64Ki", or the plain number.
std::string k8s_bytes(std::uint64_t bytes);

// The command, `mcp-jail export`, is in export_command.cc
// (mcpjail/frontends/export.hpp), in the front-ends library.

}  // namespace mcpjail::exporter
