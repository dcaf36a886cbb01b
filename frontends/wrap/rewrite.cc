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
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "config.hpp"
#include "jsonc.hpp"
#include "match.hpp"
#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/wrap.hpp"
#include "mcpjail/plan/runtime_python.hpp"
#include "mcpjail/profile.hpp"
#include "mcpjail/text.hpp"

namespace mcpjail {

namespace {

using nlohmann::json;
using namespace jsonc;
using namespace wrap;

// The variables of a directory that wrap can supply, from the server's
// directory arguments (WORKSPACE: filesystem) or its --repository (REPO: git).
const char* const kDirVars[] = {"WORKSPACE", "REPO"};

// What a profile asks for, found by loading it (built-ins load from memory).
struct ProfileInfo {
  bool loadable = false;        // with the variables wrap can supply
  std::string dir_var;          // the one it needs (WORKSPACE, REPO), if any
  std::string error;            // why not loadable
  bool no_network = false;       // network = "none"
  std::string name;              // the profile's name (its ${PROFILE_STATE})
  std::vector<std::string> env_pass;
  std::map<std::string, std::string> env_set;
};

ProfileInfo inspect_profile(const std::string& spec, const std::string& home) {
  ProfileInfo info;
  LoadOptions lo;
  lo.home = home.starts_with("/") ? home : "/home/user";
  lo.pwd = "/";
  auto attempt = [&](const char* var) -> bool {
    lo.vars.clear();
    if (var) lo.vars[var] = "/mcp-jail-wrap/workspace";
    try {
      const Profile p = load_profile(spec, lo);
      info.env_pass = p.env.pass;
      info.env_set = p.env.set;
      info.no_network = p.network.mode == NetMode::None;
      info.name = p.name;
      return true;
    } catch (const std::exception& e) {
      info.error = first_line(e.what());
      return false;
    }
  };
  if (attempt(nullptr)) {
    info.loadable = true;
    return info;
  }
  std::string error;  // as loaded with WORKSPACE, the usual one
  for (const char* var : kDirVars) {
    if (attempt(var)) {
      info.loadable = true;
      info.dir_var = var;
      info.error.clear();
      return info;
    }
    if (error.empty()) error = info.error;
  }
  info.error = error;
  return info;
}

bool env_passes(const ProfileInfo& info, const std::string& name) {
  if (info.env_set.count(name)) return true;
  for (const auto& p : info.env_pass) {
    if (p.ends_with("*") ? name.starts_with(std::string_view(p).substr(0, p.size() - 1)) : name == p) return true;
  }
  return false;
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
    const std::string& profile = run.operand;
    // What the profile passes decides too; when it cannot be inspected
    // (a variable wrap cannot tell), nothing is claimed.
    if (profile.empty()) return note;
    const ProfileInfo& info = profile_info(profile);
    if (!info.loadable) return note;
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

    // Which reference server is this?
    std::vector<std::string> tokens{command};
    tokens.insert(tokens.end(), args.begin(), args.end());
    std::string matched;
    std::optional<std::size_t> fs_index, git_index;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (server_is(tokens[i], "filesystem")) fs_index = i;  // the last: --package=PKG BIN DIR...
      if (!git_index && server_is(tokens[i], "git")) git_index = i;
      if (matched.empty())
        for (const auto& c : candidates_)
          if (server_is(tokens[i], c)) {
            matched = c;
            break;
          }
    }

    // The server's directories: a filesystem server's arguments, a git
    // server's --repository, else its cwd.
    std::vector<std::string> dirs;
    std::string unusable_dir;
    const auto repository = git_index ? option_value(tokens, *git_index, {"--repository", "-r"}) : std::nullopt;
    if (repository) {
      if (auto d = host_dir(*repository, cwd, opts_.home))
        dirs.push_back(*d);
      else
        unusable_dir = *repository;
    } else if (fs_index) {
      for (std::size_t i = *fs_index + 1; i < tokens.size(); ++i) {
        if (tokens[i].starts_with("-")) continue;
        if (auto d = host_dir(tokens[i], cwd, opts_.home)) {
          if (std::find(dirs.begin(), dirs.end(), *d) == dirs.end()) dirs.push_back(*d);
        } else if (unusable_dir.empty()) {
          unusable_dir = tokens[i];
        }
      }
    } else if (cwd && cwd->starts_with("/")) {
      dirs.push_back(*cwd);
    }

    const auto per_server = opts_.server_profiles.find(m.key);
    const std::string forced = per_server != opts_.server_profiles.end() ? per_server->second : opts_.profile;
    std::string profile = forced.empty() ? (matched.empty() ? "base" : matched) : forced;
    std::string fallback_note;
    const ProfileInfo* info = &profile_info(profile);
    auto cannot = [&]() -> std::string {
      if (!info->loadable) return "profile " + profile + " does not load as is: " + info->error;
      if (!info->dir_var.empty() && dirs.empty())
        return "profile " + profile + " needs ${" + info->dir_var + "}, and " +
               (unusable_dir.empty() ? std::string("the entry names no directory")
                                     : "the directory argument \"" + unusable_dir + "\" is relative (and no absolute \"cwd\")");
      return {};
    };
    if (std::string why = cannot(); !why.empty()) {
      if (!forced.empty()) return done(WrapAction::Skipped, why);
      fallback_note = why + "; using base";
      profile = "base";
      info = &profile_info(profile);
      if (std::string why2 = cannot(); !why2.empty()) return done(WrapAction::Skipped, why2);
    }

    std::vector<std::string> jail_args;
    if (!info->dir_var.empty()) {
      jail_args = {"--var", info->dir_var + "=" + dirs[0]};
      for (std::size_t i = 1; i < dirs.size(); ++i) {
        jail_args.push_back("--write");
        jail_args.push_back(dirs[i]);
      }
    }

    std::vector<std::string> notes;
    if (!fallback_note.empty()) notes.push_back(fallback_note);
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
    if (info->no_network && base_name(command) == "npx")
      notes.push_back("npx runs offline in the jail, from profile " + profile +
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

    // The new "args": run PROFILE [jail args] -- COMMAND ARGS...
    std::vector<std::string> new_args{"run", profile};
    new_args.insert(new_args.end(), jail_args.begin(), jail_args.end());
    new_args.push_back("--");
    new_args.insert(new_args.end(), tokens.begin(), tokens.end());

    edits_.push_back({cmd_m->value.b, cmd_m->value.e, quote(opts_.jail_path)});
    if (args_m) {
      edits_.push_back({args_m->value.b, args_m->value.e, array_text(s_, nl_, *args_m, new_args)});
    } else {
      const std::string sep =
          has_newline(s_, m.value) ? "," + nl_ + line_indent(s_, cmd_m->key_span.b) : std::string(", ");
      edits_.push_back({cmd_m->value.e, cmd_m->value.e, sep + "\"args\": " + inline_array(new_args)});
    }

    r.profile = profile;
    r.jail_args = jail_args;
    std::string note;
    for (const auto& n : notes) note += (note.empty() ? "" : "\n") + n;
    done(WrapAction::Wrapped, note);
  }

  std::string_view original_;
  const WrapOptions& opts_;
  std::string s_;  // blanked text
  std::string nl_ = "\n";
  std::vector<std::string> candidates_;
  std::map<std::string, ProfileInfo> profiles_;
  std::vector<Edit> edits_;
  WrapResult result_;
};

}  // namespace

WrapResult wrap_config(std::string_view text, const WrapOptions& options) { return Wrapper(text, options).run(); }

}  // namespace mcpjail
