// Token bucket and audit-event rate limit (see rate_limit.hpp).
#include "mcpjail/rate_limit.hpp"

#include <algorithm>

namespace mcpjail {

TokenBucket::TokenBucket(double per_second, double burst, Clock::time_point now)
    : per_second_(per_second), burst_(burst), tokens_(burst), refill_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= refill_) return;  // time never runs backwards for the bucket
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - refill_).count() * per_second_);
  refill_ = now;
}

bool TokenBucket::take(Clock::time_point now) {
  refill(now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

RateLimit::RateLimit(double per_second, double burst, Clock::duration fold)
    : bucket_(per_second, burst), fold_(fold) {}

bool RateLimit::admit(const std::string& key, Clock::time_point now) {
  if (fold_.count() > 0) {
    std::erase_if(recent_, [&](const auto& r) { return now - r.second > fold_; });
    for (const auto& r : recent_)
      if (r.first == key) {
        ++suppressed_;
        return false;
      }
  }
  if (!bucket_.take(now)) {
    ++suppressed_;
    return false;
  }
  if (fold_.count() > 0 && recent_.size() < kMaxRecent) recent_.emplace_back(key, now);
  return true;
}

}  // namespace mcpjail
