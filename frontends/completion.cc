// Shell completion: `mcp-jail completion bash|zsh` prints a completion script
// made from the command table (cli/commands.cc) and the built-in profiles;
// the build runs it to produce the files it installs, so they always match
// the binary. The server's command starts at the first word after the
// operands that is not an option of mcp-jail (or after "--"): from there on
// the scripts complete nothing of mcp-jail's.
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "mcpjail/frontends/doctor.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail {

namespace {

// Only words of these characters go into a script (no quoting needed).
bool plain(const std::string& w) {
  if (w.empty()) return false;
  for (char c : w)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return false;
  return true;
}

std::string words_of(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& w : v)
    if (plain(w)) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The options of `table` that take a value completed as `completes` ("file",
// "profile", "": nothing); every one of them when `completes` is null.
std::vector<std::string> value_options(const std::vector<CompletionCommand>& table, const char* completes) {
  std::vector<std::string> out;
  for (const auto& c : table)
    for (const auto& [name, what] : c.values)
      if ((completes == nullptr || what == completes) && plain(name) &&
          std::find(out.begin(), out.end(), name) == out.end())
        out.push_back(name);
  return out;
}

std::string alts(const std::vector<std::string>& v) {
  std::string a;
  for (const auto& o : v) a += (a.empty() ? "" : "|") + o;
  return a;
}

const char* completes(cli::ValueKind k) {
  switch (k) {
    case cli::ValueKind::Path:
    case cli::ValueKind::File:
    case cli::ValueKind::Audit: return "file";
    case cli::ValueKind::Profile: return "profile";
    default: return "";
  }
}

}  // namespace

// The command line of this version: the table that parses it and writes its --help.
std::vector<CompletionCommand> completion_table() {
  std::vector<CompletionCommand> out;
  for (const cli::CommandSpec& c : cli::commands()) {
    CompletionCommand cc;
    cc.name = c.name;
    for (const cli::OptionSpec* o : c.options) {
      const std::string name = "--" + std::string(o->name);
      cc.options.push_back(name);
      if (o->value.empty()) continue;
      cc.values.emplace_back(name, completes(o->kind));
      if (o->short_name) cc.values.emplace_back("-" + std::string(1, o->short_name), completes(o->kind));
    }
    if (!c.operand.empty()) {
      cc.operands = c.operand2.empty() ? 1 : 2;
      cc.takes_profile = c.operand_kind == cli::ValueKind::Profile;
      cc.takes_file = c.operand_kind == cli::ValueKind::File || c.operand_kind == cli::ValueKind::Path;
      if (c.operand_kind == cli::ValueKind::Choice) {
        const std::string words(c.operand);
        for (std::size_t at = 0; at <= words.size();) {
          const auto bar = std::min(words.find('|', at), words.size());
          cc.choices.push_back(words.substr(at, bar - at));
          at = bar + 1;
        }
      }
      cc.profile_second = c.operand2_kind == cli::ValueKind::Profile;
    }
    cc.takes_server = c.server != cli::ServerCommand::None;
    out.push_back(std::move(cc));
  }
  return out;
}

namespace {

// What completes the operand number `n` (0 or 1) of `c`: "profile", "file", "choice" or "".
std::string operand_what(const CompletionCommand& c, int n) {
  if (n == 0) {
    if (!c.choices.empty()) return "choice";
    if (c.takes_profile) return "profile";
    if (c.takes_file) return "file";
    return "";
  }
  return c.profile_second ? "profile" : "";
}

// The per-command settings of a script: one `case` arm each.
std::string command_arms(const std::vector<CompletionCommand>& table, const char* open, const char* close,
                         const char* sep) {
  std::string s;
  for (const auto& c : table) {
    if (!plain(c.name)) continue;
    s += "    " + c.name + ") opts=" + open + words_of(c.options) + close + sep + "nops=" +
         std::to_string(c.operands) + sep + "server=" + (c.takes_server ? "1" : "0") + sep + "first=" +
         operand_what(c, 0) + sep + "second=" + operand_what(c, 1) + sep + "choices=" + open +
         words_of(c.choices) + close + " ;;\n";
  }
  return s;
}

}  // namespace

namespace {

// The scripts, with @NAME@ where fill() puts the words of this version: the
// command names, the built-in profiles, one `case` arm a command
// (command_arms), and the options whose value completes as anything
// (VALUED), a file, a profile, or nothing (BARE). Past the operands comes
// the server's command (after "--", or the first word after the operands
// that is not an option), whose words are its own; it completes as commands
// once a letter of it is typed (an empty word may still become an option of
// mcp-jail).
const char* const kBashScript = R"SH(# bash completion for mcp-jail; generated by `mcp-jail completion bash`
_mcp_jail() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  local commands="@COMMANDS@"
  local profiles="@PROFILES@"
  local i w cmd opts="" nops=0 server=0 first="" second="" choices="" npos=0 what=""
  COMPREPLY=()
  if ((COMP_CWORD == 1)); then
    mapfile -t COMPREPLY < <(compgen -W "$commands --help --version" -- "$cur")
    return 0
  fi
  cmd=${COMP_WORDS[1]}
  case $cmd in
@ARMS@    *) return 0 ;;
  esac
  for ((i = 2; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if ((server)) && [[ $w == -- ]]; then break; fi
    case $w in
      @VALUED@) ((i++)) ;;
      -*) ;;
      *)
        if ((server && npos >= nops)); then break; fi
        ((npos++)) ;;
    esac
  done
  if ((i < COMP_CWORD)); then
    if [[ ${COMP_WORDS[i]} == -- ]] && ((i + 1 == COMP_CWORD)); then mapfile -t COMPREPLY < <(compgen -c -- "$cur")
    else mapfile -t COMPREPLY < <(compgen -f -- "$cur"); fi
    return 0
  fi
  case $prev in
    @FILE@) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
    @PROFILE@) mapfile -t COMPREPLY < <(compgen -W "$profiles" -- "$cur"); return 0 ;;
    @BARE@) return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
    return 0
  fi
  if ((npos == 0)); then what=$first; elif ((npos == 1 && nops == 2)); then what=$second; fi
  case $what in
    profile)
      if [[ $cur == */* || $cur == .* || $cur == "~"* ]]; then mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      else mapfile -t COMPREPLY < <(compgen -W "$profiles" -- "$cur"); fi ;;
    file) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    choice) mapfile -t COMPREPLY < <(compgen -W "$choices" -- "$cur") ;;
    *) if ((server && npos >= nops)) && [[ -n $cur ]]; then mapfile -t COMPREPLY < <(compgen -c -- "$cur"); fi ;;
  esac
  return 0
}
complete -o filenames -F _mcp_jail mcp-jail
)SH";

const char* const kZshScript = R"SH(#compdef mcp-jail
# zsh completion for mcp-jail; generated by `mcp-jail completion zsh`
_mcp_jail() {
  local -a subcommands profiles opts choices
  subcommands=(@COMMANDS@)
  profiles=(@PROFILES@)
  local i w cmd npos=0 nops=0 server=0 first="" second="" what=""
  if (( CURRENT == 2 )); then
    compadd -- $subcommands --help --version
    return
  fi
  cmd=${words[2]}
  case $cmd in
@ARMS@    *) return ;;
  esac
  for (( i = 3; i < CURRENT; i++ )); do
    w=${words[i]}
    if (( server )) && [[ $w == -- ]]; then
      words=(${words[i+1,-1]})
      (( CURRENT -= i ))
      _normal
      return
    fi
    case $w in
      @VALUED@) (( i++ )) ;;
      -*) ;;
      *)
        if (( server && npos >= nops )); then
          words=(${words[i,-1]})
          (( CURRENT -= i - 1 ))
          _normal
          return
        fi
        (( npos++ )) ;;
    esac
  done
  case ${words[CURRENT-1]} in
    @FILE@) _files; return ;;
    @PROFILE@) compadd -- $profiles; return ;;
    @BARE@) return ;;
  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- $opts
    return
  fi
  if (( npos == 0 )); then what=$first; elif (( npos == 1 && nops == 2 )); then what=$second; fi
  case $what in
    profile) compadd -- $profiles; _files -g '*.toml' ;;
    file) _files ;;
    choice) compadd -- $choices ;;
    *)
      if (( server && npos >= nops )) && [[ -n $PREFIX ]]; then
        words=(${words[CURRENT,-1]})
        CURRENT=1
        _normal
      fi ;;
  esac
}
_mcp_jail "$@"
)SH";

// `script` with its @NAME@ places filled from `table` and `profiles`; the
// arms' lists are written between `open` and `close`, their settings
// separated by `sep`.
std::string fill(const char* script, const std::vector<CompletionCommand>& table, const std::vector<std::string>& profiles,
                 const char* open, const char* close, const char* sep) {
  std::vector<std::string> names;
  for (const auto& c : table) names.push_back(c.name);
  const std::pair<std::string, std::string> values[] = {
      {"@COMMANDS@", words_of(names)},
      {"@PROFILES@", words_of(profiles)},
      {"@ARMS@", command_arms(table, open, close, sep)},
      {"@VALUED@", alts(value_options(table, nullptr))},
      {"@FILE@", alts(value_options(table, "file"))},
      {"@PROFILE@", alts(value_options(table, "profile"))},
      {"@BARE@", alts(value_options(table, ""))},
  };
  std::string s;
  const std::string text = script;
  for (std::size_t at = 0; at < text.size();) {
    const auto mark = text.find('@', at);
    bool filled = false;
    if (mark != std::string::npos)
      for (const auto& [name, value] : values)
        if (text.compare(mark, name.size(), name) == 0) {
          s += text.substr(at, mark - at) + value;
          at = mark + name.size();
          filled = true;
          break;
        }
    if (filled) continue;
    const auto end = mark == std::string::npos ? text.size() : mark + 1;
    s += text.substr(at, end - at);
    at = end;
  }
  return s;
}

}  // namespace

std::string bash_completion(const std::vector<CompletionCommand>& table, const std::vector<std::string>& profiles) {
  return fill(kBashScript, table, profiles, "\"", "\"", " ");
}

std::string zsh_completion(const std::vector<CompletionCommand>& table, const std::vector<std::string>& profiles) {
  return fill(kZshScript, table, profiles, "(", ")", "; ");
}

int completion_main(const std::vector<std::string>& args) {
  std::vector<std::string> profiles;
  for (const auto& b : builtin_profiles()) profiles.emplace_back(b.name);
  if (args.size() == 1 && args[0] == "bash") {
    std::fputs(bash_completion(completion_table(), profiles).c_str(), stdout);
    return 0;
  }
  if (args.size() == 1 && args[0] == "zsh") {
    std::fputs(zsh_completion(completion_table(), profiles).c_str(), stdout);
    return 0;
  }
  std::fprintf(stderr, "usage: mcp-jail completion bash|zsh\n");
  return kExitLauncherError;
}

}  // namespace mcpjail
