#include "acme/renewal.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/acme/memory_storage.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::acme;
using namespace std::chrono_literals;
using days = std::chrono::days;

const Clock::time_point t0 = Clock::time_point(std::chrono::seconds(1'750'000'000));

std::int64_t unix_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

struct FakeClock {
  Clock::time_point now = t0;
  double draw = 0.0;
};

}  // namespace

TEST_CASE("renewal time leaves one third of a 90-day lifetime, jitter only earlier", "[unit][acme]") {
  RenewalPolicy policy;
  const auto nb = t0, na = t0 + days(90);
  CHECK(renewal_time(nb, na, policy, 0.0) == na - days(30));
  // Jitter pulls the time earlier by at most jitter_ratio of the lifetime (2% of 90 d = 43.2 h).
  CHECK(renewal_time(nb, na, policy, 1.0) == na - days(30) - std::chrono::minutes(2592));
  auto mid = renewal_time(nb, na, policy, 0.5);
  CHECK(mid < na - days(30));
  CHECK(mid > na - days(30) - std::chrono::minutes(2592));
}

TEST_CASE("renewal time leaves half of a lifetime under 10 days", "[unit][acme]") {
  RenewalPolicy policy;
  CHECK(renewal_time(t0, t0 + days(6), policy, 0.0) == t0 + days(3));
  CHECK(renewal_time(t0, t0 + 1h, policy, 0.0) == t0 + 30min);
  // Exactly 10 days is not "under 10 days": one third, 80 h.
  CHECK(std::chrono::abs(renewal_time(t0, t0 + days(10), policy, 0.0) - (t0 + days(10) - 80h)) < 1s);

  SECTION("a configured ratio applies to ordinary lifetimes") {
    policy.renew_before_ratio = 0.25;
    CHECK(renewal_time(t0, t0 + days(100), policy, 0.0) == t0 + days(75));
  }
  SECTION("an empty or inverted lifetime renews at once") {
    CHECK(renewal_time(t0, t0, policy, 0.3) == t0);
    CHECK(renewal_time(t0, t0 - 1h, policy, 0.3) == t0);
  }
}

TEST_CASE("the ARI time is a uniform point in the window, or now when it has passed", "[unit][acme]") {
  const auto start = t0 + days(60), end = t0 + days(62);
  CHECK(ari_renewal_time(start, end, t0, 0.0) == start);
  CHECK(ari_renewal_time(start, end, t0, 0.5) == t0 + days(61));
  CHECK(ari_renewal_time(start, end, t0, 0.999999) < end);
  CHECK(ari_renewal_time(start, end, end + 1h, 0.5) == end + 1h);        // window in the past
  CHECK(ari_renewal_time(start, end, start + days(1) + 1h, 0.25) == start + days(1) + 1h);  // drawn point passed
  CHECK(ari_renewal_time(start, start, t0, 0.7) == start);               // empty window
}

TEST_CASE("failures back off 1 min, 10 min, 100 min, then every 6 h", "[unit][acme]") {
  CHECK(failure_backoff(0) == 0s);
  CHECK(failure_backoff(1) == 1min);
  CHECK(failure_backoff(2) == 10min);
  CHECK(failure_backoff(3) == 100min);
  CHECK(failure_backoff(4) == 6h);
  CHECK(failure_backoff(5) == 6h);
  CHECK(failure_backoff(100) == 6h);
}

TEST_CASE("the scheduler hands out at most the asked number of due endpoints, the longest overdue first "
          "(an endpoint never attempted before any retry)",
          "[unit][acme]") {
  testing::MemoryStorage storage;
  FakeClock clock;
  RenewalScheduler scheduler(storage, {}, [&] { return clock.now; }, [&] { return clock.draw; });
  REQUIRE(scheduler.load());
  REQUIRE(scheduler.track("elb-b", std::nullopt));
  REQUIRE(scheduler.track("elb-a", std::nullopt));
  REQUIRE(scheduler.take_due(1) == std::vector<std::string>{"elb-a"});  // both never attempted: by id
  REQUIRE(scheduler.failed("elb-a", "down"));  // due again in a minute
  clock.now += 2min;
  REQUIRE(scheduler.track("elb-c", std::nullopt));  // never attempted: before elb-a's retry
  CHECK(scheduler.take_due(2) == std::vector<std::string>{"elb-b", "elb-c"});
  CHECK(scheduler.take_due(0).empty());
  CHECK(scheduler.take_due(5) == std::vector<std::string>{"elb-a"});
  CHECK(scheduler.take_due(5).empty());
}

TEST_CASE("the scheduler hands out a due endpoint once and backs off on failure", "[unit][acme]") {
  testing::MemoryStorage storage;
  FakeClock clock;
  RenewalScheduler scheduler(storage, {}, [&] { return clock.now; }, [&] { return clock.draw; });
  REQUIRE(scheduler.load());
  REQUIRE(scheduler.track("elb-1", std::nullopt));  // no certificate yet: due now

  CHECK(scheduler.take_due() == std::vector<std::string>{"elb-1"});
  CHECK(scheduler.in_flight("elb-1"));
  CHECK(scheduler.take_due().empty());  // never two in flight
  CHECK_FALSE(scheduler.next_due());

  REQUIRE(scheduler.failed("elb-1", "acme: new-order https://ca/o: 503 (no problem type) \"down\""));
  CHECK(scheduler.state("elb-1")->consecutive_failures == 1);
  CHECK(scheduler.next_due() == clock.now + 1min);
  clock.now += 59s;
  CHECK(scheduler.take_due().empty());
  clock.now += 1s;
  REQUIRE(scheduler.take_due() == std::vector<std::string>{"elb-1"});
  REQUIRE(scheduler.failed("elb-1", "again"));
  CHECK(scheduler.next_due() == clock.now + 10min);
  clock.now += 10min;
  REQUIRE(scheduler.take_due().size() == 1);
  REQUIRE(scheduler.failed("elb-1", "again"));
  CHECK(scheduler.next_due() == clock.now + 100min);
  clock.now += 100min;
  REQUIRE(scheduler.take_due().size() == 1);
  REQUIRE(scheduler.failed("elb-1", "again"));
  CHECK(scheduler.next_due() == clock.now + 6h);
  CHECK(storage.renewal_states.at("elb-1").last_error == "again");

  SECTION("success resets the count and schedules the renewal of the new certificate") {
    clock.now += 6h;
    REQUIRE(scheduler.take_due().size() == 1);
    REQUIRE(scheduler.succeeded("elb-1", {clock.now, clock.now + days(90)}));
    auto state = scheduler.state("elb-1");
    CHECK(state->consecutive_failures == 0);
    CHECK(state->last_error.empty());
    CHECK(state->last_success_unix == unix_of(clock.now));
    CHECK(scheduler.next_due() == clock.now + days(60));
    CHECK(storage.renewal_states.at("elb-1").next_attempt_unix == unix_of(clock.now + days(60)));
  }

  SECTION("new CA settings clear the backoff: due at once, the last error kept") {
    REQUIRE(scheduler.track("elb-2", std::nullopt));
    REQUIRE(scheduler.take_due() == std::vector<std::string>{"elb-2"});  // in flight: left alone
    auto reset = scheduler.reset_backoff();
    REQUIRE(reset);
    CHECK(*reset == 1);
    auto state = scheduler.state("elb-1");
    CHECK(state->consecutive_failures == 0);
    CHECK(state->last_error == "again");
    CHECK(scheduler.take_due() == std::vector<std::string>{"elb-1"});
    CHECK(storage.renewal_states.at("elb-1").consecutive_failures == 0);
    CHECK(storage.renewal_states.at("elb-1").next_attempt_unix == unix_of(clock.now));
    SECTION("a failure after the reset starts the backoff from its first step") {
      REQUIRE(scheduler.failed("elb-1", "still failing"));
      CHECK(scheduler.next_due() == clock.now + 1min);
    }
  }

  SECTION("the backoff survives a restart") {
    RenewalScheduler restarted(storage, {}, [&] { return clock.now; }, [&] { return clock.draw; });
    REQUIRE(restarted.load());
    REQUIRE(restarted.track("elb-1", std::nullopt));
    CHECK(restarted.state("elb-1")->consecutive_failures == 4);
    CHECK(restarted.next_due() == clock.now + 6h);
    CHECK(restarted.take_due().empty());
  }
}

TEST_CASE("the scheduler keeps a stored renewal time for the same certificate across restarts", "[unit][acme]") {
  testing::MemoryStorage storage;
  FakeClock clock;
  const CertificateLifetime cert{t0, t0 + days(90)};
  {
    RenewalScheduler first(storage, {}, [&] { return clock.now; }, [&] { return clock.draw; });
    REQUIRE(first.load());
    clock.draw = 0.5;
    REQUIRE(first.track("elb-1", cert));
  }
  const auto stored = storage.renewal_states.at("elb-1").next_attempt_unix;
  CHECK(stored < unix_of(t0 + days(60)));
  clock.draw = 0.0;  // a new draw would move it; it must not
  RenewalScheduler second(storage, {}, [&] { return clock.now; }, [&] { return clock.draw; });
  REQUIRE(second.load());
  REQUIRE(second.track("elb-1", cert));
  CHECK(storage.renewal_states.at("elb-1").next_attempt_unix == stored);
  CHECK(second.take_due().empty());

  SECTION("but a time stored for the predecessor is replaced") {
    const CertificateLifetime successor{t0 + days(59), t0 + days(149)};
    REQUIRE(second.track("elb-1", successor));
    CHECK(second.next_due() == t0 + days(119));
  }
}

TEST_CASE("an ARI window replaces the ratio and is kept while it does not change", "[unit][acme]") {
  testing::MemoryStorage storage;
  FakeClock clock;
  RenewalScheduler scheduler(storage, {}, [&] { return clock.now; }, [&] { return clock.draw; });
  REQUIRE(scheduler.track("elb-1", CertificateLifetime{t0, t0 + days(90)}));
  CHECK(scheduler.next_due() == t0 + days(60));

  clock.draw = 0.5;
  REQUIRE(scheduler.set_renewal_window("elb-1", t0 + days(10), t0 + days(12)));
  CHECK(scheduler.next_due() == t0 + days(11));
  clock.draw = 0.0;
  REQUIRE(scheduler.set_renewal_window("elb-1", t0 + days(10), t0 + days(12)));  // same window: no new draw
  CHECK(scheduler.next_due() == t0 + days(11));

  SECTION("a window in the past (e.g. revocation) makes it due now") {
    clock.now = t0 + days(5);
    REQUIRE(scheduler.set_renewal_window("elb-1", t0 + days(1), t0 + days(2)));
    CHECK(scheduler.take_due() == std::vector<std::string>{"elb-1"});
  }
  SECTION("an unknown endpoint is refused") {
    CHECK(scheduler.set_renewal_window("nope", t0, t0 + 1h).error().code() == Errc::not_found);
  }
}

TEST_CASE("endpoints are independent and reported in order", "[unit][acme]") {
  testing::MemoryStorage storage;
  FakeClock clock;
  RenewalScheduler scheduler(storage, {}, [&] { return clock.now; }, [&] { return clock.draw; });
  REQUIRE(scheduler.track("b", std::nullopt));
  REQUIRE(scheduler.track("a", std::nullopt));
  REQUIRE(scheduler.track("c", CertificateLifetime{t0, t0 + days(90)}));
  CHECK(scheduler.take_due() == std::vector<std::string>{"a", "b"});
  CHECK(scheduler.next_due() == t0 + days(60));
  scheduler.forget("c");
  CHECK_FALSE(scheduler.next_due());
}
