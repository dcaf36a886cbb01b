// The one token bucket and audit-event rate limit (rate_limit.hpp).
#include <catch2/catch.hpp>

#include "mcpjail/rate_limit.hpp"

using namespace mcpjail;
using namespace std::chrono_literals;

TEST_CASE("token bucket: starts full, refills at its rate, never above its burst") {
  const auto t0 = TokenBucket::Clock::now();
  TokenBucket b(10, 3, t0);
  CHECK(b.take(t0));
  CHECK(b.take(t0));
  CHECK(b.take(t0));
  CHECK_FALSE(b.take(t0));
  CHECK_FALSE(b.take(t0 + 50ms));  // half a token
  CHECK(b.take(t0 + 100ms));
  CHECK_FALSE(b.take(t0 + 100ms));
  // a long pause refills up to the burst only
  for (int i = 0; i < 3; ++i) CHECK(b.take(t0 + 1h));
  CHECK_FALSE(b.take(t0 + 1h));
  // a clock that goes backwards takes nothing away and gives nothing
  CHECK_FALSE(b.take(t0));
}

TEST_CASE("rate limit: folds repeats of a key, holds back floods, counts what it held back") {
  using C = RateLimit::Clock;
  const auto t0 = C::now();
  RateLimit r(10, 3, 2s);
  CHECK(r.admit("a", t0));
  CHECK_FALSE(r.admit("a", t0 + 100ms));  // a repeat within the window
  CHECK(r.admit("b", t0));
  CHECK(r.admit("c", t0));
  CHECK_FALSE(r.admit("d", t0));  // the burst of 3 is spent
  CHECK(r.take_suppressed() == 2);
  CHECK(r.take_suppressed() == 0);
  CHECK(r.admit("d", t0 + 150ms));  // refilled at 10 a second
  CHECK(r.admit("a", t0 + 3s));     // the window has passed

  // Without a fold window only the bucket counts.
  RateLimit plain(1, 2, C::duration::zero());
  CHECK(plain.admit("x", t0));
  CHECK(plain.admit("x", t0));
  CHECK_FALSE(plain.admit("x", t0));
  CHECK(plain.take_suppressed() == 1);
}
