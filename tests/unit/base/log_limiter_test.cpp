#include "base/log_limiter.hpp"

#include <catch2/catch.hpp>

using portcullis::base::LogLimiter;
using portcullis::base::suppressed_suffix;
using namespace std::chrono_literals;

TEST_CASE("a log limiter passes a burst per interval and reports what it dropped with the next line", "[unit][base]") {
  LogLimiter limiter(3, 1s);
  const auto t0 = LogLimiter::Clock::time_point(100s);
  for (int i = 0; i < 3; ++i) CHECK(limiter.admit(t0 + std::chrono::milliseconds(i)) == 0u);
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limiter.admit(t0 + 500ms));
  CHECK_FALSE(limiter.admit(t0 + 999ms));
  // A new interval: the first line carries the count of the six dropped, the next ones none.
  CHECK(limiter.admit(t0 + 1s) == 6u);
  CHECK(limiter.admit(t0 + 1s) == 0u);
  CHECK(suppressed_suffix(6) == " suppressed=6");
  CHECK(suppressed_suffix(0).empty());
}
