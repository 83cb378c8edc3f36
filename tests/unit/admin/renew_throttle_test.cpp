#include "admin/renew_throttle.hpp"

#include <catch2/catch.hpp>

using portcullis::admin::RenewThrottle;
using namespace std::chrono_literals;

TEST_CASE("renew now passes once a minute per endpoint and says how long to wait", "[unit][admin]") {
  RenewThrottle throttle;
  const auto t0 = RenewThrottle::Clock::time_point{} + 1h;
  CHECK_FALSE(throttle.admit("shop", t0, 1min));
  CHECK(throttle.admit("shop", t0 + 1s, 1min) == std::optional<std::chrono::seconds>(59s));
  CHECK(throttle.admit("shop", t0 + 59500ms, 1min) == std::optional<std::chrono::seconds>(1s));
  CHECK_FALSE(throttle.admit("api", t0 + 2s, 1min));  // per endpoint
  CHECK_FALSE(throttle.admit("shop", t0 + 60s, 1min));
  CHECK(throttle.admit("shop", t0 + 61s, 1min) == std::optional<std::chrono::seconds>(59s));
}
