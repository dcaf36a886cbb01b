// mcp-jail's entry: the command's name, its arguments parsed from the table
// (commands.cc, parse.cc), its handler, and errors turned into messages and
// exit status 125.
#include <cstdio>
#include <string>
#include <vector>

#include "handlers.hpp"
#include "mcpjail/audit.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/doctor.hpp"
#include "mcpjail/frontends/export.hpp"
#include "mcpjail/frontends/learn.hpp"
#include "mcpjail/frontends/pin.hpp"
#include "mcpjail/frontends/probe.hpp"
#include "mcpjail/frontends/wrap.hpp"
#include "mcpjail/phase.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail::cli {

namespace {

// Which function runs each command of the table (commands.cc).
struct Handler {
  std::string_view command;
  int (*run)(const Arguments&);
};
constexpr Handler kHandlers[] = {
    {"run", run_command},       {"check", check_command},    {"probe", probe::probe_command},
    {"pin", pin::pin_command},  {"wrap", wrap_command},      {"unwrap", unwrap_command},
    {"profiles", profiles_command},
    {"doctor", doctor_command}, {"export", exporter::export_command}, {"learn", learn::learn_command},
};

int run_handler(const Arguments& args) {
  for (const auto& h : kHandlers)
    if (h.command == args.command->name) return h.run(args);
  throw std::logic_error("no handler for the command " + std::string(args.command->name));
}

int usage_error(const CommandSpec* c, const std::string& msg) {
  if (c)
    std::fprintf(stderr, "mcp-jail: %s: %s\nusage: %s\nTry 'mcp-jail %s --help' for more.\n", std::string(c->name).c_str(),
                 msg.c_str(), synopsis(*c).c_str(), std::string(c->name).c_str());
  else
    std::fprintf(stderr, "mcp-jail: %s\n%s", msg.c_str(), usage().c_str());
  return kExitLauncherError;
}

// `mcp-jail help [COMMAND]`.
int help_command(const std::vector<std::string>& args) {
  if (args.size() < 2) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  const CommandSpec* c = find_command(args[1]);
  if (!c) return usage_error(nullptr, "no command '" + args[1] + "'");
  std::fputs(help(*c).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  phase("main");
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : argc), argv + argc);
  const CommandSpec* c = nullptr;
  try {
    if (args.empty()) return usage_error(nullptr, "no command given");
    const std::string& first = args[0];
    if (first == "--help" || first == "-h" || first == "help") return help_command(args);
    if (first == "--version") {
      std::printf("mcp-jail %s\n", MCPJAIL_VERSION);
      return 0;
    }
    if (first == probe::kInsideCommand) return probe::inside_main(argc, argv);
    // Hidden (not in the usage): the build runs it to write the completion scripts.
    if (first == "completion") return completion_main(std::vector<std::string>(args.begin() + 1, args.end()));
    c = find_command(first);
    if (!c) return usage_error(nullptr, "unknown command '" + first + "'");
    const Arguments parsed = parse(*c, std::span(args).subspan(1));
    if (parsed.help) {
      std::fputs(help(*c).c_str(), stdout);
      return 0;
    }
    return run_handler(parsed);
  } catch (const UsageError& e) {
    return usage_error(c, e.what());
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

}  // namespace mcpjail::cli
