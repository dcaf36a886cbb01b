// `mcp-jail learn --exercise`: mcp-jail is the MCP client of the session.
// A forked process (not a thread: the supervisor clones the jail after this
// starts, and a clone of a multi-threaded process keeps only the calling
// thread) speaks to the server over two pipes that become the server's
// stdin and stdout: initialize, notifications/initialized, tools/list,
// resources/list, prompts/list, then closes the server's stdin. It exits 0
// when the server answered initialize, 2 when it never did (then it asks
// the supervisor to stop the jail with SIGTERM).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "mcpjail/errors.hpp"
#include "mcpjail/frontends/learn.hpp"

namespace mcpjail::learn {

namespace {

constexpr auto kAnswerTimeout = std::chrono::seconds(30);

bool write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

enum class Answer { Yes, Eof, Timeout };

// Reads lines from `fd` until one is a JSON-RPC response with `id` (result
// or error).
Answer await_response(int fd, int id, std::string& buffer) {
  const auto deadline = std::chrono::steady_clock::now() + kAnswerTimeout;
  for (;;) {
    for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      const std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"] == id && (j.contains("result") || j.contains("error")))
        return Answer::Yes;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Answer::Timeout;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Answer::Timeout;
    if (r < 0) return Answer::Eof;
    char buf[65536];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Answer::Eof;
    buffer.append(buf, static_cast<std::size_t>(n));
  }
}

[[noreturn]] void client(int to_server, int from_server) {
  std::string buffer;
  bool timed_out = false;
  auto request = [&](int id, const char* method, nlohmann::json params) {
    nlohmann::json m = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
    if (!write_all(to_server, m.dump() + "\n")) return false;
    const Answer a = await_response(from_server, id, buffer);
    timed_out |= a == Answer::Timeout;
    return a == Answer::Yes;
  };
  const bool spoke = request(1, "initialize",
                             {{"protocolVersion", "2025-06-18"},
                              {"capabilities", nlohmann::json::object()},
                              {"clientInfo", {{"name", "mcp-jail-learn"}, {"version", MCPJAIL_VERSION}}}});
  if (spoke) {
    (void)write_all(to_server, R"({"jsonrpc":"2.0","method":"notifications/initialized"})" "\n");
    // A server without resources or prompts answers with an error: fine.
    (void)(request(2, "tools/list", nlohmann::json::object()) && request(3, "resources/list", nlohmann::json::object()) &&
           request(4, "prompts/list", nlohmann::json::object()));
  }
  ::close(to_server);  // the server's stdin ends: it exits
  // A server that still runs without answering: the supervisor stops it
  // (the parent blocks SIGTERM meanwhile; see Exerciser).
  if (timed_out) ::kill(::getppid(), SIGTERM);
  // Drain what the server still writes, so it never blocks on a full pipe.
  char buf[65536];
  while (::read(from_server, buf, sizeof buf) > 0) {
  }
  ::_exit(spoke ? 0 : 2);
}

}  // namespace

Exerciser::Exerciser() {
  // SIGTERM stays blocked until finish(): the supervisor receives it through
  // its signalfd, and one the client sends late cannot end this process.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, &old_mask_);
  int in[2], out[2];  // in: client -> server's stdin; out: server's stdout -> client
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
    throw LaunchError("learn", errno_text("pipes for --exercise", errno));
  pid_ = ::fork();
  if (pid_ < 0) throw LaunchError("learn", errno_text("fork for --exercise", errno));
  if (pid_ == 0) {
    ::close(in[0]);
    ::close(out[1]);
    client(in[1], out[0]);
  }
  ::close(in[1]);
  ::close(out[0]);
  // The server inherits 0 and 1 (dup2 clears close-on-exec on the copies).
  if (::dup2(in[0], 0) < 0 || ::dup2(out[1], 1) < 0) throw LaunchError("learn", errno_text("dup2 for --exercise", errno));
  ::close(in[0]);
  ::close(out[1]);
}

bool Exerciser::finish() {
  // Our copies of the server's pipe ends go, so the client sees EOF.
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::close(null);
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  const timespec now{0, 0};
  while (::sigtimedwait(&term, nullptr, &now) == SIGTERM) {
  }
  ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Exerciser::~Exerciser() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

}  // namespace mcpjail::learn
