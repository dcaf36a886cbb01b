#include "mcpjail/cli.hpp"

#include <boost/program_options.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "mcpjail/audit.hpp"
#include "mcpjail/doctor.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/pin.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/profile.hpp"
#include "mcpjail/state.hpp"
#include "mcpjail/supervisor.hpp"
#include "mcpjail/trust.hpp"
#include "mcpjail/probe.hpp"
#include "mcpjail/wrap.hpp"
#include "mcpjail/phase.hpp"

namespace po = boost::program_options;

namespace mcpjail {

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  mcp-jail run PROFILE [--var K=V]... [--read P]... [--write P]... [--env NAME[=VALUE]]... [--audit-log PATH] -- COMMAND [ARG]...\n"
    "  mcp-jail check PROFILE [--var K=V]... [--read P]... [--write P]... [--env NAME[=VALUE]]... [-- COMMAND [ARG]...]\n"
    "  mcp-jail probe PROFILE [--var K=V]... [--read P]... [--write P]... [--env NAME[=VALUE]]...\n"
    "  mcp-jail pin PROFILE [--var K=V]... [--print] -- COMMAND [ARG]...\n"
    "  mcp-jail wrap CONFIG.json [--dry-run] [--profile NAME]\n"
    "  mcp-jail export oci|k8s PROFILE [run's options] [--image IMAGE [--name NAME] [--replicas N]] -o DIR -- COMMAND [ARG]...\n"
    "  mcp-jail profiles\n"
    "  mcp-jail doctor [PROFILE] [--json] [--var K=V]... [--write P]...\n"
    "  mcp-jail --version | --help\n"
    "\n"
    "PROFILE is a built-in profile name (see `mcp-jail profiles`) or a path to a .toml file.\n"
    "Everything after -- belongs to the server and is never parsed by mcp-jail.\n"
    "Exit status of run: the server's, 128+N if it died of signal N, 124 when [limits] wall_time\n"
    "ended it, 125 for an error of mcp-jail, 126 when COMMAND cannot be executed, 127 when it is\n"
    "not found. See mcp-jail(1) and mcp-jail-profile(5).\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "mcp-jail: %s\n%s", msg.c_str(), kUsage);
  return kExitLauncherError;
}

struct Options {
  std::string command;
  std::string profile;
  std::vector<std::string> vars, reads, writes, envs;
  std::string audit_log;
  bool have_audit_log = false;
  std::vector<std::string> server;
  bool dashdash = false;
  bool print = false;  // pin --print
};

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> pre;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      o.dashdash = true;
      for (int j = i + 1; j < argc; ++j) o.server.emplace_back(argv[j]);
      break;
    }
    pre.emplace_back(argv[i]);
  }
  po::options_description desc;
  desc.add_options()("var", po::value<std::vector<std::string>>(&o.vars)->composing(), "")(
      "read", po::value<std::vector<std::string>>(&o.reads)->composing(), "")(
      "write", po::value<std::vector<std::string>>(&o.writes)->composing(), "")(
      "env", po::value<std::vector<std::string>>(&o.envs)->composing(), "")(
      "audit-log", po::value<std::string>(&o.audit_log), "")("print", po::bool_switch(&o.print), "")(
      "positional", po::value<std::vector<std::string>>(), "");
  po::positional_options_description pos;
  pos.add("positional", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(pre).options(desc).positional(pos).style(
                po::command_line_style::unix_style & ~po::command_line_style::allow_guessing)
                .run(),
            vm);
  po::notify(vm);
  o.have_audit_log = vm.count("audit-log") > 0;
  std::vector<std::string> positional;
  if (vm.count("positional")) positional = vm["positional"].as<std::vector<std::string>>();
  if (positional.empty()) throw po::error("no command given");
  o.command = positional[0];
  if (positional.size() > 1) o.profile = positional[1];
  if (positional.size() > 2)
    throw po::error("unexpected argument '" + positional[2] + "' (the server's command goes after --)");
  return o;
}

Invocation invocation_from(const Options& o) {
  Invocation inv = current_invocation();
  inv.profile = o.profile;
  for (const auto& v : o.vars) {
    const auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0) throw po::error("--var wants NAME=VALUE, got '" + v + "'");
    if (v.substr(0, eq) == "PROFILE_STATE")
      throw po::error("--var cannot set PROFILE_STATE: it is the profile's own directory under $XDG_STATE_HOME "
                      "(default ~/.local/state)/mcp-jail; set XDG_STATE_HOME to move it");
    inv.load.vars[v.substr(0, eq)] = v.substr(eq + 1);
  }
  auto absolute = [&](const std::string& p, const char* opt) {
    if (p.empty()) throw po::error(std::string(opt) + " needs a path");
    std::string full = p.starts_with("/") ? p : inv.load.pwd + "/" + p;
    std::string why;
    auto norm = normalize_absolute(full, &why);
    if (!norm) throw po::error(std::string(opt) + " " + p + ": " + why);
    return *norm;
  };
  for (const auto& r : o.reads) inv.extra_read.push_back(absolute(r, "--read"));
  for (const auto& w : o.writes) inv.extra_write.push_back(absolute(w, "--write"));
  for (const auto& e : o.envs) {
    std::string why;
    auto a = parse_env_arg(e, &why);
    if (!a) throw po::error("--env " + why);
    inv.env_args.push_back(std::move(*a));
  }
  if (o.have_audit_log) {
    if (o.audit_log == "stderr" || o.audit_log == "none") inv.audit_log = o.audit_log;
    else inv.audit_log = absolute(o.audit_log, "--audit-log");
  }
  inv.command = o.server;
  return inv;
}

int list_profiles() {
  for (const auto& b : builtin_profiles()) std::printf("%-14s %s\n", b.name, profile_description(b.text).c_str());
  return 0;
}

int run_or_check(const Options& o) {
  if (o.profile.empty()) return usage_error("'" + o.command + "' needs a PROFILE");
  const bool run = o.command == "run";
  if (run && !o.dashdash) return usage_error("run needs -- before the server's command");
  if (run && o.server.empty()) return usage_error("run needs a command after --");
  Invocation inv = invocation_from(o);
  inv.require_command = run;
  // The profile is not needed once planned: it goes before the jail starts
  // (the supervisor stays resident for the server's lifetime).
  const Plan plan = [&] {
    const Profile profile = load_profile(o.profile, inv.load);
    phase("profile");
    return make_plan(profile, inv);
  }();
  phase("plan");
  if (!run) {
    std::fputs(render_plan(plan).c_str(), stdout);
    return pin::verify_before_launch(plan.pins, inv, nullptr) ? 0 : kExitLauncherError;
  }
  prepare_state(plan);
  Audit audit(plan.audit_log, plan.profile_name, jail_writable_trees(plan));
  if (!pin::verify_before_launch(plan.pins, inv, &audit)) return kExitLauncherError;
  const int status = supervise(plan, audit);
  if (const std::string s = audit.summary(); !s.empty()) stderr_line(s);
  return status;
}

}  // namespace

int cli_main(int argc, char** argv) {
  phase("main");
  try {
    if (argc < 2) return usage_error("no command given");
    const std::string first = argv[1];
    if (first == "--help" || first == "-h" || first == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (first == "--version") {
      std::printf("mcp-jail %s\n", MCPJAIL_VERSION);
      return 0;
    }
    if (first == "wrap") return wrap_main(argc, argv);
    if (first == "doctor") return doctor_main(std::vector<std::string>(argv + 2, argv + argc));
    if (first == "completion") return completion_main(std::vector<std::string>(argv + 2, argv + argc));
    if (first == probe::kInsideCommand) return probe::inside_main(argc, argv);
    Options o = parse(argc, argv);
    if (o.print && o.command != "pin") return usage_error("--print belongs to pin");
    if (o.command == "run" || o.command == "check") return run_or_check(o);
    if (o.command == "profiles") return list_profiles();
    if (o.command == "probe") {
      if (o.profile.empty()) return usage_error("probe needs a PROFILE");
      if (o.dashdash) return usage_error("probe runs its own battery; it takes no command after --");
      Invocation inv = invocation_from(o);
      const Profile profile = load_profile(o.profile, inv.load);
      if (!pin::verify_before_launch(profile.pin, inv, nullptr)) return kExitLauncherError;
      return probe::run_probe(profile, inv);
    }
    if (o.command == "pin") {
      if (o.profile.empty()) return usage_error("pin needs a PROFILE");
      if (!o.dashdash || o.server.empty()) return usage_error("pin needs -- and the server's command, as run has it");
      return pin::pin_command(invocation_from(o), o.print);
    }
    return usage_error("unknown command '" + o.command + "'");
  } catch (const po::error& e) {
    return usage_error(e.what());
  } catch (const ProfileError& e) {
    std::fprintf(stderr, "%s\nmcp-jail: profile rejected; nothing was started\n", e.what());
    return kExitLauncherError;
  } catch (const LaunchError& e) {
    stderr_line("mcp-jail: " + e.layer() + ": " + e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mcp-jail: internal error: %s\n", e.what());
    return kExitLauncherError;
  }
}

}  // namespace mcpjail
