// The server the soak launches: it does not speak MCP, it only behaves like a
// server process does at the end of its life.
//
//   soak_server TOKEN exit CODE          exits with CODE at once
//   soak_server TOKEN hang               waits until killed
//   soak_server TOKEN fork-exit CODE N   forks N children that wait until killed, then exits with CODE
//   soak_server TOKEN fork-hang CODE N   forks N such children, then waits until killed
//
// TOKEN only marks the process (and its children, which share the command
// line) as the soak's. Nothing here executes another program: the jail's
// default exec allowlist is this binary.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {

[[noreturn]] void wait_forever() {
  for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const char* mode = argv[2];
  const int code = argc > 3 ? std::atoi(argv[3]) : 0;
  const int children = argc > 4 ? std::atoi(argv[4]) : 0;
  if (std::strcmp(mode, "exit") == 0) return code;
  if (std::strcmp(mode, "hang") == 0) wait_forever();
  const bool fork_exit = std::strcmp(mode, "fork-exit") == 0;
  if (!fork_exit && std::strcmp(mode, "fork-hang") != 0) return 2;
  for (int i = 0; i < children; ++i) {
    const pid_t p = ::fork();
    if (p < 0) return 3;
    if (p == 0) wait_forever();
  }
  if (fork_exit) return code;
  wait_forever();
}
