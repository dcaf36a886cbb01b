// libFuzzer target: the profile loader must reject any input cleanly - never
// crash, hang, or throw anything but ProfileError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mcpjail/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mcpjail::LoadOptions opts;
  opts.home = "/home/fuzz";
  opts.pwd = "/work";
  opts.vars["WORKSPACE"] = "/work/ws";
  try {
    mcpjail::load_profile_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml",
                               "/profiles", opts);
  } catch (const mcpjail::ProfileError&) {
  }
  return 0;
}
