// The table of commands and options, and the help written from it. Data
// only: which function runs a command is cli.cc's business, so that a tool
// that only reads the table (a completion generator) links nothing else.
#include <algorithm>

#include "mcpjail/frontends/cli.hpp"

namespace mcpjail::cli {

namespace {

// ---- options -----------------------------------------------------------------
// The placeholders are the man page's words (tests/unit/test_cli.cc compares).

constexpr OptionSpec kVar{"var", 0, "NAME=VALUE", true, ValueKind::Var,
                          "define ${NAME} for the profile and the files it extends"};
constexpr OptionSpec kRead{"read", 0, "PATH", true, ValueKind::Path, "make PATH visible read-only, for this launch"};
constexpr OptionSpec kWrite{"write", 0, "PATH", true, ValueKind::Path, "make PATH visible read-write, for this launch"};
constexpr OptionSpec kEnv{"env", 0, "NAME[=VALUE]", true, ValueKind::EnvName,
                          "pass NAME from this environment to the server, or set it to VALUE"};
constexpr OptionSpec kAuditLog{"audit-log", 0, "TARGET", false, ValueKind::Audit,
                               "where the audit log goes: stderr, none or a file (JSON lines appended)"};
constexpr OptionSpec kPrint{"print", 0, "", false, ValueKind::None,
                            "print the [pin] section on stdout and write nothing"};
constexpr OptionSpec kDryRun{"dry-run", 0, "", false, ValueKind::None, "print the change as a diff and write nothing"};
constexpr OptionSpec kProfile{"profile", 0, "[SERVER=]NAME", true, ValueKind::Profile,
                              "this profile (a built-in name or a .toml file) for every server, or for SERVER only"};

constexpr OptionSpec kJson{"json", 0, "", false, ValueKind::None, "print the checks as one JSON object"};
constexpr OptionSpec kDoctorWrite{"write", 0, "PATH", true, ValueKind::Path,
                                  "check as if PATH were made visible read-write (as run --write would)"};
constexpr OptionSpec kOutput{"output", 'o', "DIR", false, ValueKind::Path,
                             "write into DIR, a new or empty directory (required)", true};
constexpr OptionSpec kImage{"image", 0, "IMAGE", false, ValueKind::Text,
                            "k8s: the container image that holds the server and its runtime (required)"};
constexpr OptionSpec kName{"name", 0, "NAME", false, ValueKind::Text,
                           "k8s: the Pod's or Deployment's name (default: the profile's)"};
constexpr OptionSpec kReplicas{"replicas", 0, "N", false, ValueKind::Text, "k8s: a Deployment of N replicas, not a Pod"};

constexpr OptionSpec kLearnOutput{"output", 'o', "FILE", false, ValueKind::File,
                                  "write the profile to FILE (default: NAME.learned.toml here); a learned FILE is widened"};
constexpr OptionSpec kExtends{"extends", 0, "PROFILE", false, ValueKind::Profile,
                              "the learned profile extends PROFILE (default: base)"};
constexpr OptionSpec kLearnName{"name", 0, "NAME", false, ValueKind::Text,
                                "the learned profile's name (default: from the command)"};

constexpr OptionSpec kLearnRead{"read", 0, "PATH", true, ValueKind::Path,
                                "make PATH visible read-only while learning, and in the profile"};
constexpr OptionSpec kLearnWrite{"write", 0, "PATH", true, ValueKind::Path,
                                 "make PATH writable on the host while learning, and in the profile"};
constexpr OptionSpec kExercise{"exercise", 0, "", false, ValueKind::None,
                               "be the MCP client: initialize, list tools, resources and prompts, then end"};

constexpr const OptionSpec* kRunOptions[] = {&kVar, &kRead, &kWrite, &kEnv, &kAuditLog};
constexpr const OptionSpec* kProbeOptions[] = {&kVar, &kRead, &kWrite, &kEnv};
constexpr const OptionSpec* kPinOptions[] = {&kVar, &kRead, &kWrite, &kEnv, &kPrint};
constexpr const OptionSpec* kWrapOptions[] = {&kDryRun, &kProfile};
constexpr const OptionSpec* kUnwrapOptions[] = {&kDryRun};
constexpr const OptionSpec* kDoctorOptions[] = {&kJson, &kVar, &kDoctorWrite};
constexpr OptionSpec kLearnNetwork{"network", 0, "", false, ValueKind::None,
                                   "let the server reach public names and addresses while learning, and record them"};
constexpr const OptionSpec* kLearnOptions[] = {&kLearnOutput, &kExtends,   &kLearnName,  &kLearnNetwork, &kExercise,
                                               &kVar,         &kLearnRead, &kLearnWrite, &kEnv};
constexpr const OptionSpec* kExportOptions[] = {&kVar, &kRead, &kWrite, &kEnv, &kOutput, &kImage, &kName, &kReplicas};

// ---- commands ------------------------------------------------------------------

constexpr CommandSpec kCommands[] = {
    {"run", "PROFILE", ValueKind::Profile, ServerCommand::Required, kRunOptions,
     "run a server in a jail built from a profile",
     "Builds a jail from PROFILE and runs COMMAND with its arguments in it. mcp-jail stays\n"
     "outside as the supervisor and exits with the server's status: 128+N when it died of\n"
     "signal N, 124 when [limits] wall_time ended it, 125 for an error of mcp-jail (nothing\n"
     "was started), 126 when COMMAND cannot be executed, 127 when it is not found."},
    {"check", "PROFILE", ValueKind::Profile, ServerCommand::Optional, kRunOptions,
     "validate a profile and print the plan",
     "Validates PROFILE and prints the plan on stdout: first a summary (who the server runs as,\n"
     "what it can write, run and reach, what may be skipped), then every mount and why, the network, the\n"
     "environment, the privileges, the limits, Landlock, seccomp, the pins. With a COMMAND,\n"
     "its own files are planned as run would plan them. Starts nothing, changes nothing."},
    {"probe", "PROFILE", ValueKind::Profile, ServerCommand::None, kProbeOptions,
     "try escapes from a jail built from a profile",
     "Runs a battery of escape and exfiltration attempts, as a hostile server would, inside a\n"
     "jail built from PROFILE, and prints one line per attempt. Exit status 0 when every\n"
     "attempt was contained, 1 when not, 125 when the jail could not be built."},
    {"pin", "PROFILE", ValueKind::Profile, ServerCommand::Required, kPinOptions,
     "record sha256 pins of a server's files in its profile",
     "Plans COMMAND as run would (nothing is started), hashes its entry point, the lockfiles\n"
     "of its project and the project tree, and writes the pins into the [pin] section of the\n"
     "profile file PROFILE: run, check and probe then refuse to start when one of them\n"
     "changed. Takes run's options except --audit-log, so that a run command line pins as it is."},
    {"wrap", "CONFIG.json", ValueKind::File, ServerCommand::None, kWrapOptions,
     "route a host configuration's stdio servers through mcp-jail",
     "Rewrites an MCP host configuration (Claude Desktop, Cursor: \"mcpServers\"; VS Code\n"
     "mcp.json: \"servers\"; VS Code settings.json: \"mcp\": {\"servers\"}) so that each stdio\n"
     "server starts as `mcp-jail run PROFILE -- COMMAND ARGS...`. A backup is written first\n"
     "(CONFIG.json.mcp-jail.bak); --dry-run prints the change as a diff and writes nothing.\n"
     "Servers of the catalog (npx, node, venv/pipx and python -m forms of the reference\n"
     "servers, GitHub, sqlite, time, ...) get their built-in profile (filesystem, memory,\n"
     "everything, fetch, git) or a profile written for them with exactly the catalog's\n"
     "needs (GitHub: network allowlist api.github.com:443); a server the catalog does not\n"
     "know gets a profile of its own: base, no network, its directory arguments writable.\n"
     "Written profiles go beside the configuration (CONFIG.mcp-jail/SERVER.toml), or below\n"
     "~/.config/mcp-jail/wrap when a server may write there; an edited one is kept, and\n"
     "`mcp-jail learn` refines them. --profile NAME (a built-in name or a .toml path) is\n"
     "used for every server instead, --profile SERVER=NAME for the server of that name\n"
     "(repeatable; it wins over --profile NAME). The keys of an entry's \"envFile\" (Cursor)\n"
     "are passed like \"env\"."},
    {"unwrap", "CONFIG.json", ValueKind::File, ServerCommand::None, kUnwrapOptions,
     "put the servers wrap routed through mcp-jail back as they were",
     "Puts each entry of CONFIG.json that starts `mcp-jail run ... COMMAND ARGS...` back to\n"
     "COMMAND ARGS...; nothing else in the file changes, so edits made since wrap stay. When a\n"
     "backup wrap wrote beside the file (CONFIG.json.mcp-jail[.STAMP].bak) holds the same entry\n"
     "unwrapped, its own text is put back: unwrap after wrap gives the file back byte for\n"
     "byte. A backup is written first; --dry-run prints the change as a diff and writes\n"
     "nothing. An entry edited so that its arguments are no `run` command line is refused,\n"
     "naming it (exit status 125; nothing is written)."},
    {"learn", "", ValueKind::None, ServerCommand::Required, kLearnOptions,
     "write a profile from what a server does",
     "Runs COMMAND as run would, its stdin and stdout the MCP host's, but in a learning jail:\n"
     "the host's files visible except credentials, writable on the host only where the command\n"
     "line names a directory (and --write); other writes succeed in a throw-away layer that ends\n"
     "with the jail; no network. Every file read, looked at (stat), written and executed and\n"
     "every denied system call is recorded. When the server exits, a profile that extends\n"
     "PROFILE (default base) and grants what was used is written to FILE, each line with its\n"
     "evidence; escape-class system calls are reported, never granted. A FILE learn wrote\n"
     "before is widened. Exit status: the server's, or 125 for an error of mcp-jail or a server\n"
     "that failed (what was recorded is still written, with a note). With --exercise, mcp-jail\n"
     "is the MCP client itself (initialize, tools/list, resources/list, prompts/list, then the\n"
     "end): start-up needs are captured without a host."},
    {"profiles", "", ValueKind::None, ServerCommand::None, {}, "list the built-in profiles",
     "Lists the built-in profiles, one a line: the name and the description."},
    {"doctor", "PROFILE", ValueKind::Profile, ServerCommand::None, kDoctorOptions,
     "check what this host offers against what a profile needs",
     "Checks what this host offers against what PROFILE needs (default: base, with every other\n"
     "layer shown as well), for the invoking user: root launches as root, rootless otherwise.\n"
     "One line per check with its fix. Exit status: 0 when the profile can run here, 1 when\n"
     "not, 125 for an error.",
     true},
    {"export", "oci|k8s", ValueKind::Choice, ServerCommand::Required, kExportOptions,
     "write a profile's jail as a runc bundle or Kubernetes manifests",
     "Plans the jail as run would (the same profile and options; nothing is started) and writes\n"
     "it into DIR, which must be new or empty:\n"
     "  oci  a runc bundle: DIR/config.json and DIR/rootfs/ (as root: runc run --bundle DIR ID)\n"
     "  k8s  JSON manifests (a Pod, or a Deployment with --replicas), a NetworkPolicy, for host\n"
     "       names a CiliumNetworkPolicy in DIR/cilium/, and the seccomp profile in\n"
     "       DIR/profiles/mcp-jail/NAME.json (copy DIR/profiles to /var/lib/kubelet/seccomp/)\n"
     "What the engine cannot express is listed on stderr and in DIR/README.md. Exit status 0,\n"
     "or 125 with the fix (DIR is then left as it was found).",
     false, "PROFILE", ValueKind::Profile},
};

// The operands as the synopsis writes them: "PROFILE", "[PROFILE]", "oci|k8s PROFILE".
std::string operand_words(const CommandSpec& c) {
  std::string s(c.operand);
  if (c.operand_optional) s = "[" + s + "]";
  if (!c.operand2.empty()) s += " " + std::string(c.operand2);
  return s;
}

// The operand the server's command and the options follow.
std::string_view last_operand(const CommandSpec& c) { return c.operand2.empty() ? c.operand : c.operand2; }

std::string option_words(const OptionSpec& o) {
  std::string s = "--" + std::string(o.name);
  if (!o.value.empty()) s += " " + std::string(o.value);
  return s;
}

std::string server_words(const CommandSpec& c) {
  switch (c.server) {
    case ServerCommand::None: return "";
    case ServerCommand::Optional: return " [[--] COMMAND [ARG]...]";
    case ServerCommand::Required: return " [--] COMMAND [ARG]...";
  }
  return "";
}

}  // namespace

std::span<const CommandSpec> commands() { return kCommands; }

const CommandSpec* find_command(std::string_view name) {
  for (const auto& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

const CommandSpec& command(std::string_view name) {
  const CommandSpec* c = find_command(name);
  if (!c) throw std::logic_error("no mcp-jail command " + std::string(name));
  return *c;
}

std::string synopsis(const CommandSpec& c) {
  std::string s = "mcp-jail " + std::string(c.name);
  if (!c.operand.empty()) s += " " + operand_words(c);
  // An option with a short name is written by it (-o FILE).
  for (const OptionSpec* o : c.options) {
    const std::string words =
        o->short_name ? "-" + std::string(1, o->short_name) + " " + std::string(o->value) : option_words(*o);
    s += o->required ? " " + words : " [" + words + "]" + (o->repeatable ? "..." : "");
  }
  return s + server_words(c);
}

std::string help(const CommandSpec& c) {
  std::string s = "usage: " + synopsis(c) + "\n\n" + std::string(c.description) + "\n";
  if (c.server != ServerCommand::None)
    s += "\nCOMMAND is the first argument " + (c.operand.empty() ? std::string() : "after " + std::string(last_operand(c)) + " ") +
         "that is not an option of mcp-jail; write\n"
         "-- before it when its name starts with -. From COMMAND on, every argument is the\n"
         "server's: passed to it unchanged, never read by mcp-jail.\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const OptionSpec* o : c.options) {
    std::string left = o->short_name ? "-" + std::string(1, o->short_name) + ", " : "";
    rows.emplace_back(left + option_words(*o), std::string(o->help) + (o->repeatable ? " (repeatable)" : ""));
  }
  rows.emplace_back("-h, --help", "print this help and exit");
  std::size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  s += "\nOptions";
  if (!c.operand.empty()) s += " (before or after " + std::string(last_operand(c)) + ")";
  s += ":\n";
  for (const auto& [left, right] : rows) s += "  " + left + std::string(width + 2 - left.size(), ' ') + right + "\n";
  s += "\nSee mcp-jail(1).\n";
  return s;
}

std::string usage() {
  std::string s = "usage:\n";
  for (const auto& c : kCommands) s += "  " + synopsis(c) + "\n";
  s += "  mcp-jail COMMAND --help\n"
       "  mcp-jail --version | --help\n"
       "\n"
       "Commands:\n";
  for (const auto& c : kCommands) {
    std::string name(c.name);
    s += "  " + name + std::string(10 - std::min<std::size_t>(name.size(), 9), ' ') + std::string(c.summary) + "\n";
  }
  s += "\n"
       "PROFILE is a built-in profile name (see `mcp-jail profiles`) or a path to a .toml file.\n"
       "Options may stand before or after PROFILE. The server's COMMAND is the first argument\n"
       "after PROFILE that is not an option of mcp-jail (or the first after --); from it on,\n"
       "every argument belongs to the server and is never parsed by mcp-jail.\n"
       "Exit status of run: the server's, 128+N if it died of signal N, 124 when [limits] wall_time\n"
       "ended it, 125 for an error of mcp-jail, 126 when COMMAND cannot be executed, 127 when it is\n"
       "not found. See mcp-jail(1) and mcp-jail-profile(5).\n";
  return s;
}

}  // namespace mcpjail::cli
