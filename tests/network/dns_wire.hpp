// Building DNS wire-format pieces in tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dnstest {

using Bytes = std::vector<std::uint8_t>;

inline void put16(Bytes& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

// "www.example.com" -> 3www7example3com0
inline Bytes wire(const std::string& n) {
  Bytes out;
  std::size_t start = 0;
  while (start < n.size()) {
    auto dot = n.find('.', start);
    if (dot == std::string::npos) dot = n.size();
    out.push_back(static_cast<std::uint8_t>(dot - start));
    out.insert(out.end(), n.begin() + static_cast<std::ptrdiff_t>(start), n.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

}  // namespace dnstest
