#include "readme.hpp"

#include <sstream>

#include "mcpjail/mounts.hpp"
#include "mcpjail/units.hpp"

namespace mcpjail::exporter {

namespace {

using nlohmann::json;

// `text` as Markdown inline code.
std::string code(const std::string& text) {
  const std::string fence = text.find('`') == std::string::npos ? "`" : "``";
  return fence + (fence.size() > 1 ? " " : "") + text + (fence.size() > 1 ? " " : "") + fence;
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                           "-_./=:,+@%") == std::string::npos;
    std::string q = a;
    if (!plain) {
      q = "'";
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      q += "'";
    }
    s += (s.empty() ? "" : " ") + q;
  }
  return s;
}

std::string seccomp_summary(const SeccompPlan& sc, const json& profile) {
  std::size_t plain = 0, checked = 0, enosys = 0;
  for (const auto& e : profile["syscalls"]) {
    if (e["action"] == "SCMP_ACT_ALLOW" && !e.contains("args")) plain += e["names"].size();
    else if (e["action"] == "SCMP_ACT_ALLOW") ++checked;
    else enosys += e["names"].size();
  }
  std::ostringstream o;
  o << "seccomp: base " << code(sc.base) << ", action " << code(sc.action == SeccompAction::Errno ? "errno"
                                                                 : sc.action == SeccompAction::Kill ? "kill"
                                                                                                    : "log")
    << " (default action " << code(profile["defaultAction"].get<std::string>()) << "); " << plain
    << " calls allowed, " << checked << " allowed argument patterns (clone, ioctl, socket, personality, ...), " << enosys
    << " calls answered with an errno (ENOSYS for clone3 and io_uring); x86_64 only";
  if (!sc.allow.empty() || !sc.deny.empty()) {
    o << "; the profile's";
    if (!sc.allow.empty()) {
      o << " allow:";
      for (const auto& n : sc.allow) o << " " << n;
    }
    if (!sc.deny.empty()) {
      o << (sc.allow.empty() ? "" : ",") << " deny:";
      for (const auto& n : sc.deny) o << " " << n;
    }
  }
  return o.str();
}

void gaps_section(std::ostringstream& o, const std::vector<Gap>& gaps, const std::string& engine) {
  o << "\n## What " << engine << " cannot express\n\n"
    << "Each entry: what the jail of `mcp-jail run` does, then what this export does instead.\n\n";
  for (const auto& g : gaps) o << "- **" << g.layer << "** - the jail: " << g.jail << ".\n  Here: " << g.here << ".\n";
}

void notes_section(std::ostringstream& o, const Plan& plan) {
  if (plan.notes.empty() && plan.hide_skipped.empty()) return;
  o << "\n## Notes from the plan\n\n";
  for (const auto& n : plan.notes) o << "- " << n << "\n";
  for (const auto& h : plan.hide_skipped) o << "- hide " << h << "\n";
}

std::string sources(const Plan& plan) {
  std::string s;
  for (const auto& f : plan.profile_sources) s += (s.empty() ? "" : ", ") + code(f);
  return s;
}

}  // namespace

std::string oci_readme(const Plan& plan, const OciBundle& bundle, const std::string& dir) {
  std::ostringstream o;
  const std::string id = "mcp-" + dns_label(plan.profile_name);
  o << "# OCI bundle of the mcp-jail profile \"" << plan.profile_name << "\"\n\n"
    << "Written by `mcp-jail export oci` from " << sources(plan) << " for the command\n\n    "
    << command_line(plan.argv) << "\n\n"
    << "`config.json` is the OCI runtime configuration and `rootfs/` the container's root, mounted read-only; "
    << "nothing else of the host is visible but the mounts listed below.\n";

  o << "\n## Run it\n\nAs root, with runc 1.1 or newer:\n\n    runc run --bundle " << dir << " " << id << "\n\n"
    << "The server's stdin and stdout are runc's own (`terminal` is false), so runc can stand where an MCP host "
    << "configuration starts the server:\n\n"
    << "    { \"command\": \"runc\", \"args\": [\"run\", \"--bundle\", \"" << dir << "\", \"" << id << "\"] }\n\n"
    << "A container name serves one server at a time; give each instance its own. `runc delete -f " << id
    << "` removes one that was left behind.\n";

  o << "\n## What holds\n\n";
  const json& c = bundle.config;
  std::string ns;
  for (const auto& n : c["linux"]["namespaces"]) ns += (ns.empty() ? "" : ", ") + n["type"].get<std::string>();
  o << "- namespaces: " << ns
    << (plan.network.mode == NetMode::Host ? " (the host's network is shared: network = \"host\")"
                                            : " (the network namespace is empty: loopback only)")
    << "\n";
  o << "- root: `rootfs/`, read-only, holding only mount points, the symlinks of merged-/usr hosts and the generated "
       "/etc/hosts, /etc/resolv.conf, /etc/passwd and /etc/group\n";
  o << "- mounts, in order:\n";
  for (const auto& s : plan.mounts) {
    switch (s.kind) {
      case MountKind::Bind:
        o << "  - " << code(s.target) << " from " << code(s.source)
          << (s.writable ? ", read-write, nosuid, nodev" : ", read-only (all the way down), nosuid, nodev");
        {
          bool exec = false;
          for (const auto& m : c["mounts"])
            if (m["destination"] == s.target && m["type"] == "bind")
              for (const auto& opt : m["options"]) exec |= opt == "noexec";
          if (s.writable) o << (exec ? ", noexec" : ", executable (see below)");
        }
        o << "\n";
        break;
      case MountKind::Tmpfs:
        o << "  - " << code(s.target) << ": a private tmpfs of " << format_size(s.size) << ", nosuid, nodev, noexec\n";
        break;
      case MountKind::Mask:
        o << "  - " << code(s.target) << ": hidden ("
          << (s.is_dir ? "an empty read-only directory" : "an empty file nobody may open") << ")\n";
        break;
      case MountKind::Symlink: o << "  - " << code(s.target) << ": a symlink to " << code(s.source) << "\n"; break;
      case MountKind::File: o << "  - " << code(s.target) << ": generated, read-only\n"; break;
      case MountKind::Proc: {
        std::string masked, ro;
        for (int i = 0; mnt::kProcMasked[i]; ++i) masked += std::string(masked.empty() ? "" : " ") + mnt::kProcMasked[i];
        for (int i = 0; mnt::kProcReadOnly[i]; ++i) ro += std::string(ro.empty() ? "" : " ") + mnt::kProcReadOnly[i];
        o << "  - `/proc`: the container's own; masked: " << masked << "; read-only: " << ro << "\n";
        break;
      }
      case MountKind::Dev:
        o << "  - `/dev`: read-only tmpfs with null, zero, full, random, urandom, tty; devpts; shm\n";
        break;
    }
  }
  o << "- user: uid " << plan.id.uid << ", gid " << plan.id.gid << ", no supplementary groups (never uid 0)\n"
    << "- capabilities: every set empty; noNewPrivileges\n";
  std::string rl = "core 0";
  if (plan.limits.nofile) rl += ", nofile " + std::to_string(plan.limits.nofile);
  if (plan.limits.file_size) rl += ", fsize " + format_size(plan.limits.file_size);
  o << "- rlimits: " << rl << "\n";
  std::string cg;
  if (plan.limits.memory) cg += "memory " + format_size(*plan.limits.memory) + " (no swap)";
  if (plan.limits.pids) cg += (cg.empty() ? "" : ", ") + std::string("pids ") + std::to_string(*plan.limits.pids);
  if (plan.limits.cpu) {
    std::ostringstream cpu;
    cpu << *plan.limits.cpu;
    cg += (cg.empty() ? "" : ", ") + std::string("cpu ") + cpu.str();
  }
  o << "- cgroup: " << (cg.empty() ? std::string("no limits in the profile") : cg)
    << "; devices: only the default nodes\n";
  o << "- " << seccomp_summary(plan.seccomp, c["linux"]["seccomp"]) << "\n";
  std::string env;
  for (const auto& e : plan.env) env += (env.empty() ? "" : " ") + e.substr(0, e.find('='));
  o << "- environment: exactly " << (env.empty() ? std::string("nothing") : env)
    << " (values in config.json, which is readable by its owner only)\n";
  o << "- working directory: " << code(plan.cwd) << "; hostname " << code(plan.hostname) << "\n";

  gaps_section(o, bundle.gaps, "the OCI bundle");
  notes_section(o, plan);
  return o.str();
}

std::string k8s_readme(const Plan& plan, const K8sExport& k, const K8sOptions& opts, const std::string& dir) {
  std::ostringstream o;
  const std::string kind = opts.replicas ? "deployment" : "pod";
  bool cilium = false;
  o << "# Kubernetes manifests of the mcp-jail profile \"" << plan.profile_name << "\"\n\n"
    << "Written by `mcp-jail export k8s` from " << sources(plan) << " for the image " << code(opts.image)
    << " and the command\n\n    " << command_line(opts.command) << "\n\n"
    << "The manifests are JSON, which is also YAML: kubectl reads them as they are.\n\n";
  for (const auto& f : k.files) {
    const std::string what = f.path == k.seccomp_path ? "the seccomp profile (kubelet's Localhost profile format)"
                             : f.path.starts_with("cilium/") ? "CiliumNetworkPolicy: the allowed host names (Cilium only)"
                             : f.path == "networkpolicy.json" ? "NetworkPolicy: no ingress; egress as the profile allows"
                                                              : std::string(opts.replicas ? "Deployment" : "Pod") + " " + opts.name;
    cilium |= f.path.starts_with("cilium/");
    o << "- " << code(f.path) << ": " << what << "\n";
  }

  o << "\n## Deploy\n\n"
    << "1. Install the seccomp profile on every node that may run the pod (a pod whose Localhost profile is missing "
       "does not start):\n\n"
    << "       install -D -m 0644 " << dir << "/" << k.seccomp_path << " /var/lib/kubelet/seccomp/" << k.seccomp_path
    << "\n\n"
    << "2. `kubectl apply -f " << dir << "` (not recursive: the files below `profiles/` and `cilium/` stay out).\n";
  if (cilium)
    o << "3. On a cluster running Cilium: `kubectl apply -f " << dir << "/cilium`. Without it the allowed host names "
         "cannot be reached.\n";
  o << "\nThe NetworkPolicy needs a network plugin that enforces NetworkPolicies (Calico, Cilium, ...); without one "
       "it is accepted and does nothing.\n";

  o << "\n## Reach the server\n\n"
    << "The container keeps stdin open (`stdin: true`, `stdinOnce: true`, no TTY): the MCP host attaches to it, and "
       "the server's stdout comes back the same way. In a host configuration, kubectl is the command:\n\n"
    << "    { \"command\": \"kubectl\", \"args\": [\"attach\", \"-i\", \"-q\", \"" << kind << "/" << opts.name
    << "\", \"-c\", \"server\"] }\n\n"
    << "One session per container: when the client detaches, stdin closes and the server ends"
    << (opts.replicas ? " (the Deployment starts a fresh one; each replica serves one client, `kubectl attach` picks "
                        "one pod)"
                      : " (restartPolicy Never: delete and apply the pod for the next session)")
    << ".\n";

  o << "\n## What holds\n\n"
    << "- pod: no service account token, no service links, no host network, PID or IPC namespace\n"
    << "- container: runAsNonRoot, runAsUser " << plan.id.uid << ", runAsGroup " << plan.id.gid
    << ", readOnlyRootFilesystem, allowPrivilegeEscalation false, not privileged, capabilities drop ALL, "
       "seccompProfile Localhost "
    << code(k.seccomp_path) << "\n";
  for (const auto& s : plan.mounts) {
    if (s.kind == MountKind::Bind && s.writable && s.is_dir)
      o << "- " << code(s.target) << ": writable, an emptyDir volume (replace it with a PersistentVolumeClaim of the "
           "same name to keep what the server writes)\n";
    if (s.kind == MountKind::Tmpfs)
      o << "- " << code(s.target) << ": a memory-backed emptyDir of " << format_size(s.size) << "\n";
  }
  std::string res;
  if (plan.limits.memory) res += "memory " + k8s_bytes(*plan.limits.memory);
  if (plan.limits.cpu) {
    std::ostringstream cpu;
    cpu << *plan.limits.cpu;
    res += (res.empty() ? "" : ", ") + std::string("cpu ") + cpu.str();
  }
  o << "- resources: " << (res.empty() ? std::string("no limits in the profile") : res + " (limits = requests)") << "\n";
  const json* sc = nullptr;
  for (const auto& f : k.files)
    if (f.path == k.seccomp_path) sc = &f.json;
  if (sc) o << "- " << seccomp_summary(plan.seccomp, *sc) << "\n";
  switch (plan.network.mode) {
    case NetMode::None: o << "- network: no egress, no ingress (NetworkPolicy)\n"; break;
    case NetMode::Allowlist: {
      std::string allow;
      for (const auto& r : plan.network.rules) allow += (allow.empty() ? "" : ", ") + r.str();
      o << "- network: egress only to " << allow
        << " (addresses: NetworkPolicy, private and local ranges excepted; names: the Cilium policy), DNS only to the "
           "cluster resolver; no ingress\n";
      break;
    }
    case NetMode::Host: o << "- network: the pod network, unrestricted (the profile's network is \"host\")\n"; break;
  }

  gaps_section(o, k.gaps, "Kubernetes");
  notes_section(o, plan);
  return o.str();
}

}  // namespace mcpjail::exporter
