// `mcp-jail unwrap`: puts each server that `mcp-jail wrap` routed through
// `mcp-jail run` back as it was. See mcpjail/frontends/wrap.hpp for the rules.
//
// What an entry runs is read from the entry itself, as `run` reads its
// arguments: the server's command and arguments after the options. Only the
// "command" and "args" spans of such an entry change; every other byte stays,
// so edits made since `wrap` are kept. For the layout, the configurations the
// file was before (wrap's backups) are looked at: when one of them holds the
// same entry running exactly that command line unwrapped, its own text of
// "command" and "args" is put back, byte for byte - also a missing "args".
// Otherwise the values are written in the layout the entry has now.
#include <algorithm>
#include <optional>

#include "config.hpp"
#include "jsonc.hpp"
#include "match.hpp"
#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/wrap.hpp"

namespace mcpjail {

namespace {

using namespace jsonc;
using namespace wrap;

// An entry's command line, read from its "command" and "args". The members
// point into the entry's member list, which must outlive this.
struct EntryCommand {
  const Member* command = nullptr;
  const Member* args = nullptr;  // may be absent
  std::string program;
  std::vector<std::string> arguments;
};

std::optional<EntryCommand> entry_command(const std::string& s, const std::vector<Member>& ms) {
  EntryCommand e;
  e.command = find(ms, "command");
  if (!e.command) return std::nullopt;
  const auto cmd = value_of(s, e.command->value);
  if (!cmd.is_string()) return std::nullopt;
  e.program = cmd.get<std::string>();
  e.args = find(ms, "args");
  if (e.args) {
    auto a = string_array(s, e.args->value);
    if (!a) return std::nullopt;
    e.arguments = std::move(*a);
  }
  return e;
}

// The same entry (section, position and name) in an earlier configuration,
// running `program arguments` itself: its original text of "command" and
// "args" ("args" empty when it had none).
struct OriginalText {
  std::string command, args;
  bool had_args = false;
};

class Earlier {
 public:
  explicit Earlier(const std::vector<std::string>& texts) {
    for (const auto& t : texts) {
      try {
        HostConfig c = read_host_config(t);
        configs_.push_back({&t, std::move(c)});
      } catch (const WrapError&) {  // not a configuration (any more): no help for the layout
      }
    }
  }

  std::optional<OriginalText> find_entry(const std::string& section, std::size_t index, const std::string& name,
                                         const std::string& program, const std::vector<std::string>& arguments) const {
    for (const auto& [text, c] : configs_) {
      for (const auto& sec : c.sections) {
        if (sec.name != section) continue;
        const auto ms = members(c.blanked, sec.value);
        if (index >= ms.size() || ms[index].key != name || c.blanked[ms[index].value.b] != '{') continue;
        const auto entry = members(c.blanked, ms[index].value);  // e points into it
        const auto e = entry_command(c.blanked, entry);
        if (!e || e->program != program || e->arguments != arguments) continue;
        OriginalText o;
        o.command = text->substr(e->command->value.b, e->command->value.e - e->command->value.b);
        if (e->args) {
          o.had_args = true;
          o.args = text->substr(e->args->value.b, e->args->value.e - e->args->value.b);
        }
        return o;
      }
    }
    return std::nullopt;
  }

 private:
  std::vector<std::pair<const std::string*, HostConfig>> configs_;
};

}  // namespace

UnwrapResult unwrap_config(std::string_view text, const std::vector<std::string>& earlier_texts) {
  const HostConfig c = read_host_config(text);
  const std::string& s = c.blanked;
  const Earlier earlier(earlier_texts);
  UnwrapResult result;
  std::vector<Edit> edits;
  for (const auto& sec : c.sections) {
    const auto entries = members(s, sec.value);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const Member& m = entries[i];
      UnwrapReport r{sec.name, m.key, UnwrapAction::NotWrapped, ""};
      const auto ms = s[m.value.b] == '{' ? members(s, m.value) : std::vector<Member>{};
      const auto e = entry_command(s, ms);
      if (!e || base_name(e->program) != "mcp-jail" || e->arguments.empty() || e->arguments[0] != "run") {
        result.servers.push_back(std::move(r));
        continue;
      }
      const std::string where = sec.name + "." + m.key;
      cli::Arguments run;
      try {
        run = cli::parse(cli::command("run"), std::span<const std::string>(e->arguments).subspan(1));
      } catch (const cli::UsageError& err) {
        throw WrapError(where + " runs mcp-jail, but its arguments are not a `mcp-jail run` command line (" +
                        err.what() + "): it was edited by hand; put its \"command\" and \"args\" back yourself");
      }
      if (run.server.empty())
        throw WrapError(where + " runs mcp-jail without a server command: put its \"command\" and \"args\" back yourself");
      const std::string program = run.server[0];
      const std::vector<std::string> arguments(run.server.begin() + 1, run.server.end());
      quote(program);
      for (const auto& a : arguments) quote(a);

      const auto original = earlier.find_entry(sec.name, i, m.key, program, arguments);
      std::vector<Edit> entry_edits;
      if (original) {
        entry_edits.push_back({e->command->value.b, e->command->value.e, original->command});
        if (original->had_args) {
          entry_edits.push_back({e->args->value.b, e->args->value.e, original->args});
        } else {
          // wrap put "args" right after "command": take it out again, with
          // the separator before it. Anywhere else it stays, empty.
          const std::size_t from = e->command->value.e, to = e->args->key_span.b;
          const std::string_view between = text.substr(from, to - from);
          const bool adjacent = e->args->key_span.b > from &&
                                std::count(between.begin(), between.end(), ',') == 1 &&
                                std::all_of(between.begin(), between.end(), [](char ch) { return ch == ',' || is_ws(ch); });
          if (adjacent)
            entry_edits.push_back({from, e->args->value.e, ""});
          else
            entry_edits.push_back({e->args->value.b, e->args->value.e, "[]"});
        }
        r.note = "as it was before wrap";
      } else {
        entry_edits.push_back({e->command->value.b, e->command->value.e, quote(program)});
        entry_edits.push_back({e->args->value.b, e->args->value.e, array_text(s, c.nl, *e->args, arguments)});
        r.note = "the layout of \"args\" is this file's; no earlier copy of the entry was found";
      }
      if (!run.operand.empty()) r.note = "was profile " + run.operand + "; " + r.note;
      edits.insert(edits.end(), entry_edits.begin(), entry_edits.end());
      r.action = UnwrapAction::Restored;
      result.servers.push_back(std::move(r));
    }
  }
  result.changed = !edits.empty();
  result.text = apply_edits(text, std::move(edits));
  return result;
}

}  // namespace mcpjail
