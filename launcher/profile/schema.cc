// The profile schema (mcpjail/profile_schema.hpp): every section and key of a
// profile, with its type, its checks, the member it fills and its merge rule
// for `extends`. The [pin] section is in schema_pin.cc.
#include <seccomp.h>

#include <filesystem>
#include <sstream>

#include "mcpjail/netfilter_rules.hpp"
#include "mcpjail/protect.hpp"
#include "reader.hpp"

namespace mcpjail::profile_schema {

Section pin_section();  // schema_pin.cc

namespace {

using P = Profile;
template <auto... Path>
using F = Field<Path...>;

// ---- Codecs of single keys ------------------------------------------------------

Codec<std::string> exec_user() {
  return {"String or integer",
          [](Reader& r) -> std::optional<std::string> {
            if (r.value().is_integer()) return std::to_string(r.value().as_integer());
            auto s = r.string();
            if (!s) return std::nullopt;
            if (s->empty()) {
              r.error(r.loc(), r.what() + " must be a user name, a uid, or uid:gid");
              return std::nullopt;
            }
            return s;
          },
          [](const std::string& s) { return s; }};
}

Codec<std::string> hostname() {
  return {"String: 1 to 63 letters, digits, hyphens and dots",
          [](Reader& r) -> std::optional<std::string> {
            auto s = r.string();
            if (!s) return std::nullopt;
            const bool ok = !s->empty() && s->size() <= 63 && std::all_of(s->begin(), s->end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
                            });
            if (!ok) {
              r.error(r.loc(), r.what() + " must be 1-63 letters, digits, '-' or '.'");
              return std::nullopt;
            }
            return s;
          },
          [](const std::string& s) { return s; }};
}

Codec<double> cpus() {
  return {"Number (integer or float) greater than 0, at most 1024",
          [](Reader& r) -> std::optional<double> {
            const TV& v = r.value();
            double c = -1;
            if (v.is_integer()) c = static_cast<double>(v.as_integer());
            if (v.is_floating()) c = v.as_floating();
            if (!(c > 0.0 && c <= 1024.0)) {
              r.error(r.loc(), r.what() + " must be a number of CPUs > 0 such as 1 or 0.5");
              return std::nullopt;
            }
            return c;
          },
          [](double c) {
            std::ostringstream o;
            o << c;
            return o.str();
          }};
}

Codec<std::string> audit_log() {
  return {"\"stderr\", \"none\" or a path",
          [](Reader& r) -> std::optional<std::string> {
            auto s = r.string();
            if (!s || *s == "stderr" || *s == "none") return s;
            return r.expand_path(*s, r.loc());
          },
          [](const std::string& s) { return s; }};
}

// ---- Checks of list entries (each reports what it refuses) -------------------

bool env_name(std::string_view n, bool allow_glob) {
  if (allow_glob && n.ends_with('*')) n.remove_suffix(1);
  return is_env_name(n);
}

bool syscall_name(Reader& r, const std::string& name, const SourceLoc& loc) {
  if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str()) != __NR_SCMP_ERROR) return true;
  r.error(loc, "unknown system call '" + name + "' in " + r.what() + " (x86_64 names, e.g. \"ptrace\")");
  return false;
}

// Loopback in an allow list: the jail has a loopback of its own (always
// open inside it), and the host's is not reachable through the uplink (it is
// run so that no jail address maps to the host's loopback). An entry naming
// loopback would load and do nothing: refused, with what to do instead.
std::string loopback_refusal(Reader& r, const std::string& s, const std::string& what) {
  return r.what() + " entry '" + s + "' " + what +
         ": inside the jail the loopback is the jail's own (always open, reaching only the jail), and the host's "
         "loopback is not reachable from the jail. To reach a service of the host, have it listen on an address "
         "the jail can reach and list that address (allow_private for a private one)";
}

bool is_loopback(const netfilter::Cidr& c) {
  static const std::vector<netfilter::Cidr> loop = {*netfilter::parse_cidr("127.0.0.0/8"),
                                                     *netfilter::parse_cidr("::1"),
                                                     *netfilter::parse_cidr("::ffff:127.0.0.0/104")};
  return std::any_of(loop.begin(), loop.end(), [&](const netfilter::Cidr& l) { return l.contains(c); });
}

bool allow_entry(Reader& r, const std::string& s, const SourceLoc& loc) {
  try {
    const netfilter::AllowRule rule = netfilter::parse_allow(s);
    using K = netfilter::AllowRule::Kind;
    if (rule.kind == K::Address && is_loopback(rule.net)) {
      r.error(loc, loopback_refusal(r, s, "is a loopback address"));
      return false;
    }
    // localhost and names below .localhost (RFC 6761) are loopback by
    // definition; the jail's /etc/hosts answers localhost with its own.
    if ((rule.kind == K::Host || rule.kind == K::Wildcard) &&
        (rule.name == "localhost" || rule.name.ends_with(".localhost"))) {
      r.error(loc, loopback_refusal(r, s, "names loopback"));
      return false;
    }
    if (rule.port != 53) return true;
    r.error(loc, r.what() + " entry '" + s +
                     "': port 53 cannot be allowed; the jail's DNS goes through its own filtering resolver "
                     "(set its upstream with network.dns)");
  } catch (const std::invalid_argument& e) {
    r.error(loc, r.what() + " entry: " + e.what());
  }
  return false;
}

bool private_range(Reader& r, const std::string& s, const SourceLoc& loc) {
  std::string why;
  const auto c = netfilter::parse_cidr(s, &why);
  if (!c) {
    r.error(loc, r.what() + " entry: " + why + " (write an address or a CIDR, without a port)");
    return false;
  }
  if (is_loopback(*c)) {
    r.error(loc, loopback_refusal(r, s, "is a loopback address"));
    return false;
  }
  // Outside the private and local ranges an entry opens only the host's own
  // addresses inside it; one that spans such a range is refused.
  if (!netfilter::denied_range_of(*c)) {
    std::string spans;
    for (const auto& d : netfilter::denied_ranges())
      if (c->contains(d)) spans += (spans.empty() ? "" : ", ") + d.str();
    if (!spans.empty()) {
      r.error(loc, r.what() + " entry '" + s + "' spans private and local ranges (" + spans +
                       "); list the ones to open, each on its own");
      return false;
    }
  }
  return true;
}

bool resolver(Reader& r, const std::string& s, const SourceLoc& loc) {
  std::string why;
  if (netfilter::parse_resolver(s, &why)) return true;
  r.error(loc, r.what() + " entry: " + why);
  return false;
}

bool protected_name(Reader& r, const std::string& s, const SourceLoc& loc) {
  std::string why;
  if (protect::valid_name(s, &why)) return true;
  r.error(loc, r.what() + " entry \"" + s + "\": " + why);
  return false;
}

// ---- Sections -----------------------------------------------------------------

Section top_level() {
  Key version;
  version.name = "version";
  version.type = "Integer, required, and it must be 1";
  version.merge = Merge::PerFile;
  version.missing = "missing 'version = 1' at the top of the profile";
  version.read = [](Reader& r, Layer& L) {
    if (!r.value().is_integer() || r.value().as_integer() != 1) {
      r.error(r.loc(), r.what() + " must be 1 (the only profile format so far)");
      return false;
    }
    L.p.version = 1;
    return true;
  };
  version.text = [](const Profile& p) { return std::vector<std::string>{std::to_string(p.version)}; };

  Key name = scalar<F<&P::name>>("name", a_string());
  name.merge = Merge::Own;
  name.fallback = [](Profile& p, const std::string& display) {
    p.name = std::filesystem::path(display).stem().string();
  };

  Key extends;
  extends.name = "extends";
  extends.type = "String";
  extends.merge = Merge::PerFile;
  extends.read = [](Reader& r, Layer& L) {
    auto v = r.string();
    if (!v) return false;
    L.extends_loc = r.loc();
    if (v->empty()) {
      r.error(L.extends_loc, r.what() + " must name a built-in profile or a profile file");
      return false;
    }
    L.extends = *v;
    return true;
  };
  extends.text = [](const Profile& p) {  // the files it extends, base first
    return std::vector<std::string>(p.sources.begin(), p.sources.end() - (p.sources.empty() ? 0 : 1));
  };

  const std::vector<std::string> layers = {"landlock", "limits"};
  std::string layer_list;
  for (const auto& l : layers) layer_list += (layer_list.empty() ? "" : ", ") + l;
  Key best_effort = list<F<&P::best_effort>, F<&P::best_effort_loc>>(
      "best_effort", "Array of strings, each " + alternatives(layers), Merge::AppendOnce,
      [layers, layer_list](Reader& r, const std::string& s, const SourceLoc& loc) {
        if (std::find(layers.begin(), layers.end(), s) != layers.end()) return true;
        r.error(loc, "best_effort entry '" + s + "' unknown; allowed: " + layer_list);
        return false;
      });

  return {"", {version, name, scalar<F<&P::description>>("description", a_string()), extends, best_effort}};
}

Section exec_section() {
  using E = Profile::Exec;
  return {"exec",
          {path_list<F<&P::exec, &E::allow>>("allow"),
           scalar<F<&P::exec, &E::cwd>, F<&P::exec, &E::cwd_loc>>("cwd", a_path()),
           scalar<F<&P::exec, &E::user>, F<&P::exec, &E::user_loc>>("user", exec_user()),
           scalar<F<&P::exec, &E::hostname>>("hostname", hostname())}};
}

Section env_section() {
  using E = Profile::Env;
  Key pass = list<F<&P::env, &E::pass>>("pass", "Array of variable names", Merge::AppendOnce,
                                        [](Reader& r, const std::string& s, const SourceLoc& loc) {
                                          if (env_name(s, true)) return true;
                                          r.error(loc, r.what() + " entry \"" + s +
                                                           "\" is not a variable name (letters, digits, _; a "
                                                           "trailing * matches a prefix)");
                                          return false;
                                        });
  Key set;
  set.name = "set";
  set.type = "Table of variable names and string values";
  set.merge = Merge::ByName;
  set.read = [](Reader& r, Layer& L) {
    if (!r.value().is_table()) {
      r.error(r.loc(), r.what() + " must be a table such as { NODE_ENV = \"production\" }");
      return false;
    }
    const std::string what = r.what();  // 'env.set'
    for (const auto& [k, v] : r.value().as_table()) {
      if (!env_name(k, false)) {
        r.error(key_loc(k, v), what + " key \"" + k + "\" is not a variable name");
        continue;
      }
      if (!v.is_string()) {
        r.error(loc_of(v), what.substr(0, what.size() - 1) + "." + k + "' must be a string, not " + type_name(v));
        continue;
      }
      if (auto val = r.expand(v.as_string().str, loc_of(v), false)) L.p.env.set[k] = *val;
    }
    return true;
  };
  set.apply = [](Profile& into, const Profile& from) {
    for (const auto& [k, v] : from.env.set) into.env.set[k] = v;
  };
  set.text = [](const Profile& p) {
    std::vector<std::string> out;
    for (const auto& [k, v] : p.env.set) out.push_back(k + "=" + v);
    return out;
  };
  Key home = scalar<F<&P::env, &E::home>>(
      "home", one_of<E::Home>({{"private", E::Home::Private}, {"state", E::Home::State}}, true));
  return {"env", {pass, set, home}};
}

Section filesystem_section() {
  using Fs = Profile::Filesystem;
  return {"filesystem",
          {path_list<F<&P::filesystem, &Fs::read>>("read"), path_list<F<&P::filesystem, &Fs::write>>("write"),
           path_list<F<&P::filesystem, &Fs::tmpfs>>(
               "tmpfs", "a tmpfs is always created; the optional marker '-' has no meaning here"),
           path_list<F<&P::filesystem, &Fs::hide>>(
               "hide", "hide entries are already optional (a missing path has nothing to hide)"),
           path_list<F<&P::filesystem, &Fs::exec>>("exec"),
           list<F<&P::filesystem, &Fs::protect>>("protect", "Array of relative paths", Merge::AppendOnce,
                                                  protected_name),
           list<F<&P::filesystem, &Fs::protect_home>>("protect_home", "Array of relative paths",
                                                       Merge::AppendOnce, protected_name),
           list<F<&P::filesystem, &Fs::unprotect>>("unprotect", "Array of relative paths or \"*\"",
                                                    Merge::AppendOnce, [](Reader& r, const std::string& s,
                                                                          const SourceLoc& loc) {
                                                      return s == "*" || protected_name(r, s, loc);
                                                    })}};
}

Section network_section() {
  using N = Profile::Network;
  return {"network",
          {scalar<F<&P::network, &N::mode>, F<&P::network, &N::mode_loc>>(
               "mode",
               one_of<NetMode>({{"none", NetMode::None}, {"allowlist", NetMode::Allowlist}, {"host", NetMode::Host}},
                               true)),
           list<F<&P::network, &N::allow>, F<&P::network, &N::allow_loc>>("allow", "Array of strings", Merge::Append,
                                                                        allow_entry),
           list<F<&P::network, &N::allow_private>>("allow_private", "Array of CIDRs", Merge::Append, private_range),
           list<F<&P::network, &N::dns>>("dns", "Array of addresses", Merge::Append, resolver),
           scalar<F<&P::network, &N::allow_host_network>>("allow_host_network", a_boolean())}};
}

Section limits_section() {
  using L = Profile::Limits;
  // memory, pids and cpu are cgroup limits; cgroup_loc points at the first
  // of them the profile sets.
  using Cgroup = F<&P::limits, &L::cgroup_loc>;
  return {"limits",
          {scalar<F<&P::limits, &L::memory>, Cgroup>("memory", a_size(), LocOf::FirstKey),
           scalar<F<&P::limits, &L::pids>, Cgroup>("pids", a_count(1, 4'194'304), LocOf::FirstKey),
           scalar<F<&P::limits, &L::cpu>, Cgroup>("cpu", cpus(), LocOf::FirstKey),
           scalar<F<&P::limits, &L::nofile>>("nofile", a_count(16, 1'048'576)),
           scalar<F<&P::limits, &L::file_size>>("file_size", a_size()),
           scalar<F<&P::limits, &L::tmpfs_size>>("tmpfs_size", a_size()),
           scalar<F<&P::limits, &L::wall_time>>("wall_time", a_duration())}};
}

Section seccomp_section() {
  using S = Profile::Seccomp;
  return {"seccomp",
          {scalar<F<&P::seccomp, &S::base>>(
               "base", one_of<std::string>({{"default", "default"}, {"strict", "strict"}})),
           list<F<&P::seccomp, &S::deny>>("deny", "Array of system call names", Merge::Append, syscall_name),
           list<F<&P::seccomp, &S::allow>>("allow", "Array of system call names", Merge::Append, syscall_name),
           scalar<F<&P::seccomp, &S::action>>(
               "action", one_of<SeccompAction>({{"errno", SeccompAction::Errno},
                                                {"kill", SeccompAction::Kill},
                                                {"log", SeccompAction::Log}}))}};
}

Section audit_section() {
  return {"audit", {scalar<F<&P::audit, &Profile::Audit::log>>("log", audit_log())}};
}

}  // namespace

const char* merge_name(Merge m) {
  switch (m) {
    case Merge::Override: return "override";
    case Merge::Append: return "append";
    case Merge::AppendOnce: return "append once";
    case Merge::ByName: return "merge by name";
    case Merge::Own: return "not inherited";
    case Merge::PerFile: return "every file";
  }
  return "?";
}

const std::vector<Section>& sections() {
  static const std::vector<Section> all = {top_level(),      exec_section(),   env_section(),
                                           filesystem_section(), network_section(), limits_section(),
                                           seccomp_section(), audit_section(),  pin_section()};
  return all;
}

std::vector<std::string> allowed_keys(const Section& s) {
  std::vector<std::string> out;
  for (const auto& k : s.keys) out.push_back(k.name);
  if (s.name.empty())
    for (const auto& sub : sections())
      if (!sub.name.empty()) out.push_back(sub.name);
  return out;
}

}  // namespace mcpjail::profile_schema
