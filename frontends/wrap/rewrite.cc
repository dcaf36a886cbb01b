// `mcp-jail wrap`: rewrite an MCP host configuration so that its stdio servers
// start through `mcp-jail run`. See mcpjail/frontends/wrap.hpp for the
// shapes, the rules and what is left alone.
//
// The file is edited in place, not re-serialised: the JSONC scanner
// (jsonc.hpp) validates the whole document and finds the byte spans of the
// servers' "command" and "args" values, and only those spans are replaced.
// Comments, key order, spacing and unknown keys survive, and the diff shows
// exactly what changed.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "catalog.hpp"
#include "config.hpp"
#include "jsonc.hpp"
#include "match.hpp"
#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/toml_text.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/frontends/wrap.hpp"
#include "mcpjail/pin.hpp"
#include "mcpjail/plan/runtime_python.hpp"
#include "mcpjail/profile.hpp"
#include "mcpjail/text.hpp"

namespace mcpjail {

namespace {

using nlohmann::json;
using namespace jsonc;
using namespace wrap;

// What a profile asks for, found by loading it (built-ins load from memory).
struct ProfileInfo {
  bool loadable = false;        // with the variables wrap can supply
  bool needs_workspace = false; // ${WORKSPACE}
  std::vector<std::string> needs;  // the catalog's variables it cannot load without (REPO)
  std::string error;            // why not loadable
  bool no_network = false;       // network = "none"
  bool npm_registry = false;     // network reaches registry.npmjs.org:443 (host, or an allowlist entry)
  std::string name;              // the profile's name (its ${PROFILE_STATE})
  std::vector<std::string> env_pass;
  std::map<std::string, std::string> env_set;
  // Its write paths that no variable wrap fills names (those are the
  // entry's --var values): where a profile wrap writes must not go.
  std::vector<std::string> writes;
};

ProfileInfo inspect_profile(const std::string& spec, const std::string& home) {
  ProfileInfo info;
  LoadOptions lo;
  lo.home = home.starts_with("/") ? home : "/home/user";
  lo.pwd = "/";
  // The variables of the catalog's rows (catalog.cc) besides WORKSPACE.
  std::set<std::string> row_vars;
  for (const auto& row : catalog())
    for (const auto& pa : row.paths)
      if (*pa.var && std::string_view(pa.var) != "WORKSPACE") row_vars.insert(pa.var);
  auto attempt = [&](bool with_workspace, const std::set<std::string>& extra = {}) -> bool {
    lo.vars.clear();
    if (with_workspace) lo.vars["WORKSPACE"] = "/mcp-jail-wrap/workspace";
    for (const auto& v : extra) lo.vars[v] = "/mcp-jail-wrap/" + v;
    try {
      const Profile p = load_profile(spec, lo);
      info.env_pass = p.env.pass;
      info.env_set = p.env.set;
      info.no_network = p.network.mode == NetMode::None;
      info.npm_registry = p.network.mode == NetMode::Host;
      if (p.network.mode == NetMode::Allowlist)
        for (const auto& a : p.network.allow)
          if (a == "*:443" || a == "registry.npmjs.org:443" || a == "*.npmjs.org:443") info.npm_registry = true;
      info.name = p.name;
      info.writes.clear();
      for (const auto& w : p.filesystem.write)
        if (w.path.find("/mcp-jail-wrap/") == std::string::npos) info.writes.push_back(w.path);
      return true;
    } catch (const std::exception& e) {
      info.error = first_line(e.what());
      return false;
    }
  };
  if (attempt(false)) {
    info.loadable = true;
  } else if (attempt(true)) {
    info.loadable = info.needs_workspace = true;
    info.error.clear();
  } else if (const std::string first_error = info.error; attempt(false, row_vars) || attempt(true, row_vars)) {
    info.loadable = true;
    info.needs_workspace = !attempt(false, row_vars);
    for (const auto& v : row_vars) {
      std::set<std::string> without = row_vars;
      without.erase(v);
      if (!attempt(info.needs_workspace, without)) info.needs.push_back(v);
    }
    attempt(info.needs_workspace, row_vars);
    info.error.clear();
  } else {
    info.error = first_error;
  }
  return info;
}

bool env_passes(const ProfileInfo& info, const std::string& name) {
  if (info.env_set.count(name)) return true;
  for (const auto& p : info.env_pass) {
    if (p.ends_with("*") ? name.starts_with(std::string_view(p).substr(0, p.size() - 1)) : name == p) return true;
  }
  return false;
}

bool is_builtin(std::string_view name) {
  for (const auto& b : builtin_profiles())
    if (name == b.name) return true;
  return false;
}

// The values of a catalog path argument in `tokens`: the option's value, or
// (options {""}) each argument after `index` that is not an option.
std::vector<std::string> path_arg_values(const PathArg& pa, const std::vector<std::string>& tokens, std::size_t index) {
  std::vector<std::string> out;
  if (pa.options.size() == 1 && !*pa.options[0]) {
    for (std::size_t i = index + 1; i < tokens.size(); ++i)
      if (!tokens[i].starts_with("-")) out.push_back(tokens[i]);
    return out;
  }
  if (auto v = option_value(tokens, 0, std::vector<std::string>(pa.options.begin(), pa.options.end())))
    out.push_back(*v);
  return out;
}

class Wrapper {
 public:
  Wrapper(std::string_view original, const WrapOptions& o) : original_(original), opts_(o) {
    for (const auto& b : builtin_profiles())
      if (std::string_view(b.name) != "base") candidates_.emplace_back(b.name);
  }

  WrapResult run() {
    if (opts_.jail_path.empty() || !opts_.jail_path.starts_with("/"))
      throw WrapError("the path of mcp-jail must be absolute, not \"" + opts_.jail_path + "\"");
    quote(opts_.jail_path);
    if (!opts_.profile.empty()) {
      quote(opts_.profile);
      const ProfileInfo& info = profile_info(opts_.profile);
      if (!info.loadable) throw WrapError("--profile " + opts_.profile + ": " + info.error);
    }
    for (const auto& [server, profile] : opts_.server_profiles) {
      quote(profile);
      const ProfileInfo& info = profile_info(profile);
      if (!info.loadable) throw WrapError("--profile " + server + "=" + profile + ": " + info.error);
    }
    HostConfig config = read_host_config(original_);
    s_ = std::move(config.blanked);
    nl_ = config.nl;
    std::vector<std::string> names;
    for (const auto& sec : config.sections)
      for (const auto& m : members(s_, sec.value)) {
        names.push_back(m.key);
        server(sec.name, m);
      }
    std::set<std::string> used;
    for (auto& p : pending_) finish_generated(p, used);
    for (const auto& [server, profile] : opts_.server_profiles)
      if (std::find(names.begin(), names.end(), server) == names.end())
        throw WrapError("--profile " + server + "=" + profile + ": no server called \"" + server + "\" in this file");

    result_.changed = !edits_.empty();
    result_.text = apply_edits(original_, std::move(edits_));
    return std::move(result_);
  }

 private:
  const ProfileInfo& profile_info(const std::string& spec) {
    auto it = profiles_.find(spec);
    if (it != profiles_.end()) return it->second;
    if (is_profile_path(spec)) return profiles_.emplace(spec, inspect_profile(spec, opts_.home)).first->second;
    // Built-in profiles never change: inspect each once per process.
    static std::mutex mu;
    static std::map<std::pair<std::string, std::string>, ProfileInfo> builtin;
    std::lock_guard<std::mutex> lock(mu);
    auto key = std::make_pair(spec, opts_.home);
    auto b = builtin.find(key);
    if (b == builtin.end()) b = builtin.emplace(key, inspect_profile(spec, opts_.home)).first;
    return profiles_.emplace(spec, b->second).first->second;
  }

  // For a variable the profile sets to a path, the entry's own value when it
  // is a path too and wrap may look at the host (env_file_dir set): the
  // directory to make writable (the server replaces the file by renaming a
  // new one over it, so the file alone would not do) unless that is /, a
  // top-level directory, or the home directory or above it; and the path as
  // written. nullopt: the profile's value stays.
  std::optional<std::pair<std::string, std::string>> own_path(const std::vector<Member>& ms, const std::string& name,
                                                              const std::string& profile_value) const {
    if (opts_.env_file_dir.empty() || !profile_value.starts_with("/")) return std::nullopt;
    const Member* e = find(ms, "env");
    if (!e || s_[e->value.b] != '{') return std::nullopt;
    const Member* v = find(members(s_, e->value), name);
    if (!v) return std::nullopt;
    const json val = value_of(s_, v->value);
    if (!val.is_string()) return std::nullopt;
    const std::string written = val.get<std::string>();
    std::string host = written;
    if (host.starts_with("~/") && opts_.home.starts_with("/")) host = opts_.home + host.substr(1);
    if (!host.starts_with("/") || host.find("/../") != std::string::npos || host.ends_with("/..")) return std::nullopt;
    struct stat st {};
    if (::stat(host.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return std::nullopt;
    const std::string dir = host.substr(0, host.rfind('/'));
    const auto depth = std::count(dir.begin(), dir.end(), '/');
    const std::string home = opts_.home.ends_with("/") ? opts_.home.substr(0, opts_.home.size() - 1) : opts_.home;
    const bool home_or_above = !home.empty() && (home == dir || home.starts_with(dir + "/"));
    if (depth < 2 || home_or_above || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
    return std::make_pair(dir, written);
  }

  // The names in an entry's "env" object, in file order, each once.
  std::vector<std::string> env_keys(const std::vector<Member>& ms) const {
    std::vector<std::string> keys;
    const Member* e = find(ms, "env");
    if (!e || s_[e->value.b] != '{') return keys;
    for (const auto& k : members(s_, e->value))
      if (std::find(keys.begin(), keys.end(), k.key) == keys.end()) keys.push_back(k.key);
    return keys;
  }

  // An entry wrapped already is left as it is; but "env" names that neither
  // an --env of its arguments nor its profile passes on reach mcp-jail and
  // stop there (an entry wrapped before wrap wrote --env, or by hand).
  std::string already_wrapped_note(const std::vector<Member>& ms, const std::vector<std::string>& args) {
    std::string note = "already runs through mcp-jail";
    // The arguments as `mcp-jail run` reads them: the server's own (from its
    // command on, with or without "--") are not mcp-jail's.
    cli::Arguments run;
    try {
      run = cli::parse(cli::command("run"), std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const cli::UsageError&) {
      return note;  // mcp-jail would refuse this line; nothing is claimed
    }
    std::vector<std::string> passed;
    for (const auto& e : run.values("env")) passed.push_back(e.substr(0, e.find('=')));
    // What it may write: no profile wrap writes goes there.
    for (const auto& w : run.values("write")) note_writable(w);
    for (const auto& v : run.values("var"))
      if (const auto eq = v.find('='); eq != std::string::npos && (v[eq + 1] == '/' || v[eq + 1] == '$' || v[eq + 1] == '~'))
        note_writable(v.substr(eq + 1));
    const std::string& profile = run.operand;
    // What the profile passes decides too; when it cannot be inspected
    // (a variable wrap cannot tell), nothing is claimed.
    if (profile.empty()) return note;
    const ProfileInfo& info = profile_info(profile);
    if (!info.loadable) {
      unknown_writable_ = true;
      return note;
    }
    for (const auto& w : info.writes) note_writable(w);
    std::string missing;
    for (const auto& name : env_keys(ms)) {
      if (std::find(passed.begin(), passed.end(), name) != passed.end()) continue;
      if (env_passes(info, name) || !is_env_name(name)) continue;
      missing += (missing.empty() ? "" : ", ") + name;
    }
    if (!missing.empty())
      note += "; env " + missing + " reach mcp-jail but not the server: add \"--env\", \"NAME\" before the server's command for each";
    return note;
  }

  void server(const std::string& sec, const Member& m) {
    ServerReport r;
    r.section = sec;
    r.name = m.key;
    auto done = [&](WrapAction a, std::string note) {
      r.action = a;
      r.note = std::move(note);
      result_.servers.push_back(std::move(r));
    };
    if (s_[m.value.b] != '{') return done(WrapAction::Skipped, std::string("the entry is ") + kind(s_[m.value.b]) + ", not an object");
    const auto ms = members(s_, m.value);

    for (const char* key : {"type", "transportType"}) {
      if (const Member* t = find(ms, key)) {
        const json tv = value_of(s_, t->value);
        if (!tv.is_string()) return done(WrapAction::Skipped, std::string("\"") + key + "\" is not a string");
        if (tv.get<std::string>() != "stdio")
          return done(WrapAction::NotStdio, "not a stdio server (" + std::string(key) + " \"" + tv.get<std::string>() + "\")");
      }
    }
    if (!find(ms, "type") && !find(ms, "transportType"))
      for (const char* key : {"url", "serverUrl"})
        if (find(ms, key)) return done(WrapAction::NotStdio, std::string("not a stdio server (has \"") + key + "\")");

    const Member* cmd_m = find(ms, "command");
    if (!cmd_m) return done(WrapAction::Skipped, "no \"command\"");
    const json cmd_v = value_of(s_, cmd_m->value);
    if (!cmd_v.is_string() || cmd_v.get<std::string>().empty())
      return done(WrapAction::Skipped, "\"command\" is not a non-empty string");
    const std::string command = cmd_v.get<std::string>();
    const Member* args_m = find(ms, "args");
    std::vector<std::string> args;
    if (args_m) {
      if (s_[args_m->value.b] != '[') return done(WrapAction::Skipped, "\"args\" is not an array");
      auto a = string_array(s_, args_m->value);
      if (!a) return done(WrapAction::Skipped, "\"args\" holds something other than strings");
      args = std::move(*a);
    }
    std::optional<std::string> cwd;
    if (const Member* c = find(ms, "cwd")) {
      const json cv = value_of(s_, c->value);
      if (cv.is_string()) cwd = cv.get<std::string>();
    }

    if (base_name(command) == "mcp-jail") {
      if (!args.empty() && args[0] == "run") return done(WrapAction::AlreadyWrapped, already_wrapped_note(ms, args));
      return done(WrapAction::Skipped, "the command is mcp-jail itself");
    }
    if (container_launcher(command))
      return done(WrapAction::Skipped, "runs in a container (" + base_name(command) +
                                           "); its runtime isolates it, and a jail would cut it off from the daemon. "
                                           "`mcp-jail export oci|k8s PROFILE` writes a profile's jail for a container "
                                           "runtime instead");

    // Which server is this? The catalog (catalog.cc) first, then any other
    // built-in profile by its reference package names.
    std::vector<std::string> tokens{command};
    tokens.insert(tokens.end(), args.begin(), args.end());
    const auto cat = catalog_match(tokens);
    const CatalogEntry* row = cat ? cat->entry : nullptr;
    std::string matched;
    if (row && *row->profile && is_builtin(row->profile)) matched = row->profile;
    if (!row)
      for (std::size_t i = 0; i < tokens.size() && matched.empty(); ++i)
        for (const auto& c : candidates_)
          if (server_is(tokens[i], c)) {
            matched = c;
            break;
          }

    // The server's directories: the catalog's positional path arguments
    // (the filesystem server's), else its cwd; and the variables its
    // options fill (git's --repository).
    std::vector<std::string> dirs;
    std::map<std::string, std::string> row_vars;
    std::string unusable_dir;
    bool positional = false;
    if (row)
      for (const auto& pa : row->paths) {
        for (const auto& v : path_arg_values(pa, tokens, cat->index)) {
          auto d = host_dir(v, cwd, opts_.home);
          if (!d) {
            if (unusable_dir.empty()) unusable_dir = v;
            continue;
          }
          const bool pos = pa.options.size() == 1 && !*pa.options[0];
          if (pos && std::string_view(pa.var) == "WORKSPACE") {
            positional = true;
            if (std::find(dirs.begin(), dirs.end(), *d) == dirs.end()) dirs.push_back(*d);
          } else if (*pa.var && !row_vars.count(pa.var)) {
            row_vars[pa.var] = *d;
          }
        }
      }
    if (!positional && cwd && cwd->starts_with("/")) dirs.push_back(*cwd);
    // A variable its options did not fill (git without --repository): the
    // directory the host starts it in, when absolute.
    if (row && cwd && cwd->starts_with("/"))
      for (const auto& pa : row->paths)
        if (*pa.var && std::string_view(pa.var) != "WORKSPACE" && !row_vars.count(pa.var)) row_vars[pa.var] = *cwd;

    const auto per_server = opts_.server_profiles.find(m.key);
    const std::string forced = per_server != opts_.server_profiles.end() ? per_server->second : opts_.profile;
    // A profile of its own, written beside the configuration: for a server
    // of the catalog without a built-in profile, and for one it does not know.
    if (forced.empty() && matched.empty() && !opts_.config_path.empty())
      return generated(sec, m, ms, cmd_m, args_m, command, args, tokens, cwd, row, cat ? cat->index : 0,
                       row && *row->profile ? std::string("this mcp-jail has no built-in profile ") + row->profile
                                            : std::string());
    std::string profile = forced.empty() ? (matched.empty() ? "base" : matched) : forced;
    std::string fallback_note;
    const ProfileInfo* info = &profile_info(profile);
    auto cannot = [&]() -> std::string {
      if (!info->loadable) return "profile " + profile + " does not load as is: " + info->error;
      if (info->needs_workspace && dirs.empty())
        return "profile " + profile + " needs ${WORKSPACE}, and " +
               (unusable_dir.empty() ? std::string("the entry names no directory")
                                     : "the directory argument \"" + unusable_dir + "\" is relative (and no absolute \"cwd\")");
      for (const auto& v : info->needs)
        if (!row_vars.count(v))
          return "profile " + profile + " needs ${" + v + "}, and the entry's arguments do not name it" +
                 (unusable_dir.empty() ? std::string() : " as an absolute path (\"" + unusable_dir + "\")");
      return {};
    };
    if (std::string why = cannot(); !why.empty()) {
      if (!forced.empty()) return done(WrapAction::Skipped, why);
      if (!opts_.config_path.empty())
        return generated(sec, m, ms, cmd_m, args_m, command, args, tokens, cwd, row, cat ? cat->index : 0, why);
      fallback_note = why + "; using base";
      profile = "base";
      info = &profile_info(profile);
      if (std::string why2 = cannot(); !why2.empty()) return done(WrapAction::Skipped, why2);
    }

    for (const auto& w : info->writes) note_writable(w);
    std::vector<std::string> jail_args;
    if (info->needs_workspace) {
      jail_args = {"--var", "WORKSPACE=" + dirs[0]};
      for (std::size_t i = 1; i < dirs.size(); ++i) {
        jail_args.push_back("--write");
        jail_args.push_back(dirs[i]);
      }
    }
    for (const auto& v : info->needs) jail_args.insert(jail_args.end(), {"--var", v + "=" + row_vars.at(v)});
    for (std::size_t i = 0; i + 1 < jail_args.size(); i += 2)
      if (jail_args[i] == "--write") note_writable(jail_args[i + 1]);
      else if (jail_args[i] == "--var" && jail_args[i + 1].starts_with("WORKSPACE="))
        note_writable(jail_args[i + 1].substr(10));
      else if (jail_args[i] == "--var")  // REPO and the like: written to by what the profile is for
        note_writable(jail_args[i + 1].substr(jail_args[i + 1].find('=') + 1));
    std::vector<std::string> notes;
    if (!fallback_note.empty()) notes.push_back(fallback_note);
    env_and_remarks(ms, profile, *info, command, args, tokens, jail_args, notes);

    r.profile = profile;
    r.jail_args = jail_args;
    std::string note;
    for (const auto& n : notes) note += (note.empty() ? "" : "\n") + n;
    r.note = note;
    emit(*cmd_m, args_m, m.value, profile, jail_args, tokens);
    r.action = WrapAction::Wrapped;
    result_.servers.push_back(std::move(r));
  }

  // --env for the names of the entry's "env" and "envFile", the user's own
  // file for a path the profile sets (own_path), and the remarks on its command.
  void env_and_remarks(const std::vector<Member>& ms, const std::string& profile, const ProfileInfo& info_ref,
                       const std::string& command, const std::vector<std::string>& args,
                       const std::vector<std::string>& tokens, std::vector<std::string>& jail_args,
                       std::vector<std::string>& notes) {
    const ProfileInfo* info = &info_ref;
    // The host puts the "env" block in mcp-jail's environment; --env NAME
    // passes exactly those names on (the jail's environment is an allowlist).
    // The block itself stays as it is.
    std::string unpassable, replaced;
    std::vector<std::string> env_names = env_keys(ms);
    std::string env_file_note;
    if (const Member* ef = find(ms, "envFile")) {
      const json v = value_of(s_, ef->value);
      std::string why;
      if (!v.is_string())
        why = "\"envFile\" is not a string";
      else if (opts_.env_file_dir.empty())
        why = "\"envFile\" was not read";
      else if (auto names_in = env_file_names(v.get<std::string>(), opts_.env_file_dir, opts_.home, &why))
        for (auto& n : *names_in)
          if (std::find(env_names.begin(), env_names.end(), n) == env_names.end()) env_names.push_back(std::move(n));
      if (!why.empty())
        env_file_note = why + ": its variables reach the server only if profile " + profile + " passes them";
    }
    for (const auto& name : env_names) {
      if (info->env_set.count(name)) {
        // A file the profile places in its state (the memory profile's
        // MEMORY_FILE_PATH), which the entry places somewhere of its own: the
        // user's file is kept and made writable. Otherwise the profile's own
        // value wins (--env would override it).
        if (auto kept = own_path(ms, name, info->env_set.at(name))) {
          jail_args.insert(jail_args.end(), {"--write", kept->first, "--env", name});
          note_writable(kept->first);
          notes.push_back("env " + name + ": the server keeps using " + kept->second + "; " + kept->first +
                          " is writable in the jail (--write)");
          continue;
        }
        replaced += (replaced.empty() ? "" : ", ") + name;
      } else if (is_env_name(name)) {
        jail_args.push_back("--env");
        jail_args.push_back(name);
      } else {
        unpassable += (unpassable.empty() ? "\"" : ", \"") + name + "\"";
      }
    }
    if (!unpassable.empty())
      notes.push_back("env " + unpassable + " not passed into the jail: not a variable name (letters, digits, _)");
    if (!replaced.empty())
      notes.push_back("env " + replaced + ": profile " + profile + " sets its own value ([env] set), this one is not used");
    if (!info->npm_registry && base_name(command) == "npx")
      notes.push_back(std::string(info->no_network ? "" : "npx cannot reach the npm registry (not in the allowlist): ") +
                      "npx runs offline in the jail, from profile " + profile +
                      "'s own npm cache; fill it once, outside the jail: npm_config_cache=${XDG_STATE_HOME:-$HOME/"
                      ".local/state}/mcp-jail/" + info->name + "/npm npm exec --yes --ignore-scripts " +
                      shell_quote("--package=" + npx_package(args)) +
                      " -- true (as root, then chown -R the profile's directory to nobody)");
    else if (info->no_network && fetches_at_start(command, args))
      notes.push_back(base_name(command) + " fetches the server when it starts, but profile " + profile +
                      " has no network: install the package and start it with node or python instead");
    else if (base_name(command) != "npx" && fetches_at_start(command, args))
      notes.push_back(base_name(command) + " keeps the server it fetches in a cache of its own, writable in the jail only if "
                      "profile " + profile + " lists it: install the package and start it with node or python instead");
    if (!env_file_note.empty()) notes.push_back(env_file_note);
    // uvx and `uv run` download at start, and mcp-jail refuses them: what to do instead.
    if (auto advice = planning::python::uv_advice(tokens))
      notes.push_back("mcp-jail run refuses this command until it is changed: " + *advice);
  }

  // ---- the edits of a wrapped entry

  void emit(const Member& cmd_m, const Member* args_m, Span entry, const std::string& profile,
            const std::vector<std::string>& jail_args, const std::vector<std::string>& tokens) {
    // The new "args": run PROFILE [jail args] -- COMMAND ARGS...
    std::vector<std::string> new_args{"run", profile};
    new_args.insert(new_args.end(), jail_args.begin(), jail_args.end());
    new_args.push_back("--");
    new_args.insert(new_args.end(), tokens.begin(), tokens.end());

    edits_.push_back({cmd_m.value.b, cmd_m.value.e, quote(opts_.jail_path)});
    if (args_m) {
      edits_.push_back({args_m->value.b, args_m->value.e, array_text(s_, nl_, *args_m, new_args)});
    } else {
      const std::string sep =
          has_newline(s_, entry) ? "," + nl_ + line_indent(s_, cmd_m.key_span.b) : std::string(", ");
      edits_.push_back({cmd_m.value.e, cmd_m.value.e, sep + "\"args\": " + inline_array(new_args)});
    }
  }

  // A directory some server of this configuration may write: no profile
  // wrap writes goes inside one. A host variable (${workspaceFolder}) could
  // be anywhere.
  void note_writable(std::string dir) {
    if ((dir == "~" || dir.starts_with("~/")) && opts_.home.starts_with("/")) dir = opts_.home + dir.substr(1);
    if (dir.starts_with("${") || !dir.starts_with("/")) {
      unknown_writable_ = true;
      return;
    }
    writable_.push_back(normal(dir));
  }

  bool inside_writable(const std::string& path) const {
    for (const auto& w : writable_)
      if (w == "/" || path == w || path.starts_with(w + "/")) return true;
    return false;
  }

  // ---- profiles wrap writes

  struct Grant {
    std::string path;  // absolute, or ${VAR} (a host variable, filled with --var)
    bool write = false;
    std::string why;
  };

  struct Pending {
    std::size_t report = 0;  // in result_.servers
    Member cmd;
    std::optional<Member> args;
    Span entry;
    std::vector<std::string> jail_args, tokens, notes;
    std::string key, file, name, section;
    const CatalogEntry* row = nullptr;
    std::vector<Grant> grants;
    std::map<std::string, std::string> host_vars;  // VAR -> the host's ${...} value
    bool npx = false;

    // A grant's path as a person reads it: ${DIR_1} with what the host fills in.
    std::string shown(const std::string& path) const {
      if (!path.starts_with("${")) return path;
      const auto it = host_vars.find(path.substr(2, path.size() - 3));
      return it == host_vars.end() ? path : path + " (" + it->second + ", --var " + it->first + "=...)";
    }
  };

  // Under `home`, a broad directory, or above it: never granted by a written profile.
  bool too_broad(const std::string& dir) const {
    if (dir == "/" || std::count(dir.begin(), dir.end(), '/') < 2) return true;
    const std::string home = normal(opts_.home);
    return !home.empty() && home != "/" && (home == dir || home.starts_with(dir + "/"));
  }

  static std::string normal(const std::string& p) {
    if (p.empty()) return p;
    std::string n = std::filesystem::path(p).lexically_normal().string();
    while (n.size() > 1 && n.ends_with("/")) n.pop_back();
    return n;
  }

  static std::string parent(const std::string& p) {
    const auto slash = p.rfind('/');
    return slash == std::string::npos ? std::string() : (slash == 0 ? "/" : p.substr(0, slash));
  }

  // The profile for a server without a built-in one (see wrap.hpp,
  // "Profiles wrap writes"): what it may use, from the catalog's row or
  // from its command line and env; its place is chosen once every entry is
  // read (finish_generated), away from every directory any of them may write.
  void generated(const std::string& sec, const Member& m, const std::vector<Member>& ms, const Member* cmd_m,
                 const Member* args_m, const std::string& command, const std::vector<std::string>& args,
                 const std::vector<std::string>& tokens, const std::optional<std::string>& cwd,
                 const CatalogEntry* row, std::size_t index, const std::string& why_not_builtin = {}) {
    Pending p;
    p.cmd = *cmd_m;
    if (args_m) p.args = *args_m;
    p.entry = m.value;
    p.tokens = tokens;
    p.key = m.key;
    p.section = sec;
    p.row = row;
    p.npx = base_name(command) == "npx";
    if (!why_not_builtin.empty()) p.notes.push_back(why_not_builtin + "; a profile is written for it from the catalog");

    std::vector<std::string> refused;
    // The server's own program: the command, and the script after it.
    std::vector<std::string> program;
    if (command.starts_with("/")) program.push_back(normal(command));
    for (std::size_t i = 1; i < tokens.size(); ++i) {
      if (tokens[i].starts_with("-")) continue;
      struct stat st {};
      if (auto f = host_dir(tokens[i], cwd, opts_.home); f && f->starts_with("/") && ::stat(f->c_str(), &st) == 0 &&
                                                            S_ISREG(st.st_mode))
        program.push_back(normal(*f));
      break;
    }
    auto grant = [&](std::string path, bool write, std::string why) {
      if (path.starts_with("${")) {  // a host variable: ${VAR} in the profile, --var VAR=<value>
        for (const char* home : {"${userHome}", "${env:HOME}", "${env:USERPROFILE}"})
          if (path == home || path == std::string(home) + "/") {
            refused.push_back(path);
            return;
          }
        std::string var;
        for (const auto& [k, v] : p.host_vars)
          if (v == path) var = k;
        if (var.empty()) {
          var = "DIR_" + std::to_string(p.host_vars.size() + 1);
          p.host_vars[var] = path;
        }
        path = "${" + var + "}";
      } else {
        path = normal(path);
        if (too_broad(path)) {
          refused.push_back(path);
          return;
        }
        for (const auto& prog : program)
          if (write && (prog == path || prog.starts_with(path + "/"))) {
            write = false;
            why += "; it holds the server's own program, so it stays read-only";
          }
      }
      for (auto& g : p.grants)
        if (g.path == path) {
          g.write = g.write || write;
          return;
        }
      p.grants.push_back({path, write, std::move(why)});
    };

    if (row) {
      for (const auto& pa : row->paths)
        for (const auto& v : path_arg_values(pa, tokens, index)) {
          auto d = host_dir(v, cwd, opts_.home);
          if (!d) {
            p.notes.push_back("path argument \"" + v + "\" is relative (and no absolute \"cwd\"): not made visible");
            continue;
          }
          if (pa.file) {
            const std::string dir = parent(*d);
            struct stat st {};
            if (!dir.starts_with("${") && (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
              p.notes.push_back(dir + " (the directory of " + v + ") does not exist: create it, then run wrap again");
              continue;
            }
            grant(dir, pa.writable, pa.why);
          } else {
            grant(*d, pa.writable, pa.why);
          }
        }
    } else {
      // Directory and file arguments, also as --option=PATH.
      for (std::size_t i = 1; i < tokens.size(); ++i) {
        std::string v = tokens[i];
        if (v.starts_with("-")) {
          const auto eq = v.find('=');
          if (eq == std::string::npos) continue;
          v = v.substr(eq + 1);
        }
        if (v.starts_with("${")) {
          grant(v, true, "a directory on its command line (" + tokens[i] + ", filled in by the host): its data");
          continue;
        }
        auto d = host_dir(v, cwd, opts_.home);
        struct stat st {};
        if (!d || !d->starts_with("/") || ::stat(d->c_str(), &st) != 0) continue;
        if (std::find(program.begin(), program.end(), normal(*d)) != program.end()) continue;
        if (S_ISDIR(st.st_mode))
          grant(*d, true, "a directory on its command line (" + tokens[i] + "): its data, writable so it can keep what it makes there");
        else if (S_ISREG(st.st_mode))
          grant(*d, false, "a file on its command line (" + tokens[i] + "): read-only");
      }
      // Paths in "env": a directory or file of the server's data (the
      // name says so: ..._DATA, ..._DIR, MEMORY_..., ...) writable, any
      // other path read-only.
      if (const Member* e = find(ms, "env"); e && s_[e->value.b] == '{')
        for (const auto& kv : members(s_, e->value)) {
          const json val = value_of(s_, kv.value);
          if (!val.is_string()) continue;
          std::string v = val.get<std::string>();
          if (v.find(':') != std::string::npos || v.find('\n') != std::string::npos) continue;
          if (v.starts_with("~/") && opts_.home.starts_with("/")) v = opts_.home + v.substr(1);
          if (!v.starts_with("/") || v.find("/../") != std::string::npos || v.ends_with("/..")) continue;
          v = normal(v);
          static const char* const kData[] = {"DATA", "DIR", "DB", "DATABASE", "MEMORY", "STORE", "STORAGE",
                                              "STATE", "CACHE", "LOG", "OUTPUT", "WORKSPACE", "GRAPH", "ROOT"};
          bool data = false;
          for (const char* word : kData)
            if (kv.key.find(word) != std::string::npos) data = true;
          struct stat st {};
          const bool exists = ::stat(v.c_str(), &st) == 0;
          if (exists && S_ISDIR(st.st_mode)) {
            grant(v, data, "env " + kv.key + " names it" + (data ? ": the server's data, writable" : ": read-only"));
          } else if (data && (!exists || S_ISREG(st.st_mode))) {
            const std::string dir = parent(v);
            struct stat ds {};
            if (::stat(dir.c_str(), &ds) == 0 && S_ISDIR(ds.st_mode))
              grant(dir, true, "env " + kv.key + " names a file in it, the server's data; servers replace such files "
                               "by renaming a new one over them, so the directory is writable");
          } else if (exists && S_ISREG(st.st_mode)) {
            grant(v, false, "env " + kv.key + " names it: read-only");
          }
        }
    }
    if (!refused.empty()) {
      std::string list;
      for (const auto& r : refused) list += (list.empty() ? "" : ", ") + r;
      p.notes.push_back("not made visible: " + list + " (/, a top-level directory, or the home directory or above it); "
                        "add a narrower directory to the profile if the server needs one");
    }
    for (const auto& g : p.grants)
      if (g.write) note_writable(g.path.starts_with("${") ? p.host_vars.at(g.path.substr(2, g.path.size() - 3)) : g.path);
    for (const auto& [var, value] : p.host_vars) p.jail_args.insert(p.jail_args.end(), {"--var", var + "=" + value});

    // Its name: the entry's, made a state directory's name, and a hash of
    // the configuration and the entry, so that its ${PROFILE_STATE} (npx's
    // cache) is its own.
    std::string file;
    for (char c : m.key.substr(0, 40)) file += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '-';
    if (file.empty() || file == "-") file = "server";
    p.file = file;
    p.name = file + "-" + pin::sha256_hex(opts_.config_path + "\n" + sec + "\n" + m.key).substr(0, 8);

    // The environment: what the catalog names, and the entry's keys with --env.
    ProfileInfo info = profile_info("base");
    info.name = p.name;
    info.no_network = !row || row->network.empty();
    info.npm_registry = false;
    if (row)
      for (const char* e : row->env) info.env_pass.emplace_back(e);
    env_and_remarks(ms, p.name, info, command, args, tokens, p.jail_args, p.notes);
    if (row && !row->env.empty()) {
      bool any = false;
      for (const auto& k : env_keys(ms))
        for (const char* e : row->env)
          if (k == e) any = true;
      if (!any && !find(ms, "envFile"))
        p.notes.push_back(std::string("the server reads ") + row->env[0] +
                          " from its environment, and the entry's \"env\" does not set it");
    }

    ServerReport r;
    r.section = sec;
    r.name = m.key;
    r.action = WrapAction::Wrapped;
    p.report = result_.servers.size();
    result_.servers.push_back(std::move(r));
    pending_.push_back(std::move(p));
  }

  std::string profile_text(const Pending& p, const std::string& path) const {
    auto comment = [](std::string s) { return one_line(std::move(s)); };
    auto list = [](const std::vector<std::string>& items) {
      std::string out = "[";
      for (const auto& i : items) out += (out.size() > 1 ? ", " : "") + i;
      return out + "]";
    };
    std::ostringstream t;
    t << "# The profile of the MCP server \"" << comment(p.key) << "\" of " << comment(opts_.config_path) << ",\n"
      << "# written by `mcp-jail wrap`. It decides what the server may do at its next launch; no\n"
      << "# directory it or another server of that configuration may write holds this file.\n";
    if (p.row)
      t << "# mcp-jail's catalog knows it as " << p.row->id << ": " << p.row->reason << ".\n";
    else
      t << "# mcp-jail's catalog does not know it: what it may use beyond base (the runtime, nothing\n"
        << "# of $HOME, no network) is what its command line and env show.\n";
    t << "# `mcp-jail learn` watches a server run and writes the profile of what it used; to refine\n"
      << "# this one:\n#   mcp-jail learn -o " << comment(shell_quote(path)) << " --extends base -- "
      << comment(shell_join(p.tokens)) << "\n";
    if (p.npx) t << "# npx keeps its package cache in this profile's own state directory, ${PROFILE_STATE}/npm.\n";
    t << "version = 1\n"
      << "name = " << toml_text::quote(p.name, false) << "\n"
      << "description = "
      << toml_text::quote(std::string("Written by mcp-jail wrap for \"") + one_line(p.key) + "\"" +
                              (p.row ? std::string(" (") + p.row->id + ")" : std::string(" (not in the catalog)")) +
                              ": base" + (p.grants.empty() ? "" : " and its own paths") +
                              (p.row && !p.row->network.empty() ? ", network to its API only" : ", no network"),
                          true)
      << "\n"
      << "extends = \"base\"\n";
    if (p.row && !p.row->env.empty()) {
      std::vector<std::string> env;
      for (const char* e : p.row->env) env.push_back(toml_text::quote(e, false));
      t << "\n[env]\n# What the server reads from its environment (it " << p.row->reason << ").\npass = " << list(env)
        << "\n";
    }
    if (!p.grants.empty()) {
      std::vector<std::string> read, write;
      t << "\n[filesystem]\n";
      for (const auto& g : p.grants) {
        t << "# " << comment(p.shown(g.path)) << ": " << comment(g.why) << (g.write ? " (writable)" : " (read-only)")
          << "\n";
        const std::string q = g.path.starts_with("${") ? toml_text::quote(g.path, false) : toml_text::quote(g.path, true);
        (g.write ? write : read).push_back(q);
      }
      if (!read.empty()) t << "read = " << list(read) << "\n";
      if (!write.empty()) t << "write = " << list(write) << "\n";
    }
    if (p.row && !p.row->network.empty()) {
      std::vector<std::string> allow;
      for (const char* a : p.row->network) allow.push_back(toml_text::quote(a, false));
      t << "\n[network]\n# Only what the server's API needs: it " << p.row->reason << ".\nmode = \"allowlist\"\nallow = "
        << list(allow) << "\n";
    }
    const std::string body = t.str();
    return std::string(kGeneratedMark) + pin::sha256_hex(body) + std::string(kGeneratedMarkEnd) + body;
  }

  static constexpr std::string_view kGeneratedMark = "# mcp-jail wrap: sha256 ";
  static constexpr std::string_view kGeneratedMarkEnd =
      " of the lines below; wrap leaves this file as it is once they are edited\n";

  // New, Unchanged, Update (wrap's own text, unedited) or Kept; nullopt with
  // *why when the path is not a regular file.
  static std::optional<GeneratedProfile::State> existing_state(const std::string& path, const std::string& text,
                                                               std::string* why) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return GeneratedProfile::State::New;
      *why = errno_text("cannot look at " + path, errno);
      return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
      *why = path + " exists and is not a regular file (a symbolic link, a directory): remove it, then run wrap again";
      return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    if (!in && !in.eof()) {
      *why = "cannot read " + path;
      return std::nullopt;
    }
    const std::string have = buf.str();
    if (have == text) return GeneratedProfile::State::Unchanged;
    if (have.starts_with(kGeneratedMark) && have.size() > kGeneratedMark.size() + 64) {
      const auto nl = have.find('\n');
      const std::string hash = have.substr(kGeneratedMark.size(), 64);
      if (nl != std::string::npos && nl >= kGeneratedMark.size() + 64 &&
          have.substr(kGeneratedMark.size() + 64, nl + 1 - kGeneratedMark.size() - 64) ==
                                         kGeneratedMarkEnd &&
          pin::sha256_hex(std::string_view(have).substr(nl + 1)) == hash)
        return GeneratedProfile::State::Update;
    }
    return GeneratedProfile::State::Kept;
  }

  void finish_generated(Pending& p, std::set<std::string>& used) {
    ServerReport& r = result_.servers[p.report];
    const std::string config_dir = parent(opts_.config_path);
    std::string stem = base_name(opts_.config_path);
    for (const char* ext : {".json", ".jsonc"})
      if (stem.ends_with(ext) && stem.size() > std::string_view(ext).size()) stem.resize(stem.size() - std::string_view(ext).size());
    std::vector<std::string> places;
    // Beside the configuration, unless a server may write there or a host
    // variable makes that unknowable; else in the user's configuration directory.
    if (!unknown_writable_) places.push_back(config_dir + "/" + stem + ".mcp-jail");
    if (opts_.config_home.starts_with("/"))
      places.push_back(normal(opts_.config_home) + "/mcp-jail/wrap/" + one_line(stem) + "-" +
                       pin::sha256_hex(opts_.config_path).substr(0, 8));
    std::string dir;
    for (const auto& d : places)
      if (!inside_writable(d)) {
        dir = d;
        break;
      }
    auto skip = [&](const std::string& why) {
      r.action = WrapAction::Skipped;
      r.note = why;
    };
    if (dir.empty())
      return skip("no place for its profile outside the directories the servers of this configuration may write (" +
                  (places.empty() ? std::string("set HOME") : places.front()) +
                  "): write one with `mcp-jail learn`, and wrap it with --profile " + p.key + "=FILE");
    std::string path = dir + "/" + p.file + ".toml";
    for (int n = 2; used.count(path); ++n) path = dir + "/" + p.file + "-" + std::to_string(n) + ".toml";
    used.insert(path);

    const std::string text = profile_text(p, path);
    // It must load (with the host variables standing for directories).
    LoadOptions lo;
    lo.home = opts_.home.starts_with("/") ? opts_.home : "/home/user";
    lo.pwd = "/";
    for (const auto& [var, value] : p.host_vars) lo.vars[var] = "/mcp-jail-wrap/" + var;
    try {
      load_profile_text(text, path, dir, lo);
    } catch (const std::exception& e) {
      return skip("the profile wrap would write does not load: " + first_line(e.what()));
    }
    std::string why;
    const auto state = existing_state(path, text, &why);
    if (!state) return skip(why);
    GeneratedProfile g{path, text, *state, p.key};

    std::vector<std::string> notes;
    std::string what = p.row ? std::string("catalog: ") + p.row->id + ", " + p.row->reason
                             : std::string("not in the catalog: from its command line and env");
    notes.push_back("profile " + path + " (" + what + ")" +
                    (*state == GeneratedProfile::State::Unchanged ? ", unchanged"
                     : *state == GeneratedProfile::State::Update  ? ", rewritten"
                     : *state == GeneratedProfile::State::Kept    ? ""
                                                                  : ", new"));
    if (*state == GeneratedProfile::State::Kept) {
      notes.push_back(path + " was edited (or not written by wrap): kept as it is; remove it to have wrap write it again");
      if (const ProfileInfo& kept = profile_info(path); !kept.loadable)
        notes.push_back(path + " does not load as it is: " + kept.error);
    }
    std::string writes, reads;
    for (const auto& gr : p.grants)
      (gr.write ? writes : reads) += ((gr.write ? writes : reads).empty() ? "" : ", ") + p.shown(gr.path);
    notes.push_back(std::string(*state == GeneratedProfile::State::Kept ? "as wrap would write it: " : "") +
                    "writable: " + (writes.empty() ? "nothing of the host" : writes) +
                    (reads.empty() ? "" : "; read-only: " + reads) + "; network: " +
                    (p.row && !p.row->network.empty() ? "only " + [&] {
                      std::string n;
                      for (const char* a : p.row->network) n += (n.empty() ? "" : ", ") + std::string(a);
                      return n;
                    }()
                                                      : std::string("none")));
    if (!p.row)
      notes.push_back("if the server needs more (other files, network), refine it: mcp-jail learn -o " + shell_quote(path) +
                      " --extends base -- " + shell_join(p.tokens));
    notes.insert(notes.end(), p.notes.begin(), p.notes.end());
    std::string note;
    for (const auto& n : notes) note += (note.empty() ? "" : "\n") + n;
    r.note = note;
    r.profile = path;
    r.jail_args = p.jail_args;
    emit(p.cmd, p.args ? &*p.args : nullptr, p.entry, path, p.jail_args, p.tokens);
    result_.profiles.push_back(std::move(g));
  }

  std::string_view original_;
  const WrapOptions& opts_;
  std::string s_;  // blanked text
  std::string nl_ = "\n";
  std::vector<std::string> candidates_;
  std::map<std::string, ProfileInfo> profiles_;
  std::vector<Edit> edits_;
  WrapResult result_;
  std::vector<Pending> pending_;
  std::vector<std::string> writable_;  // directories some server of the configuration may write
  bool unknown_writable_ = false;      // and one that a host variable names
};

}  // namespace

WrapResult wrap_config(std::string_view text, const WrapOptions& options) { return Wrapper(text, options).run(); }

}  // namespace mcpjail
