// libFuzzer target: `mcp-jail wrap` on arbitrary bytes. The rewrite must
// refuse bad input with WrapError and nothing else, and whatever it accepts
// it must turn into a configuration that wrap accepts again and leaves as it
// is (valid output, idempotent), changing nothing when it reports no change.
// unwrap, given the input as the earlier configuration, gives back what it
// gives for the input itself: the wrapped entries exactly as they were.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "mcpjail/frontends/wrap.hpp"

namespace {

void check(const std::string_view text, const mcpjail::WrapOptions& o) {
  mcpjail::WrapResult first;
  try {
    first = mcpjail::wrap_config(text, o);
  } catch (const mcpjail::WrapError&) {
    return;
  }
  if (!first.changed && first.text != text) std::abort();
  // Throws (and so crashes the fuzzer) if the output is not a valid configuration.
  const mcpjail::WrapResult second = mcpjail::wrap_config(first.text, o);
  if (second.changed || second.text != first.text) std::abort();
  if (first.changed == mcpjail::unified_diff(text, first.text, "a", "b").empty()) std::abort();

  std::optional<std::string> plain;
  try {
    plain = mcpjail::unwrap_config(text, {}).text;
  } catch (const mcpjail::WrapError&) {
  }
  std::optional<std::string> back;
  try {
    back = mcpjail::unwrap_config(first.text, {std::string(text)}).text;
  } catch (const mcpjail::WrapError&) {
  }
  if (plain != back) std::abort();
  // Whatever unwrap writes, wrap reads.
  if (back) (void)mcpjail::wrap_config(*back, o);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mcpjail::WrapOptions o;
  o.jail_path = "/usr/bin/mcp-jail";
  o.home = "/home/fuzz";
  check(text, o);
  o.profile = "filesystem";  // --profile filesystem: the variable and --write paths
  check(text, o);
  return 0;
}
