// `mcp-jail export`: the OCI bundle and the Kubernetes manifests built from
// real plans, field by field, and the command line's refusals (exit 125,
// nothing left behind). No privileges needed; runc itself runs in
// test_export_runc.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>

#include "export/export.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/plan.hpp"
#include "support/scratch.hpp"

using namespace mcpjail;
using nlohmann::json;
namespace fs = std::filesystem;
namespace ex = mcpjail::exporter;

namespace {

struct World : support::ScratchDir {
  World() : ScratchDir("export") {
    dirs({"home/alice", "ws/sub", "ws/.ssh", "cache"});
    std::ofstream(d / "ws/.env") << "SECRET=1";
  }

  Invocation inv(std::vector<std::string> command = {"/bin/true", "--flag"}) const {
    Invocation i = support::invocation_as_me(p("home/alice"), p("ws"));
    i.load.state_home = p("state");
    i.load.vars["WORKSPACE"] = p("ws");
    i.host_env = {{"PATH", "/usr/bin:/bin"}, {"HOME", p("home/alice")}, {"LANG", "C.UTF-8"},
                  {"GITHUB_TOKEN", "ghp_x"}, {"API_KEY", "k-123"}};
    i.command = std::move(command);
    return i;
  }
  Profile profile(const std::string& text, const Invocation& i) const {
    return load_profile_text(text, "t.toml", d.string(), i.load);
  }
  Plan plan(const std::string& text, const Invocation& i) const { return make_plan(profile(text, i), i); }
  // The plan of base with `rel` of the tree as [filesystem] `key` (read,
  // write) and `more` after it.
  Plan base_with(const std::string& key, const std::string& rel, const std::string& more, const Invocation& i) const {
    return plan("version = 1\nextends = \"base\"\n[filesystem]\n" + key + " = [\"" + p(rel) + "\"]\n" + more, i);
  }
};

const char* kFilesystem =
    "version = 1\nname = \"fs-test\"\nextends = \"filesystem\"\n"
    "[limits]\nmemory = \"256MiB\"\npids = 32\ncpu = 0.5\nnofile = 512\nfile_size = \"16MiB\"\ntmpfs_size = \"8MiB\"\n"
    "wall_time = \"90s\"\n"
    "[env]\nset = { NODE_ENV = \"production\" }\n";

const json* mount_at(const json& config, const std::string& dest) {
  const json* found = nullptr;
  for (const auto& m : config["mounts"])
    if (m["destination"] == dest) found = &m;
  return found;
}

bool has(const json& arr, const std::string& v) {
  return std::any_of(arr.begin(), arr.end(), [&](const json& x) { return x == v; });
}

bool gap_mentions(const std::vector<ex::Gap>& gaps, const std::string& layer, const std::string& text) {
  return std::any_of(gaps.begin(), gaps.end(), [&](const ex::Gap& g) {
    return g.layer == layer && (g.jail + " " + g.here).find(text) != std::string::npos;
  });
}

}  // namespace

TEST_CASE("oci: the bundle holds what the plan does", "[export][oci]") {
  World w;
  const Invocation i = w.inv();
  const Plan plan = w.plan(kFilesystem, i);
  const std::string dir = w.p("bundle");
  const auto b = ex::build_oci(plan, dir);
  const json& c = b.config;

  SECTION("process: never uid 0, no capabilities, no_new_privs, the exact environment, the command") {
    const json& p = c["process"];
    CHECK(p["terminal"] == false);
    CHECK(p["user"]["uid"] == plan.id.uid);
    CHECK(p["user"]["gid"] == plan.id.gid);
    CHECK(p["user"]["uid"] != 0);
    CHECK(p["user"]["additionalGids"].empty());
    for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"}) {
      INFO(set);
      CHECK(p["capabilities"][set] == json::array());
    }
    CHECK(p["noNewPrivileges"] == true);
    CHECK(p["env"] == json(plan.env));
    CHECK(has(p["env"], "NODE_ENV=production"));
    for (const auto& e : p["env"]) CHECK(e.get<std::string>().rfind("GITHUB_TOKEN", 0) != 0);
    CHECK(p["args"] == json::array({"/usr/bin/true", "--flag"}));
    CHECK(p["cwd"] == w.p("ws"));
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> rl;
    for (const auto& r : p["rlimits"]) rl[r["type"]] = {r["soft"], r["hard"]};
    CHECK(rl["RLIMIT_CORE"] == std::pair<std::uint64_t, std::uint64_t>(0, 0));
    CHECK(rl["RLIMIT_NOFILE"] == std::pair<std::uint64_t, std::uint64_t>(512, 512));
    CHECK(rl["RLIMIT_FSIZE"] == std::pair<std::uint64_t, std::uint64_t>(16 << 20, 16 << 20));
  }

  SECTION("root read-only; namespaces; cgroup resources") {
    CHECK(c["root"] == json({{"path", "rootfs"}, {"readonly", true}}));
    std::set<std::string> ns;
    for (const auto& n : c["linux"]["namespaces"]) {
      CHECK_FALSE(n.contains("path"));  // all new
      ns.insert(n["type"]);
    }
    CHECK(ns == std::set<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"});
    CHECK(c["hostname"] == "mcp-jail");
    const json& r = c["linux"]["resources"];
    CHECK(r["memory"]["limit"] == 256ULL << 20);
    CHECK(r["memory"]["swap"] == 256ULL << 20);
    CHECK(r["pids"]["limit"] == 32);
    CHECK(r["cpu"]["quota"] == 50000);
    CHECK(r["cpu"]["period"] == 100000);
    CHECK(r["devices"] == json::array({{{"allow", false}, {"access", "rwm"}}}));
    CHECK(c["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO");
  }

  SECTION("binds: read-only all the way down, writable ones noexec; tmpfs sized; masks unreadable") {
    const json* usr = mount_at(c, "/usr");
    REQUIRE(usr);
    CHECK((*usr)["type"] == "bind");
    CHECK((*usr)["source"] == "/usr");
    for (const char* o : {"rbind", "ro", "rro", "nosuid", "nodev", "rnosuid", "rnodev"}) CHECK(has((*usr)["options"], o));
    CHECK_FALSE(has((*usr)["options"], "rw"));
    const json* ws = mount_at(c, w.p("ws"));
    REQUIRE(ws);
    for (const char* o : {"rbind", "rw", "nosuid", "nodev", "noexec", "rnoexec"}) CHECK(has((*ws)["options"], o));
    CHECK_FALSE(has((*ws)["options"], "ro"));
    const json* tmp = mount_at(c, "/tmp");
    REQUIRE(tmp);
    CHECK((*tmp)["type"] == "tmpfs");
    CHECK(has((*tmp)["options"], "size=8388608"));
    for (const char* o : {"nosuid", "nodev", "noexec"}) CHECK(has((*tmp)["options"], o));
    const json* env = mount_at(c, w.p("ws/.env"));
    REQUIRE(env);
    CHECK((*env)["source"] == dir + "/masks/empty");
    CHECK(has((*env)["options"], "ro"));
    const json* ssh = mount_at(c, w.p("ws/.ssh"));
    REQUIRE(ssh);
    CHECK((*ssh)["type"] == "tmpfs");
    CHECK(has((*ssh)["options"], "mode=000"));
    CHECK(has((*ssh)["options"], "ro"));
    bool mask_file = false;
    for (const auto& e : b.entries)
      if (e.path == "masks/empty") mask_file = e.kind == ex::BundleEntry::Kind::File && e.mode == 0;
    CHECK(mask_file);
    // Every mount is nosuid; none but /dev (device nodes) and devpts lacks nodev.
    for (const auto& m : c["mounts"]) {
      INFO(m.dump());
      if (m["type"] == "proc") continue;
      CHECK(has(m["options"], "nosuid"));
      if (m["destination"] != "/dev" && m["destination"] != "/dev/pts") CHECK(has(m["options"], "nodev"));
      const bool writable = !has(m["options"], "ro") && m["type"] != "proc";
      if (writable) CHECK(has(m["options"], "noexec"));
    }
  }

  SECTION("/proc masked and read-only as in the jail; a minimal read-only /dev") {
    std::set<std::string> masked, ro;
    for (const auto& p : c["linux"]["maskedPaths"]) masked.insert(p);
    for (const auto& p : c["linux"]["readonlyPaths"]) ro.insert(p);
    for (int k = 0; mnt::kProcMasked[k]; ++k) CHECK(masked.count(std::string("/proc/") + mnt::kProcMasked[k]));
    for (int k = 0; mnt::kProcReadOnly[k]; ++k) CHECK(ro.count(std::string("/proc/") + mnt::kProcReadOnly[k]));
    const json* proc = mount_at(c, "/proc");
    REQUIRE(proc);
    CHECK((*proc)["type"] == "proc");
    const json* dev = mount_at(c, "/dev");
    REQUIRE(dev);
    CHECK(has((*dev)["options"], "ro"));
    CHECK(has((*dev)["options"], "noexec"));
    CHECK(mount_at(c, "/dev/pts"));
    CHECK(mount_at(c, "/dev/shm"));
    CHECK_FALSE(mount_at(c, "/sys"));
  }

  SECTION("rootfs: mount points, merged-/usr symlinks, the generated files") {
    std::map<std::string, const ex::BundleEntry*> by;
    for (const auto& e : b.entries) by[e.path] = &e;
    REQUIRE(by.count("rootfs"));
    REQUIRE(by.count("rootfs/usr"));
    REQUIRE(by.count("rootfs/etc/passwd"));
    CHECK(by["rootfs/etc/passwd"]->content.find(":0:0:root:") != std::string::npos);
    CHECK(by["rootfs/etc/hosts"]->content.find("localhost") != std::string::npos);
    CHECK(by.count("rootfs/proc"));
    CHECK(by.count("rootfs/dev"));
    if (fs::is_symlink("/bin") && fs::read_symlink("/bin") == "usr/bin") {
      REQUIRE(by.count("rootfs/bin"));
      CHECK(by["rootfs/bin"]->kind == ex::BundleEntry::Kind::Symlink);
    }
    // The workspace lies below /tmp (a tmpfs here) or on the root: never a
    // mount point the runtime would create inside a bound host directory.
    for (const auto& e : b.entries) CHECK(e.path.find("..") == std::string::npos);
  }

  SECTION("what OCI cannot express is listed") {
    CHECK(gap_mentions(b.gaps, "landlock", "Landlock"));
    CHECK(gap_mentions(b.gaps, "supervisor", "audit"));
    CHECK(gap_mentions(b.gaps, "limits", "wall_time"));
    CHECK(gap_mentions(b.gaps, "seccomp", "EPERM"));
  }
}

TEST_CASE("oci: an allowlist gets an empty network namespace and says so, host shares the host's",
          "[export][oci]") {
  World w;
  const Invocation i = w.inv();
  const Plan allow = w.plan("version = 1\nextends = \"base\"\n[network]\nmode = \"allowlist\"\n"
                            "allow = [\"api.example.com:443\", \"203.0.113.0/24:8080\"]\ndns = [\"192.0.2.53\"]\n",
                            i);
  const auto a = ex::build_oci(allow, w.p("b1"));
  bool netns = false;
  for (const auto& n : a.config["linux"]["namespaces"]) netns |= n["type"] == "network";
  CHECK(netns);
  CHECK(gap_mentions(a.gaps, "network", "NO NETWORK"));
  CHECK(gap_mentions(a.gaps, "network", "api.example.com:443"));

  const Plan host = w.plan("version = 1\nextends = \"base\"\n[network]\nmode = \"host\"\nallow_host_network = true\n", i);
  const auto h = ex::build_oci(host, w.p("b2"));
  for (const auto& n : h.config["linux"]["namespaces"]) CHECK(n["type"] != "network");
  CHECK(gap_mentions(h.gaps, "network", "host"));
}

TEST_CASE("oci: a writable mount the server runs from stays executable, and says why", "[export][oci]") {
  World w;
  fs::copy_file("/bin/true", w.p("ws/tool"));
  fs::permissions(w.p("ws/tool"), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const Invocation i = w.inv({w.p("ws/tool")});
  const Plan plan = w.plan("version = 1\nextends = \"filesystem\"\n", i);
  const auto b = ex::build_oci(plan, w.p("b"));
  const json* ws = mount_at(b.config, w.p("ws"));
  REQUIRE(ws);
  CHECK_FALSE(has((*ws)["options"], "noexec"));
  CHECK(gap_mentions(b.gaps, "mounts", w.p("ws/tool")));
}

TEST_CASE("oci: a mount point inside a bound host directory that lacks it is refused", "[export][oci]") {
  World w;
  const Invocation i = w.inv();
  // ws is bound read-only; the tmpfs below it would have to be created in the host's ws.
  const Plan plan = w.base_with("read", "ws", "tmpfs = [\"" + w.p("ws/new-dir") + "\"]\n", i);
  CHECK_THROWS_AS(ex::build_oci(plan, w.p("b")), LaunchError);
  CHECK_FALSE(fs::exists(w.p("ws/new-dir")));
}

TEST_CASE("oci: a bind from inside a writable tree, or a bundle inside one, is refused", "[export][oci]") {
  // runc follows symlinks in bind sources at every start: a server could
  // turn ws/sub's parent into a symlink between two starts.
  World w;
  const Invocation i = w.inv();
  const Plan nested = w.base_with("write", "ws", "read = [\"" + w.p("ws/sub") + "\"]\n", i);
  try {
    ex::build_oci(nested, w.p("b"));
    FAIL("exported");
  } catch (const LaunchError& e) {
    CHECK(std::string(e.what()).find("runc follows symlinks in bind sources") != std::string::npos);
  }
  const Plan fs_plan = w.plan("version = 1\nextends = \"filesystem\"\n", i);
  try {
    ex::build_oci(fs_plan, w.p("ws/bundle"));
    FAIL("exported");
  } catch (const LaunchError& e) {
    CHECK(std::string(e.what()).find("could rewrite its own bundle") != std::string::npos);
  }
  CHECK_NOTHROW(ex::build_oci(fs_plan, w.p("elsewhere")));
}

TEST_CASE("k8s: least privilege, field by field", "[export][k8s]") {
  World w;
  Invocation i = w.inv({});
  i.require_command = false;
  i.env_args = {{"API_KEY", std::nullopt}, {"MODE", std::string("fast")}};
  const Profile pr = w.profile(kFilesystem, i);
  const Plan plan = make_plan(pr, i);
  ex::K8sOptions o;
  o.image = "registry.example/fs@sha256:0123";
  o.name = "fs-test";
  o.command = {"node", "/app/dist/index.js", w.p("ws")};
  const auto k = ex::build_k8s(plan, pr, o);

  std::map<std::string, json> files;
  for (const auto& f : k.files) files[f.path] = f.json;
  REQUIRE(files.count("pod.json"));
  REQUIRE(files.count("networkpolicy.json"));
  REQUIRE(files.count("profiles/mcp-jail/fs-test.json"));
  CHECK_FALSE(files.count("cilium/ciliumnetworkpolicy.json"));
  CHECK(k.seccomp_path == "profiles/mcp-jail/fs-test.json");
  for (const auto& f : k.files)
    if (f.path == "pod.json") CHECK(f.mode == 0600);  // it holds the environment

  const json& pod = files["pod.json"];
  CHECK(pod["apiVersion"] == "v1");
  CHECK(pod["kind"] == "Pod");
  CHECK(pod["metadata"]["name"] == "fs-test");
  const json& spec = pod["spec"];
  CHECK(spec["automountServiceAccountToken"] == false);
  CHECK(spec["enableServiceLinks"] == false);
  CHECK(spec["hostNetwork"] == false);
  CHECK(spec["hostPID"] == false);
  CHECK(spec["hostIPC"] == false);
  CHECK(spec["restartPolicy"] == "Never");
  CHECK(spec["activeDeadlineSeconds"] == 90);
  CHECK(spec["securityContext"]["runAsNonRoot"] == true);
  CHECK(spec["securityContext"]["runAsUser"] != 0);
  CHECK(spec["securityContext"]["seccompProfile"]["type"] == "Localhost");
  REQUIRE(spec["containers"].size() == 1);
  const json& c = spec["containers"][0];
  CHECK(c["image"] == o.image);
  CHECK(c["command"] == json(o.command));
  CHECK(c["stdin"] == true);
  CHECK(c["stdinOnce"] == true);
  CHECK(c["tty"] == false);
  CHECK(c["workingDir"] == w.p("ws"));
  const json& sc = c["securityContext"];
  CHECK(sc["runAsNonRoot"] == true);
  CHECK(sc["runAsUser"] == plan.id.uid);
  CHECK(sc["runAsUser"] != 0);
  CHECK(sc["runAsGroup"] == plan.id.gid);
  CHECK(sc["readOnlyRootFilesystem"] == true);
  CHECK(sc["allowPrivilegeEscalation"] == false);
  CHECK(sc["privileged"] == false);
  CHECK(sc["capabilities"] == json({{"drop", {"ALL"}}}));
  CHECK_FALSE(sc["capabilities"].contains("add"));
  CHECK(sc["seccompProfile"] == json({{"type", "Localhost"}, {"localhostProfile", "profiles/mcp-jail/fs-test.json"}}));
  CHECK(c["resources"]["limits"] == json({{"memory", "256Mi"}, {"cpu", "500m"}}));
  CHECK(c["resources"]["requests"] == c["resources"]["limits"]);

  // Environment: what the profile sets and --env gives, nothing passed through.
  std::map<std::string, std::string> env;
  for (const auto& e : c["env"]) env[e["name"]] = e["value"];
  CHECK(env == std::map<std::string, std::string>{{"NODE_ENV", "production"}, {"API_KEY", "k-123"}, {"MODE", "fast"}});
  CHECK(gap_mentions(k.gaps, "env", "API_KEY"));
  CHECK(gap_mentions(k.gaps, "env", "PATH"));

  // Volumes: the workspace an emptyDir named for a PVC to replace; /tmp in memory, sized.
  std::map<std::string, json> vols, mounts;
  for (const auto& v : spec["volumes"]) vols[v["name"]] = v;
  for (const auto& m : c["volumeMounts"]) mounts[m["mountPath"]] = m;
  REQUIRE(mounts.count(w.p("ws")));
  const std::string wsvol = mounts[w.p("ws")]["name"];
  CHECK(wsvol.rfind("write-", 0) == 0);
  CHECK(wsvol == ex::dns_label(wsvol));
  CHECK(vols[wsvol]["emptyDir"] == json::object());
  REQUIRE(mounts.count("/tmp"));
  const json& tmp = vols[mounts["/tmp"]["name"].get<std::string>()];
  CHECK(tmp["emptyDir"] == json({{"medium", "Memory"}, {"sizeLimit", "8Mi"}}));
  // the server's HOME, private to the launch: in memory too
  REQUIRE(mounts.count("/mcp-jail/home"));
  CHECK(vols[mounts["/mcp-jail/home"]["name"].get<std::string>()]["emptyDir"]["medium"] == "Memory");
  CHECK(mounts.size() == 3);  // nothing of the host's read paths

  // No ingress; no egress (network none).
  const json& np = files["networkpolicy.json"];
  CHECK(np["apiVersion"] == "networking.k8s.io/v1");
  CHECK(np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "fs-test");
  CHECK(np["spec"]["policyTypes"] == json::array({"Ingress", "Egress"}));
  CHECK(np["spec"]["ingress"] == json::array());
  CHECK(np["spec"]["egress"] == json::array());

  CHECK(files["profiles/mcp-jail/fs-test.json"] == ex::seccomp_profile(plan.seccomp).json);
  CHECK(gap_mentions(k.gaps, "mounts", ".env"));      // hide has no pod form
  CHECK(gap_mentions(k.gaps, "limits", "pids 32"));   // no per-pod pids limit
  CHECK(gap_mentions(k.gaps, "limits", "nofile"));    // no rlimits
  CHECK(gap_mentions(k.gaps, "landlock", "Landlock"));
  CHECK(gap_mentions(k.gaps, "supervisor", "audit"));
}

TEST_CASE("k8s: --replicas makes a Deployment, and wall_time is then listed", "[export][k8s]") {
  World w;
  Invocation i = w.inv({});
  i.require_command = false;
  const Profile pr = w.profile(kFilesystem, i);
  const Plan plan = make_plan(pr, i);
  ex::K8sOptions o;
  o.image = "img";
  o.name = "fs";
  o.replicas = 3;
  o.command = {"server"};
  const auto k = ex::build_k8s(plan, pr, o);
  const json* d = nullptr;
  for (const auto& f : k.files)
    if (f.path == "deployment.json") d = &f.json;
  REQUIRE(d);
  CHECK((*d)["apiVersion"] == "apps/v1");
  CHECK((*d)["spec"]["replicas"] == 3);
  CHECK((*d)["spec"]["selector"]["matchLabels"] == (*d)["spec"]["template"]["metadata"]["labels"]);
  const json& spec = (*d)["spec"]["template"]["spec"];
  CHECK(spec["restartPolicy"] == "Always");
  CHECK_FALSE(spec.contains("activeDeadlineSeconds"));
  CHECK(spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] == true);
  CHECK(gap_mentions(k.gaps, "limits", "wall_time"));
}

TEST_CASE("k8s: the allowlist as a NetworkPolicy and a CiliumNetworkPolicy", "[export][k8s]") {
  World w;
  Invocation i = w.inv({});
  i.require_command = false;
  const Profile pr = w.profile(
      "version = 1\nextends = \"base\"\n[network]\nmode = \"allowlist\"\n"
      "allow = [\"api.example.com:443\", \"*.cdn.example.com:443\", \"*:80\", \"0.0.0.0/0:8443\", "
      "\"10.1.2.0/24:5432\"]\nallow_private = [\"10.1.2.0/24\"]\ndns = [\"192.0.2.53\"]\n",
      i);
  const Plan plan = make_plan(pr, i);
  ex::K8sOptions o;
  o.image = "img";
  o.name = "net";
  o.command = {"server"};
  const auto k = ex::build_k8s(plan, pr, o);
  std::map<std::string, json> files;
  for (const auto& f : k.files) files[f.path] = f.json;
  REQUIRE(files.count("networkpolicy.json"));
  REQUIRE(files.count("cilium/ciliumnetworkpolicy.json"));

  const json& egress = files["networkpolicy.json"]["spec"]["egress"];
  const json* any = nullptr;
  const json* priv = nullptr;
  const json* dns = nullptr;
  for (const auto& r : egress) {
    const json& to = r["to"][0];
    if (to.contains("ipBlock") && to["ipBlock"]["cidr"] == "0.0.0.0/0") any = &r;
    if (to.contains("ipBlock") && to["ipBlock"]["cidr"] == "10.1.2.0/24") priv = &r;
    if (to.contains("podSelector")) dns = &r;
    for (const auto& p : r["ports"]) CHECK((r.contains("to") && (p["port"] != 53 || to.contains("podSelector"))));
  }
  REQUIRE(any);
  // 0.0.0.0/0 reaches the public internet only: every private, local and
  // metadata range inside it is excepted, except what allow_private opens
  // (10.1.2.0/24 comes back as a peer of its own).
  std::set<std::string> except;
  for (const auto& e : (*any)["to"][0]["ipBlock"]["except"]) except.insert(e);
  for (const char* r : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16"})
    CHECK(except.count(r));
  bool hole = false;
  for (const auto& peer : (*any)["to"]) hole |= peer.contains("ipBlock") && peer["ipBlock"]["cidr"] == "10.1.2.0/24";
  CHECK(hole);
  CHECK((*any)["ports"] == json::array({{{"protocol", "TCP"}, {"port", 8443}}, {{"protocol", "UDP"}, {"port", 8443}}}));
  REQUIRE(priv);
  CHECK_FALSE((*priv)["to"][0]["ipBlock"].contains("except"));
  REQUIRE(dns);  // names: DNS to the cluster resolver

  const json& cnp = files["cilium/ciliumnetworkpolicy.json"];
  CHECK(cnp["apiVersion"] == "cilium.io/v2");
  CHECK(cnp["kind"] == "CiliumNetworkPolicy");
  CHECK(cnp["spec"]["endpointSelector"]["matchLabels"]["app.kubernetes.io/name"] == "net");
  std::set<std::string> fqdn, dns_rules;
  for (const auto& r : cnp["spec"]["egress"]) {
    for (const auto& f : r.value("toFQDNs", json::array()))
      fqdn.insert(f.contains("matchName") ? "name:" + f["matchName"].get<std::string>()
                                          : "pattern:" + f["matchPattern"].get<std::string>());
    for (const auto& tp : r["toPorts"])
      if (tp.contains("rules"))
        for (const auto& d : tp["rules"]["dns"]) dns_rules.insert(d["matchPattern"]);
  }
  CHECK(fqdn == std::set<std::string>{"name:api.example.com", "pattern:*.cdn.example.com", "pattern:*"});
  CHECK(dns_rules == std::set<std::string>{"api.example.com", "*.cdn.example.com", "*"});
  std::set<std::string> denied;
  for (const auto& c : cnp["spec"]["egressDeny"][0]["toCIDRSet"]) denied.insert(c["cidr"]);
  CHECK(denied.count("169.254.169.254/32"));
  CHECK(denied.count("10.0.0.0/8"));
  CHECK(gap_mentions(k.gaps, "network", "Cilium"));
}

TEST_CASE("k8s: names and quantities", "[export]") {
  CHECK(ex::dns_label("filesystem") == "filesystem");
  CHECK(ex::dns_label("My_Profile.v2") == "my-profile-v2");
  CHECK(ex::dns_label("--") == "mcp-server");
  CHECK(ex::dns_label(std::string(100, 'a')).size() == 63);
  CHECK(ex::k8s_bytes(512ULL << 20) == "512Mi");
  CHECK(ex::k8s_bytes(64 << 10) == "64Ki");
  CHECK(ex::k8s_bytes(1ULL << 30) == "1Gi");
  CHECK(ex::k8s_bytes(1000) == "1000");
}

// ---- the command line ---------------------------------------------------------

namespace {

struct Result {
  int status = -1;
  std::string err;
};

Result run_export(const std::vector<std::string>& args) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(p[1], 2);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    std::vector<char*> argv;
    std::string bin = MCPJAIL_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(p[1]);
  Result r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) r.err.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace

TEST_CASE("cli: bad input exits 125 with the fix, and leaves nothing behind", "[export][cli]") {
  World w;
  const std::string out = w.p("out");
  SECTION("an unknown format") {
    auto r = run_export({"export", "docker", "base", "-o", out, "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK(r.err.find("unknown export format 'docker': use oci") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  }
  SECTION("k8s without --image") {
    auto r = run_export({"export", "k8s", "base", "-o", out, "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK(r.err.find("needs --image IMAGE") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  }
  SECTION("--image given to oci") {
    auto r = run_export({"export", "oci", "base", "--image", "x", "-o", out, "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK(r.err.find("--image belongs to export k8s") != std::string::npos);
  }
  SECTION("a directory that is not empty") {
    fs::create_directories(out);
    std::ofstream(out + "/keep") << "mine";
    auto r = run_export({"export", "oci", "base", "-o", out, "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK(r.err.find("is not empty; choose a new directory or empty this one") != std::string::npos);
    CHECK(fs::exists(out + "/keep"));
    CHECK_FALSE(fs::exists(out + "/config.json"));
  }
  SECTION("a directory whose parent is missing") {
    auto r = run_export({"export", "oci", "base", "-o", w.p("no/such/dir"), "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK(r.err.find("does not exist: create it first") != std::string::npos);
  }
  SECTION("a file where the directory should be") {
    std::ofstream(out) << "x";
    auto r = run_export({"export", "oci", "base", "-o", out, "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK(r.err.find("exists and is not a directory") != std::string::npos);
  }
  SECTION("a directory this user cannot write") {
    fs::create_directories(out);
    if (::geteuid() == 0) {
      // root writes anywhere it can: a read-only place instead.
      auto r = run_export({"export", "oci", "base", "-o", "/proc/mcpjail-export-test", "--", "/bin/true"});
      CHECK(r.status == 125);
      CHECK(r.err.find("cannot create -o /proc/mcpjail-export-test") != std::string::npos);
    } else {
      fs::permissions(out, fs::perms::owner_read | fs::perms::owner_exec);
      auto r = run_export({"export", "oci", "base", "-o", out, "--", "/bin/true"});
      CHECK(r.status == 125);
      CHECK(r.err.find("is not writable by this user") != std::string::npos);
      fs::permissions(out, fs::perms::owner_all);
    }
  }
  SECTION("no command, no -o, a bad --name, a bad --replicas") {
    CHECK(run_export({"export", "oci", "base", "-o", out}).status == 125);
    CHECK(run_export({"export", "oci", "base", "--", "/bin/true"}).status == 125);
    auto n = run_export({"export", "k8s", "base", "--image", "i", "--name", "Bad_Name", "-o", out, "--", "x"});
    CHECK(n.status == 125);
    CHECK(n.err.find("--name bad-name") != std::string::npos);
    CHECK(run_export({"export", "k8s", "base", "--image", "i", "--replicas", "0", "-o", out, "--", "x"}).status == 125);
    CHECK_FALSE(fs::exists(out));
  }
  SECTION("a plan that cannot be exported removes the directory it made") {
    auto r = run_export({"export", "oci", "base", "-o", out, "--", "/no/such/command"});
    CHECK(r.status == 125);
    CHECK_FALSE(fs::exists(out));
  }
}

TEST_CASE("cli: the written bundle and manifests, and the list on stderr", "[export][cli]") {
  World w;
  const std::string out = w.p("bundle");
  auto r = run_export({"export", "oci", "base", "-o", out, "--", "/bin/true"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.err.find("Landlock") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat((out + "/config.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::lstat((out + "/rootfs/usr").c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  std::ifstream readme(out + "/README.md");
  const std::string text((std::istreambuf_iterator<char>(readme)), {});
  CHECK(text.find("runc run --bundle " + out) != std::string::npos);
  CHECK(text.find("## What the OCI bundle cannot express") != std::string::npos);
  CHECK(text.find("Landlock") != std::string::npos);
  std::ifstream cfg(out + "/config.json");
  const json c = json::parse(cfg);
  CHECK(c["process"]["args"] == json::array({"/usr/bin/true"}));

  const std::string k = w.p("k8s");
  auto r2 = run_export({"export", "k8s", "base", "--image", "debian:12-slim", "--replicas", "2", "-o", k, "--", "true"});
  INFO(r2.err);
  REQUIRE(r2.status == 0);
  CHECK(fs::exists(k + "/deployment.json"));
  CHECK(fs::exists(k + "/networkpolicy.json"));
  CHECK(fs::exists(k + "/profiles/mcp-jail/base.json"));
  CHECK(fs::exists(k + "/README.md"));
  CHECK(r2.err.find("pids") == std::string::npos);  // base sets no pids limit: nothing to list
  CHECK(r2.err.find("rlimits") != std::string::npos);
}
