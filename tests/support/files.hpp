// Small file helpers shared by the test suites.
#pragma once
#include <string>
#include <vector>

namespace support {

// The file's whole contents; "" when it cannot be read (a /proc file of a
// process that ended meanwhile fails with ESRCH).
std::string slurp(const std::string& path);

// Everything left to read from `fd` (a pipe from a forked child), to EOF;
// then closes it.
std::string drain(int fd);

// Writes `text` to `path` (created or truncated) and sets its mode.
void spit(const std::string& path, const std::string& text, unsigned mode = 0644);

// The non-empty lines of `text`, without their line ends.
std::vector<std::string> lines(const std::string& text);

}  // namespace support
