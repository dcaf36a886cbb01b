// The parser every command shares. Two steps, both driven by the command's
// entry in the table:
//   1. the split: where mcp-jail's arguments end and the server's begin (the
//      first argument after the operand(s) that is neither an option of
//      mcp-jail nor an option's value, or the first after "--");
//   2. mcp-jail's arguments through Boost.Program_options, which checks
//      names, values and repetitions; the server's are never looked at.
#include <boost/program_options.hpp>

#include "mcpjail/frontends/cli.hpp"

namespace po = boost::program_options;

namespace mcpjail::cli {

namespace {

const std::vector<std::string> kNone;

const OptionSpec* find_long(const CommandSpec& c, std::string_view name) {
  for (const OptionSpec* o : c.options)
    if (o->name == name) return o;
  return nullptr;
}

const OptionSpec* find_short(const CommandSpec& c, char name) {
  for (const OptionSpec* o : c.options)
    if (o->short_name && o->short_name == name) return o;
  return nullptr;
}

// `arg` (an option) is followed by its value as the next argument:
// "--var NAME=VALUE", not "--var=NAME=VALUE", not a switch.
bool value_follows(const CommandSpec& c, const std::string& arg) {
  if (arg.starts_with("--")) {
    if (arg.find('=') != std::string::npos) return false;
    const OptionSpec* o = find_long(c, std::string_view(arg).substr(2));
    return o && !o->value.empty();
  }
  const OptionSpec* o = arg.size() == 2 ? find_short(c, arg[1]) : nullptr;
  return o && !o->value.empty();
}

bool is_option(const std::string& arg) { return arg.size() > 1 && arg[0] == '-'; }

// Boost's option name in an error ("--var", "-h", "var") as it was written.
std::string shown(std::string name) {
  if (!name.starts_with("-")) name = (name.size() == 1 ? "-" : "--") + name;
  return name;
}

const OptionSpec* spec_of(const CommandSpec& c, std::string name) {
  while (name.starts_with("-")) name.erase(0, 1);
  if (name.size() == 1) return find_short(c, name[0]);
  return find_long(c, name.substr(0, name.find('=')));
}

// Boost's messages in the words of mcp-jail's usage.
[[noreturn]] void rethrow(const CommandSpec& c, const po::error& e) {
  if (const auto* u = dynamic_cast<const po::unknown_option*>(&e))
    throw UsageError("unknown option '" + u->get_option_name() + "'");
  if (const auto* m = dynamic_cast<const po::multiple_occurrences*>(&e))
    throw UsageError(shown(m->get_option_name()) + " may be given only once");
  if (const auto* s = dynamic_cast<const po::invalid_command_line_syntax*>(&e)) {
    const std::string name = shown(s->get_option_name());
    const OptionSpec* o = spec_of(c, name);
    if (s->kind() == po::invalid_command_line_syntax::missing_parameter && o && !o->value.empty())
      throw UsageError(name + " needs a " + std::string(o->value));
    if (s->kind() == po::invalid_command_line_syntax::extra_parameter) throw UsageError(name + " takes no value");
  }
  throw UsageError(e.what());
}

}  // namespace

const std::vector<std::string>& Arguments::values(std::string_view name) const {
  const auto it = options.find(std::string(name));
  return it == options.end() ? kNone : it->second;
}

std::string Arguments::value(std::string_view name) const {
  const auto& v = values(name);
  return v.empty() ? std::string() : v.front();
}

Arguments parse(const CommandSpec& c, std::span<const std::string> args) {
  Arguments out;
  out.command = &c;

  // 1. The split.
  std::vector<std::string> own;
  std::size_t operands = 0;
  const std::size_t operand_count = (c.operand.empty() ? 0 : 1) + (c.operand2.empty() ? 0 : 1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      if (c.server != ServerCommand::None) {
        out.dashdash = true;
        out.server.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      } else {
        own.insert(own.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());  // operands, for Boost
      }
      break;
    }
    if (is_option(a)) {
      own.push_back(a);
      if (value_follows(c, a) && i + 1 < args.size()) own.push_back(args[++i]);
      continue;
    }
    if (operands < operand_count || c.server == ServerCommand::None) {
      own.push_back(a);
      ++operands;
      continue;
    }
    out.server.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
    break;
  }

  // 2. mcp-jail's own arguments.
  po::options_description desc;
  for (const OptionSpec* o : c.options) {
    std::string names(o->name);
    if (o->short_name) names += std::string(",") + o->short_name;
    if (o->value.empty()) desc.add_options()(names.c_str(), po::bool_switch(), "");
    else if (o->repeatable) desc.add_options()(names.c_str(), po::value<std::vector<std::string>>(), "");
    else desc.add_options()(names.c_str(), po::value<std::string>(), "");
  }
  desc.add_options()("help,h", po::bool_switch(), "")("operand", po::value<std::vector<std::string>>(), "");
  po::positional_options_description positional;
  positional.add("operand", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(own)
                  .options(desc)
                  .positional(positional)
                  .style(po::command_line_style::unix_style & ~po::command_line_style::allow_guessing)
                  .run(),
              vm);
  } catch (const po::error& e) {
    rethrow(c, e);
  }
  out.help = vm["help"].as<bool>();
  if (out.help) return out;
  for (const OptionSpec* o : c.options) {
    const std::string name(o->name);
    if (!vm.count(name) || vm[name].defaulted()) continue;
    if (o->value.empty()) {
      if (vm[name].as<bool>()) out.options[name] = {""};
    } else if (o->repeatable) {
      out.options[name] = vm[name].as<std::vector<std::string>>();
    } else {
      out.options[name] = {vm[name].as<std::string>()};
    }
  }

  std::vector<std::string> ops;
  if (vm.count("operand")) ops = vm["operand"].as<std::vector<std::string>>();
  if (!c.operand.empty()) {
    if (ops.empty() && !c.operand_optional) throw UsageError("no " + std::string(c.operand) + " given");
    if (!ops.empty()) out.operand = ops[0];
  }
  if (!c.operand2.empty()) {
    if (ops.size() < 2) throw UsageError("no " + std::string(c.operand2) + " given");
    out.operand2 = ops[1];
  }
  if (ops.size() > operand_count) throw UsageError("unexpected argument '" + ops[operand_count] + "'");
  if (c.server == ServerCommand::Required && out.server.empty())
    throw UsageError(out.dashdash ? "no COMMAND after --"
                                   : "no COMMAND given: the server's command follows " +
                                         std::string(c.operand2.empty() ? c.operand : c.operand2));
  return out;
}

}  // namespace mcpjail::cli
