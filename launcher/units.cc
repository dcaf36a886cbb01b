#include "mcpjail/units.hpp"

#include <cctype>
#include <limits>

namespace mcpjail {
namespace {

// Reads decimal digits at the front of `s`; nullopt on overflow or no digits.
std::optional<std::uint64_t> take_number(std::string_view& s) {
  std::uint64_t v = 0;
  std::size_t i = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    const std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (i == 0) return std::nullopt;
  s.remove_prefix(i);
  return v;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::string_view s = text;
  auto n = take_number(s);
  if (!n) return std::nullopt;
  std::uint64_t mult = 1;
  if (s.empty() || s == "B") {
    mult = 1;
  } else {
    const char u = s[0];
    const std::string_view rest = s.substr(1);
    if (rest != "" && rest != "iB") return std::nullopt;
    switch (u) {
      case 'K': mult = 1ULL << 10; break;
      case 'M': mult = 1ULL << 20; break;
      case 'G': mult = 1ULL << 30; break;
      case 'T': mult = 1ULL << 40; break;
      default: return std::nullopt;
    }
  }
  if (*n > std::numeric_limits<std::uint64_t>::max() / mult) return std::nullopt;
  return *n * mult;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string_view s = text;
  if (s == "0") return std::chrono::milliseconds(0);
  if (s.empty()) return std::nullopt;
  std::uint64_t total = 0;
  while (!s.empty()) {
    auto n = take_number(s);
    if (!n) return std::nullopt;
    std::uint64_t mult = 0;
    if (s.starts_with("ms")) {
      mult = 1;
      s.remove_prefix(2);
    } else if (!s.empty()) {
      switch (s[0]) {
        case 's': mult = 1000; break;
        case 'm': mult = 60'000; break;
        case 'h': mult = 3'600'000; break;
        case 'd': mult = 86'400'000; break;
        default: return std::nullopt;
      }
      s.remove_prefix(1);
    } else {
      return std::nullopt;  // a number needs a unit
    }
    constexpr std::uint64_t kMax = 366ULL * 86'400'000;  // a year is plenty
    if (*n > kMax / mult || total + *n * mult > kMax) return std::nullopt;
    total += *n * mult;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

std::string format_size(std::uint64_t bytes) {
  static const char* const units[] = {"TiB", "GiB", "MiB", "KiB"};
  static const int shifts[] = {40, 30, 20, 10};
  for (int i = 0; i < 4; ++i) {
    const std::uint64_t m = 1ULL << shifts[i];
    if (bytes >= m && bytes % m == 0) return std::to_string(bytes / m) + units[i];
  }
  return std::to_string(bytes) + "B";
}

std::string format_duration(std::chrono::milliseconds ms) {
  const auto v = ms.count();
  if (v == 0) return "0s";
  if (v % 1000 != 0) return std::to_string(v) + "ms";
  return std::to_string(v / 1000) + "s";
}

}  // namespace mcpjail
