// Rate limiting, in one place: a token bucket, and on top of it the limit
// every kind of audit event the jail can provoke goes through (a server that
// loops must not flood the log). Used by the supervisor's watch, the egress
// drop reports and the DNS filter (its refusals, its upstream query budget).
// Pure: no syscalls; time is passed in.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mcpjail {

// `per_second` tokens a second, at most `burst` kept; starts full.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double per_second, double burst, Clock::time_point now = Clock::now());
  // Takes a token: false when none is left (nothing is taken then).
  bool take(Clock::time_point now = Clock::now());
  double per_second() const { return per_second_; }
  double burst() const { return burst_; }

 private:
  void refill(Clock::time_point now);
  double per_second_, burst_, tokens_;
  Clock::time_point refill_;
};

// Rate limit for one kind of audit event: a token bucket, and repeats of one
// key inside the `fold` window folded into the first (no folding when `fold`
// is zero). What it holds back is counted, for the next event that passes.
class RateLimit {
 public:
  using Clock = TokenBucket::Clock;
  RateLimit(double per_second, double burst, Clock::duration fold = std::chrono::seconds(2));
  // True: write the event. False: suppressed (count it, do not write it).
  bool admit(const std::string& key, Clock::time_point now = Clock::now());
  // Suppressed since the last call; written with the next event that passes.
  std::uint64_t take_suppressed() { return std::exchange(suppressed_, 0); }

 private:
  static constexpr std::size_t kMaxRecent = 64;  // keys remembered for folding
  TokenBucket bucket_;
  Clock::duration fold_;
  std::uint64_t suppressed_ = 0;
  std::vector<std::pair<std::string, Clock::time_point>> recent_;
};

}  // namespace mcpjail
