// Sizes ("512MiB") and durations ("30s", "1h30m") as written in profiles.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mcpjail {

// Bytes from "123", "64K", "64KiB", "512M", "512MiB", "1G", "1GiB", "1T", "1TiB"
// (all binary multiples). Returns nullopt for anything else, including
// decimal units ("MB") that users read differently.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Milliseconds from "0", "500ms", "30s", "5m", "2h", "1h30m", "1d".
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

std::string format_size(std::uint64_t bytes);
std::string format_duration(std::chrono::milliseconds ms);

}  // namespace mcpjail
