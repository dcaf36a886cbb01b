// fuzz_pin: arbitrary bytes as a profile whose [pin] section `mcp-jail pin`
// replaces. Never crashes; when the rewritten text loads as a profile, it
// holds the new pins and a second rewrite changes nothing.
#include <cstdint>
#include <string>

#include "mcpjail/frontends/pin.hpp"
#include "mcpjail/profile.hpp"

using namespace mcpjail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > kMaxProfileBytes) return 0;
  static const Pins pins = [] {
    Pins p;
    p.files.push_back({"/srv/app/index.js", std::string(64, 'a'), {}});
    p.trees.push_back({"/srv/app", std::string(64, 'b'), 3, {"mcp-jail.toml"}, {}});
    return p;
  }();
  static const std::string section = pin::render_section(pins, "fuzz");
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string once = pin::replace_section(text, section);
  LoadOptions opts;
  opts.home = "/home/fuzz";
  opts.pwd = "/work";
  Profile p;
  try {
    p = load_profile_text(once, "fuzz.toml", "/nonexistent-profile-dir", opts);
  } catch (const std::exception&) {
    return 0;  // `mcp-jail pin` refuses to write such a text
  }
  if (pin::replace_section(once, section) != once) __builtin_trap();
  bool file = false, tree = false;
  for (const auto& f : p.pin.files) file |= f.path == pins.files[0].path && f.sha256 == pins.files[0].sha256;
  for (const auto& t : p.pin.trees) tree |= t.path == pins.trees[0].path && t.sha256 == pins.trees[0].sha256;
  if (!file || !tree) __builtin_trap();
  return 0;
}
