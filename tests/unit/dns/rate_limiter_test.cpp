#include "dns/rate_limiter.hpp"

#include <catch2/catch.hpp>

using portcullis::dns::RateLimiter;
using boost::asio::ip::make_address;
using namespace std::chrono_literals;

TEST_CASE("rate limiting: a burst of the rate per network, then every second response slips", "[unit][dns]") {
  RateLimiter limiter(10, 2);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 10; ++i) CHECK(limiter.check(make_address("192.0.2.1"), t0) == RateLimiter::Verdict::answer);
  // The same /24 shares the bucket.
  CHECK(limiter.check(make_address("192.0.2.200"), t0) == RateLimiter::Verdict::drop);
  CHECK(limiter.check(make_address("192.0.2.1"), t0) == RateLimiter::Verdict::slip);
  CHECK(limiter.check(make_address("192.0.2.1"), t0) == RateLimiter::Verdict::drop);
  // Another network has its own.
  CHECK(limiter.check(make_address("192.0.3.1"), t0) == RateLimiter::Verdict::answer);
  // A tenth of a second refills one response.
  CHECK(limiter.check(make_address("192.0.2.1"), t0 + 100ms) == RateLimiter::Verdict::answer);
  CHECK(limiter.check(make_address("192.0.2.1"), t0 + 100ms) != RateLimiter::Verdict::answer);
  CHECK(limiter.networks() == 2);
}

TEST_CASE("rate limiting: IPv6 clients share a /56, v4-mapped ones count as IPv4", "[unit][dns]") {
  CHECK(RateLimiter::network_of(make_address("2001:db8:0:ff00::1")) ==
        RateLimiter::network_of(make_address("2001:db8:0:ffab::9")));
  CHECK(RateLimiter::network_of(make_address("2001:db8:0:100::1")) !=
        RateLimiter::network_of(make_address("2001:db8:0:ff::1")));
  CHECK(RateLimiter::network_of(make_address("::ffff:192.0.2.7")) == RateLimiter::network_of(make_address("192.0.2.9")));
  CHECK(RateLimiter::network_of(make_address("0.0.0.1")) != RateLimiter::network_of(make_address("::1")));
}

TEST_CASE("rate limiting: 0 is off, slip 0 drops everything over the limit", "[unit][dns]") {
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  RateLimiter off(0);
  for (int i = 0; i < 1000; ++i) REQUIRE(off.check(make_address("192.0.2.1"), t0) == RateLimiter::Verdict::answer);
  RateLimiter strict(1, 0);
  CHECK(strict.check(make_address("192.0.2.1"), t0) == RateLimiter::Verdict::answer);
  for (int i = 0; i < 10; ++i) CHECK(strict.check(make_address("192.0.2.1"), t0) == RateLimiter::Verdict::drop);
}

TEST_CASE("rate limiting: a full table forgets the networks seen least recently, not every bucket",
          "[unit][dns]") {
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  RateLimiter limiter(2, 0, 3);
  const auto flooder = make_address("198.51.100.1");
  // The flooder spends its burst and is limited.
  CHECK(limiter.check(flooder, t0) == RateLimiter::Verdict::answer);
  CHECK(limiter.check(flooder, t0) == RateLimiter::Verdict::answer);
  CHECK(limiter.check(flooder, t0) == RateLimiter::Verdict::drop);
  CHECK(limiter.check(make_address("192.0.2.1"), t0) == RateLimiter::Verdict::answer);
  CHECK(limiter.check(make_address("192.0.3.1"), t0) == RateLimiter::Verdict::answer);
  CHECK(limiter.networks() == 3);
  // Still sending: the most recently seen.
  CHECK(limiter.check(flooder, t0) == RateLimiter::Verdict::drop);
  // Two new networks: the oldest two go, one at a time.
  CHECK(limiter.check(make_address("192.0.4.1"), t0) == RateLimiter::Verdict::answer);
  CHECK_FALSE(limiter.remembers(make_address("192.0.2.1")));
  CHECK(limiter.remembers(make_address("192.0.3.1")));
  CHECK(limiter.check(make_address("192.0.5.1"), t0) == RateLimiter::Verdict::answer);
  CHECK_FALSE(limiter.remembers(make_address("192.0.3.1")));
  CHECK(limiter.networks() == 3);
  // The flooder kept its bucket through the churn: it is still limited.
  CHECK(limiter.remembers(flooder));
  CHECK(limiter.check(flooder, t0) == RateLimiter::Verdict::drop);
}
