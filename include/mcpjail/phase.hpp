// Launch phase timestamps, for profiling the launch (bench/PROFILING.md,
// bench/phases.mjs). Compiled in only with -DMCPJAIL_PHASE_TIMES=ON: then
// every process of a launch writes "PH <phase> <microseconds>" lines
// (CLOCK_MONOTONIC) to its stderr. In normal builds phase() is empty.
#pragma once

#ifdef MCPJAIL_PHASE_TIMES
#include <time.h>
#include <unistd.h>

#include <cstdio>
#endif

namespace mcpjail {

#ifdef MCPJAIL_PHASE_TIMES
inline void phase(const char* name) {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  char buf[96];
  const int n = std::snprintf(buf, sizeof buf, "PH %s %lld\n", name,
                              static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000);
  if (n > 0) (void)!::write(2, buf, static_cast<std::size_t>(n));
}
#else
inline void phase(const char*) {}
#endif

}  // namespace mcpjail
