// Plan -> Kubernetes manifests (JSON, which is YAML as well and which
// kubectl reads): a Pod, or a Deployment with --replicas; a NetworkPolicy;
// for host names a CiliumNetworkPolicy; and the seccomp profile in the
// layout kubelet expects below its seccomp directory.
//
// The image brings its own files: the profile's read paths are not mounted
// (the whole image is there, read-only), its write paths become emptyDir
// volumes named so that a PersistentVolumeClaim can take their place, and
// its tmpfs paths memory-backed emptyDirs with the planned size.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "export.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/text.hpp"
#include "mcpjail/units.hpp"

namespace mcpjail::exporter {

namespace {

using nlohmann::json;
namespace nf = netfilter;

// containerd's and CRI-O's default masked and read-only /proc entries (what
// a container gets when the pod does not ask for procMount Unmasked).
const char* const kRuntimeMasked[] = {"acpi", "asound", "kcore", "keys", "latency_stats", "timer_list",
                                      "timer_stats", "sched_debug", "scsi"};

std::string millicores(double cpu) {
  const auto m = std::max<long long>(1, std::llround(cpu * 1000.0));
  return std::to_string(m) + "m";
}

// A volume name (DNS-1123 label) for a path, unique in `taken`.
std::string volume_name(const std::string& prefix, const std::string& path, std::set<std::string>& taken) {
  std::string base = prefix + "-" + dns_label(path == "/" ? "root" : path);
  if (base.size() > 55) base.resize(55);
  while (!base.empty() && base.back() == '-') base.pop_back();
  std::string name = base;
  for (int i = 2; !taken.insert(name).second; ++i) name = base + "-" + std::to_string(i);
  return name;
}

class K8sBuilder {
 public:
  K8sBuilder(const Plan& plan, const Profile& profile, const K8sOptions& o) : plan_(plan), pr_(profile), o_(o) {}

  K8sExport run() {
    if (o_.image.empty()) throw LaunchError("export", "k8s needs --image IMAGE: the image that holds the server");
    if (o_.command.empty()) throw LaunchError("export", "no command to export: give the server's command after --");
    if (plan_.id.uid == 0 || plan_.id.gid == 0)
      throw LaunchError("export", "the plan runs the server as uid/gid 0; the pod never does (set exec.user)");
    labels_ = {{"app.kubernetes.io/name", o_.name}, {"app.kubernetes.io/managed-by", "mcp-jail"}};
    out_.seccomp_path = "profiles/mcp-jail/" + o_.name + ".json";

    auto sc = seccomp_profile(plan_.seccomp);
    for (auto& g : sc.gaps) out_.gaps.push_back(std::move(g));
    workload();
    out_.files.push_back({out_.seccomp_path, sc.json, 0644});
    network();
    gaps();
    return std::move(out_);
  }

 private:
  json metadata() const { return {{"name", o_.name}, {"labels", labels_}}; }

  json security_context() const {
    return {{"runAsNonRoot", true},
            {"runAsUser", plan_.id.uid},
            {"runAsGroup", plan_.id.gid},
            {"readOnlyRootFilesystem", true},
            {"allowPrivilegeEscalation", false},
            {"privileged", false},
            {"capabilities", {{"drop", {"ALL"}}}},
            {"seccompProfile", {{"type", "Localhost"}, {"localhostProfile", out_.seccomp_path}}},
            {"procMount", "Default"}};
  }

  // Variables the profile sets and --env gives; what it passes from the
  // launcher's environment is the image's business in a cluster.
  json env() {
    json e = json::array();
    std::vector<std::string> passed, copied;
    for (const auto& kv : plan_.env) {
      const auto eq = kv.find('=');
      const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      const auto cli = plan_.env_cli.find(k);
      if (cli != plan_.env_cli.end() || pr_.env.set.count(k)) {
        e.push_back({{"name", k}, {"value", v}});
        if (cli != plan_.env_cli.end() && cli->second) copied.push_back(k);
      } else {
        passed.push_back(k);
      }
    }
    out_.gaps.push_back({"env",
                         "the environment is an allowlist: the server gets only " +
                             (passed.empty() ? std::string("what the profile sets")
                                             : join(passed, ", ") + " from the launcher, and what the profile sets"),
                         "the container starts with the image's environment plus the variables the profile sets and "
                         "--env gives" +
                             (passed.empty() ? std::string() : " (" + join(passed, ", ") + " come from the image, if at all)") +
                             "; nothing removes the image's own variables"});
    if (!copied.empty())
      out_.gaps.push_back({"env", "--env " + join(copied, ", ") + " passes the launcher's value at each start",
                           "the value at export time is written into the manifest; put secrets in a Secret "
                           "(env[].valueFrom.secretKeyRef) instead"});
    return e;
  }

  void workload() {
    std::set<std::string> taken;
    json volumes = json::array(), mounts = json::array();
    std::vector<std::string> reads, masks, state;
    for (const auto& s : plan_.mounts) {
      switch (s.kind) {
        case MountKind::Bind:
          if (!s.writable) {
            reads.push_back(s.target);
            break;
          }
          if (!s.is_dir) {
            out_.gaps.push_back({"mounts", "the file " + s.target + " is writable",
                                 "not exported: a volume is a directory; the file is the image's, read-only"});
            break;
          }
          {
            const std::string name = volume_name("write", s.target, taken);
            volumes.push_back({{"name", name}, {"emptyDir", json::object()}});
            mounts.push_back({{"name", name}, {"mountPath", s.target}});
            if (!plan_.state.dir.empty() && path_is_under(s.target, plan_.state.dir)) state.push_back(s.target);
          }
          break;
        case MountKind::Tmpfs: {
          const std::string name = volume_name("tmpfs", s.target, taken);
          volumes.push_back({{"name", name}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", k8s_bytes(s.size)}}}});
          mounts.push_back({{"name", name}, {"mountPath", s.target}});
          tmpfs_.push_back(s.target);
          break;
        }
        case MountKind::Mask: masks.push_back(s.target); break;
        default: break;  // /proc, /dev, /etc files, symlinks: the runtime's and the image's
      }
    }
    if (!reads.empty())
      out_.gaps.push_back({"mounts", "only the planned paths of the host are visible, read-only: " + join(reads, ", "),
                           "the whole image is visible, read-only (readOnlyRootFilesystem); the host's paths are not"});
    if (!masks.empty())
      out_.gaps.push_back({"mounts", "filesystem.hide masks " + join(masks, ", "),
                           "no masks in a pod: keep these out of the image and of any volume that replaces an emptyDir"});
    if (!state.empty())
      out_.gaps.push_back({"mounts", "the profile's state directory (" + join(state, ", ") + ") persists between runs",
                           "an emptyDir: it starts empty in every pod; replace the volume with a PersistentVolumeClaim to "
                           "keep it"});
    if (!tmpfs_.empty())
      out_.gaps.push_back({"limits", "tmpfs " + join(tmpfs_, ", ") + " is sized: writes beyond the size fail (ENOSPC)",
                           "memory-backed emptyDirs with sizeLimit: going over gets the pod evicted, and what they hold "
                           "counts against the memory limit"});

    json resources = json::object();
    json lim = json::object();
    const auto& l = plan_.limits;
    if (l.memory) lim["memory"] = k8s_bytes(*l.memory);
    if (l.cpu) lim["cpu"] = millicores(*l.cpu);
    if (!lim.empty()) resources = {{"limits", lim}, {"requests", lim}};

    json container = {{"name", "server"},
                      {"image", o_.image},
                      {"command", o_.command},
                      {"workingDir", plan_.cwd},
                      {"env", env()},
                      {"stdin", true},
                      {"stdinOnce", true},
                      {"tty", false},
                      {"securityContext", security_context()},
                      {"resources", resources},
                      {"volumeMounts", mounts}};
    json spec = {{"automountServiceAccountToken", false},
                 {"enableServiceLinks", false},
                 {"hostNetwork", false},
                 {"hostPID", false},
                 {"hostIPC", false},
                 {"hostname", dns_label(plan_.hostname)},
                 {"restartPolicy", o_.replicas ? "Always" : "Never"},
                 {"securityContext",
                  {{"runAsNonRoot", true},
                   {"runAsUser", plan_.id.uid},
                   {"runAsGroup", plan_.id.gid},
                   {"fsGroup", plan_.id.gid},
                   {"seccompProfile", {{"type", "Localhost"}, {"localhostProfile", out_.seccomp_path}}}}},
                 {"containers", {container}},
                 {"volumes", volumes}};
    if (l.wall_time.count() > 0) {
      if (o_.replicas) {
        out_.gaps.push_back({"limits", "wall_time " + format_duration(l.wall_time) + ": the supervisor ends the jail",
                             "a Deployment has no deadline (activeDeadlineSeconds is for Pods): export without "
                             "--replicas to get one"});
      } else {
        spec["activeDeadlineSeconds"] = std::max<long long>(1, (l.wall_time.count() + 999) / 1000);
      }
    }
    if (o_.replicas) {
      json d = {{"apiVersion", "apps/v1"},
                {"kind", "Deployment"},
                {"metadata", metadata()},
                {"spec",
                 {{"replicas", *o_.replicas},
                  {"selector", {{"matchLabels", labels_}}},
                  {"template", {{"metadata", {{"labels", labels_}}}, {"spec", spec}}}}}};
      out_.files.push_back({"deployment.json", d, 0600});
    } else {
      json p = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", metadata()}, {"spec", spec}};
      out_.files.push_back({"pod.json", p, 0600});
    }
  }

  // ---- network ----------------------------------------------------------

  // The denied ranges (and metadata addresses) `net` must not reach, as
  // ipBlock excepts: those strictly inside it that allow_private does not open.
  std::vector<nf::Cidr> closed_inside(const nf::Cidr& net) const {
    std::vector<nf::Cidr> out;
    auto opened = [&](const nf::Cidr& d, bool exact) {
      return std::any_of(plan_.network.private_allowed.begin(), plan_.network.private_allowed.end(),
                         [&](const nf::Cidr& p) { return exact ? p == d : p.contains(d); });
    };
    for (const auto& d : nf::denied_ranges())
      if (net.contains(d) && !(d == net) && !opened(d, false)) out.push_back(d);
    for (const auto& m : nf::metadata_addresses())
      if (net.contains(m) && !(m == net) && !opened(m, true)) out.push_back(m);
    return out;
  }

  static json ports_json(const std::vector<std::uint16_t>& ports) {
    json p = json::array();
    for (auto port : ports)
      for (const char* proto : {"TCP", "UDP"}) p.push_back({{"protocol", proto}, {"port", port}});
    return p;
  }

  static json cilium_ports(const std::vector<std::uint16_t>& ports) {
    json p = json::array();
    for (auto port : ports)
      for (const char* proto : {"TCP", "UDP"}) p.push_back({{"port", std::to_string(port)}, {"protocol", proto}});
    return p;
  }

  void network() {
    const auto& n = plan_.network;
    if (n.mode == NetMode::Host) {
      out_.gaps.push_back({"network", "network = \"host\" (allow_host_network): the host's network",
                           "the pod's own network, unrestricted (no NetworkPolicy is written; hostNetwork stays off)"});
      return;
    }
    json egress = json::array();
    std::map<std::string, std::pair<nf::Cidr, std::vector<std::uint16_t>>> by_net;
    bool names = false;
    std::vector<std::string> dns_port;
    for (const auto& r : n.rules) {
      if (r.kind == nf::AllowRule::Kind::Address) {
        if (r.port == 53) {
          dns_port.push_back(r.str());
          continue;
        }
        auto& e = by_net[r.net.str()];
        e.first = r.net;
        e.second.push_back(r.port);
      } else {
        names = true;
      }
    }
    if (!dns_port.empty())
      out_.gaps.push_back({"network", "DNS leaves the jail only through its own filter: " + join(dns_port, ", ") + " is blocked",
                           "left out of the NetworkPolicy as well"});
    for (auto& [text, e] : by_net) {
      auto& [net, ports] = e;
      std::sort(ports.begin(), ports.end());
      ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
      json peers = json::array();
      json block = {{"cidr", net.str().find('/') == std::string::npos
                                 ? net.str() + "/" + std::to_string(net.bits())
                                 : net.str()}};
      const auto closed = closed_inside(net);
      if (!closed.empty()) {
        json ex = json::array();
        for (const auto& c : closed) ex.push_back(c.host() ? c.str() + "/" + std::to_string(c.bits()) : c.str());
        block["except"] = ex;
      }
      peers.push_back({{"ipBlock", block}});
      // allow_private holes inside an excepted range come back as peers of their own.
      for (const auto& p : n.private_allowed) {
        const bool in_closed = std::any_of(closed.begin(), closed.end(), [&](const nf::Cidr& c) { return c.contains(p); });
        if (in_closed && net.contains(p))
          peers.push_back({{"ipBlock", {{"cidr", p.host() ? p.str() + "/" + std::to_string(p.bits()) : p.str()}}}});
      }
      egress.push_back({{"to", peers}, {"ports", ports_json(ports)}});
    }
    if (names) {
      egress.push_back({{"to",
                         {{{"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", "kube-system"}}}}},
                           {"podSelector", {{"matchLabels", {{"k8s-app", "kube-dns"}}}}}}}},
                        {"ports", {{{"protocol", "UDP"}, {"port", 53}}, {{"protocol", "TCP"}, {"port", 53}}}}});
      cilium();
    }
    json np = {{"apiVersion", "networking.k8s.io/v1"},
               {"kind", "NetworkPolicy"},
               {"metadata", metadata()},
               {"spec",
                {{"podSelector", {{"matchLabels", labels_}}},
                 {"policyTypes", {"Ingress", "Egress"}},
                 {"ingress", json::array()},
                 {"egress", egress}}}};
    out_.files.push_back({"networkpolicy.json", np, 0644});
    if (n.mode == NetMode::Allowlist) {
      out_.gaps.push_back({"network",
                           "blocked packets and refused names are logged (net_block, dns_refused); the jail's resolvers are " +
                               (n.resolvers_from.empty() ? std::string("its own") : n.resolvers_from),
                           "nothing is logged by the policies themselves (Cilium's Hubble can show drops); names are "
                           "resolved by the cluster's DNS"});
      if (names)
        out_.gaps.push_back(
            {"network",
             "host names are allowed through the jail's DNS filter, which answers only the allowed names and opens "
             "the addresses it answered; private, local and metadata addresses stay closed even when a name points "
             "there",
             "a NetworkPolicy cannot name hosts: it allows DNS to the cluster resolver, nothing more. On Cilium, "
             "cilium/ciliumnetworkpolicy.json adds the names (toFQDNs, a DNS rule that lets only them be resolved, "
             "egressDeny for the private ranges). Without Cilium the names are unreachable. Cilium's \"*.example.com\" "
             "matches one label (a.example.com), the jail's any depth (a.b.example.com)"});
    }
  }

  void cilium() {
    // Names grouped by the ports they are allowed on, in the profile's order.
    auto pattern = [](const nf::AllowRule& r) -> std::string {
      switch (r.kind) {
        case nf::AllowRule::Kind::Host: return r.name;
        case nf::AllowRule::Kind::Wildcard: return "*." + r.name;
        default: return "*";
      }
    };
    std::vector<std::string> order;                            // patterns, first seen first
    std::map<std::string, std::vector<std::uint16_t>> ports_of;
    std::map<std::string, const nf::AllowRule*> rule_of;
    for (const auto& r : plan_.network.rules) {
      if (r.kind == nf::AllowRule::Kind::Address) continue;
      const std::string key = pattern(r);
      if (!rule_of.count(key)) order.push_back(key);
      rule_of[key] = &r;
      auto& ports = ports_of[key];
      if (std::find(ports.begin(), ports.end(), r.port) == ports.end()) ports.push_back(r.port);
    }
    std::vector<std::pair<std::vector<std::uint16_t>, std::vector<const nf::AllowRule*>>> groups;
    for (const auto& key : order) {
      auto ports = ports_of[key];
      std::sort(ports.begin(), ports.end());
      auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == ports; });
      if (g == groups.end()) groups.push_back({ports, {rule_of[key]}});
      else g->second.push_back(rule_of[key]);
    }

    json dns_rules = json::array();
    json egress = json::array();
    std::set<std::string> seen;
    for (const auto& [ports, rules] : groups) {
      json fqdns = json::array();
      for (const auto* r : rules) {
        if (r->kind == nf::AllowRule::Kind::Host) fqdns.push_back({{"matchName", r->name}});
        else fqdns.push_back({{"matchPattern", pattern(*r)}});
        if (seen.insert(pattern(*r)).second) dns_rules.push_back({{"matchPattern", pattern(*r)}});
      }
      egress.push_back({{"toFQDNs", fqdns}, {"toPorts", {{{"ports", cilium_ports(ports)}}}}});
    }
    egress.insert(egress.begin(),
                  json{{"toEndpoints", {{{"matchLabels", {{"io.kubernetes.pod.namespace", "kube-system"}, {"k8s-app", "kube-dns"}}}}}},
                       {"toPorts", {{{"ports", {{{"port", "53"}, {"protocol", "ANY"}}}}, {"rules", {{"dns", dns_rules}}}}}}});
    // The private-range deny, as the jail applies it to what names resolve to.
    json cidrs = json::array();
    auto opened = [&](const nf::Cidr& d, bool exact) {
      return std::any_of(plan_.network.private_allowed.begin(), plan_.network.private_allowed.end(),
                         [&](const nf::Cidr& p) { return exact ? p == d : p.contains(d); });
    };
    auto with_len = [](const nf::Cidr& c) { return c.host() ? c.str() + "/" + std::to_string(c.bits()) : c.str(); };
    for (const auto& d : nf::denied_ranges()) {
      if (opened(d, false)) continue;
      json entry = {{"cidr", with_len(d)}};
      json ex = json::array();
      for (const auto& p : plan_.network.private_allowed)
        if (d.contains(p) && !(p == d)) ex.push_back(with_len(p));
      if (!ex.empty()) entry["except"] = ex;
      cidrs.push_back(entry);
    }
    for (const auto& m : nf::metadata_addresses())
      if (!opened(m, true)) cidrs.push_back({{"cidr", with_len(m)}});
    json cnp = {{"apiVersion", "cilium.io/v2"},
                {"kind", "CiliumNetworkPolicy"},
                {"metadata", metadata()},
                {"spec",
                 {{"endpointSelector", {{"matchLabels", labels_}}},
                  {"egress", egress},
                  {"egressDeny", {{{"toCIDRSet", cidrs}}}}}}};
    out_.files.push_back({"cilium/ciliumnetworkpolicy.json", cnp, 0644});
  }

  // ---- the rest --------------------------------------------------------------

  void gaps() {
    auto& g = out_.gaps;
    const auto& l = plan_.limits;
    std::vector<std::string> rl = {"core dumps off (RLIMIT_CORE 0)"};
    if (l.nofile) rl.push_back("nofile " + std::to_string(l.nofile));
    if (l.file_size) rl.push_back("file_size " + format_size(l.file_size));
    g.push_back({"limits", "rlimits: " + join(rl, ", "), "no rlimits in a pod spec: the runtime's defaults apply"});
    if (l.pids)
      g.push_back({"limits", "pids " + std::to_string(*l.pids),
                   "no per-pod field: the kubelet's --pod-max-pids (podPidsLimit) bounds every pod of the node"});
    std::vector<std::string> extra;
    for (int i = 0; mnt::kProcMasked[i]; ++i)
      if (std::none_of(std::begin(kRuntimeMasked), std::end(kRuntimeMasked),
                       [&](const char* m) { return std::string(m) == mnt::kProcMasked[i]; }))
        extra.push_back(std::string("/proc/") + mnt::kProcMasked[i]);
    g.push_back({"mounts",
                 "/proc: the jail masks " + join(extra, ", ") +
                     " besides the runtime's usual list; no /sys; /dev holds null, zero, full, random, urandom, tty",
                 "the runtime's defaults (procMount Default): kcore, keys, timer_list, sched_debug and a few more masked, "
                 "/proc/sys read-only, /sys mounted read-only, its usual /dev"});
    std::string exec = plan_.landlock.exec_allow.empty() ? std::string("the server's command (or [exec] allow)")
                                                         : join(plan_.landlock.exec_allow, ", ");
    g.push_back({"landlock", "Landlock: only " + exec + " may be executed; file access narrowed to the planned paths",
                 "no Landlock in a pod spec: any program in the image may run; emptyDir volumes are not noexec"});
    g.push_back(memfd_gap("vm.memfd_noexec is not among the sysctls a pod may set (securityContext.sysctls takes "
                          "namespaced, allowlisted ones): a program written into a memfd can run"));
    g.push_back(supervisor_gap("nothing observes the server: denied calls fail unreported; the cluster's own logs and "
                               "events only"));
    if (auto p = protect_gap(plan_)) g.push_back(std::move(*p));
    if (auto p = pin_gap(plan_, "pin the image by digest (IMAGE@sha256:...) instead")) g.push_back(std::move(*p));
    g.push_back({"process", "a fresh IPC, UTS and cgroup namespace of its own; the jail's init (pid 1) reaps orphans",
                 "the pod's namespaces (IPC and UTS shared by the pod's containers: one container here)"});
  }

  const Plan& plan_;
  const Profile& pr_;
  const K8sOptions& o_;
  K8sExport out_;
  json labels_;
  std::vector<std::string> tmpfs_;
};

}  // namespace

std::string dns_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) out += static_cast<char>(std::tolower(u));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "mcp-server" : out;
}

std::string k8s_bytes(std::uint64_t bytes) {
  const char* units[] = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
  for (int i = 0; i < 6; ++i) {
    const std::uint64_t unit = 1ULL << (10 * (6 - i));
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + units[i];
  }
  return std::to_string(bytes);
}

K8sExport build_k8s(const Plan& plan, const Profile& profile, const K8sOptions& opts) {
  return K8sBuilder(plan, profile, opts).run();
}

}  // namespace mcpjail::exporter
