// control::Monitor's schedule with a fast fake checker: every endpoint once per interval at an even
// rate (10,000 endpoints, no second above 3x the mean, the control loop's lag p99 under 20 ms), the
// pre-renewal check, what is reported and what is forgotten.
#include "control/monitor.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "base/logging.hpp"
#include "base/loop_lag.hpp"

using namespace portcullis;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Findings for every endpoint whose id is in `missing` (set before the io_context runs or from
// its thread), nothing for the others. Thread-safe: called from the pool.
class FakeChecks final : public control::EndpointChecks {
 public:
  control::EndpointCheckResult check(const domain::EndpointConfig& endpoint, const domain::CaaContext&) const override {
    ++calls;
    control::EndpointCheckResult out;
    std::lock_guard lock(mutex);
    if (missing.contains(endpoint.id)) {
      domain::AlertFinding f;
      f.kind = domain::AlertKind::dns_record_missing;
      f.endpoint_id = endpoint.id;
      f.subject = "_acme-challenge." + endpoint.hostnames.front() + " CNAME";
      out.dns.push_back(f);
    }
    return out;
  }
  std::vector<domain::AlertFinding> check_platform(const std::string&) const override { return {}; }

  mutable std::atomic<std::size_t> calls{0};
  mutable std::mutex mutex;
  std::set<std::string> missing;
};

// Every report() and forget_endpoint(), as they came (control thread only).
struct RecordingSink final : control::AlertSink {
  void report(std::string_view check, std::string_view id, std::vector<domain::AlertFinding> findings) override {
    reports[{std::string(check), std::string(id)}] = std::move(findings);
    ++count;
  }
  void forget_endpoint(std::string_view id) override { forgotten.emplace_back(id); }
  std::map<std::pair<std::string, std::string>, std::vector<domain::AlertFinding>> reports;
  std::vector<std::string> forgotten;
  std::size_t count = 0;
};

std::vector<domain::EndpointConfig> endpoints(std::size_t n) {
  std::vector<domain::EndpointConfig> out;
  for (std::size_t i = 0; i < n; ++i) {
    domain::EndpointConfig e;
    e.id = fmt::format("ep-{}", i);
    e.hostnames = {fmt::format("app{}.example.com", i)};
    out.push_back(std::move(e));
  }
  return out;
}

// Runs `io` until `done` holds or `deadline` passes; true when it held.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds deadline) {
  const auto end = Clock::now() + deadline;
  while (!done() && Clock::now() < end) {
    io.restart();
    io.run_for(10ms);
  }
  return done();
}

// Stops the monitor's tasks and lets them end.
void stop(boost::asio::io_context& io, control::Monitor& monitor) {
  bool stopped = false;
  boost::asio::co_spawn(io, monitor.shutdown(), [&](std::exception_ptr) { stopped = true; });
  run_until(io, [&] { return stopped; }, 10s);
  REQUIRE(stopped);
}

}  // namespace

TEST_CASE("monitor: 10,000 endpoints are checked once per interval at an even rate, the control loop staying "
          "responsive",
          "[unit][control][monitor]") {
  boost::asio::io_context io;
  base::BlockingPool pool{2};
  FakeChecks checks;
  RecordingSink sink;
  control::Monitor monitor(io.get_executor(), pool, sink, checks);
  std::map<std::string, std::vector<Clock::time_point>> per_endpoint;  // when each check of it started
  monitor.set_check_observer([&](const std::string& id) { per_endpoint[id].push_back(Clock::now()); });
  base::LoopLagProbe probe(io.get_executor(), log::dns(), {.interval = 10ms, .report_threshold = 100ms,
                                                           .report_every = 10s, .samples = 2000});
  probe.start();

  constexpr std::size_t n = 10'000;
  constexpr auto interval = 10s;
  constexpr auto late = 300ms;  // a check may start this long after its slot on a loaded machine
  control::MonitorSettings settings;
  settings.check_interval = interval;
  const auto t0 = Clock::now();
  monitor.configure(settings, endpoints(n));
  // One interval, a little more for the last checks to end.
  const bool all = run_until(io, [&] { return per_endpoint.size() == n && checks.calls.load() >= n; }, interval + 5s);
  probe.stop();
  const auto summary = probe.summary();
  stop(io, monitor);

  INFO("checked " << per_endpoint.size() << " of " << n);
  REQUIRE(all);
  // First checks started per second of the first interval (the last second also takes those that
  // started a little late: the phases are counted from configure(), after t0), and the shortest
  // time between two checks of one endpoint.
  std::vector<std::size_t> per_second(10, 0);
  std::size_t in_interval = 0;
  auto shortest_gap = Clock::duration::max();
  for (const auto& [id, times] : per_endpoint) {
    for (std::size_t i = 1; i < times.size(); ++i) shortest_gap = std::min(shortest_gap, times[i] - times[i - 1]);
    const auto t = times.front();
    if (t - t0 >= interval + late) continue;
    const auto s = std::min<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(t - t0).count(), 9);
    ++per_second[static_cast<std::size_t>(s)];
    ++in_interval;
  }
  const double mean = static_cast<double>(in_interval) / 10.0;
  std::string rates;
  for (auto c : per_second) rates += std::to_string(c) + " ";
  INFO("checks per second: " << rates << "mean " << mean << "; loop lag p99 " << summary.p99.count() << " us, max "
                             << summary.max.count() << " us");
  CHECK(in_interval == n);                  // every endpoint within the first interval
  CHECK(shortest_gap > interval - 2 * late);  // and not again before the next
  for (auto c : per_second) CHECK(static_cast<double>(c) <= 3 * mean);
  CHECK(summary.samples > 100);
  CHECK(summary.p99 < 20ms);
  WARN("checks per second: " << rates << "| loop lag p50 " << summary.p50.count() << " us, p99 "
                             << summary.p99.count() << " us, max " << summary.max.count() << " us");
}

TEST_CASE("monitor: each run's findings are reported per check, a fixed record resolves, a removed endpoint is "
          "forgotten",
          "[unit][control][monitor]") {
  boost::asio::io_context io;
  base::BlockingPool pool{1};
  FakeChecks checks;
  checks.missing = {"ep-0"};
  RecordingSink sink;
  control::Monitor monitor(io.get_executor(), pool, sink, checks);
  control::MonitorSettings settings;
  settings.check_interval = 1s;
  auto eps = endpoints(2);
  monitor.configure(settings, eps);

  const std::pair<std::string, std::string> dns0{"monitor.dns", "ep-0"};
  REQUIRE(run_until(io, [&] { return sink.reports.contains(dns0) && sink.reports.contains({"monitor.dns", "ep-1"}); },
                    5s));
  CHECK(sink.reports[dns0].size() == 1);
  CHECK(sink.reports[{"monitor.dns", "ep-1"}].empty());
  CHECK(sink.reports.contains({"monitor.caa", "ep-0"}));
  CHECK(run_until(io, [&] { return sink.reports.contains({"monitor.dns", ""}); }, 5s));  // our zone

  {
    std::lock_guard lock(checks.mutex);
    checks.missing.clear();
  }
  INFO("the next check, within an interval, finds nothing: the finding resolves");
  CHECK(run_until(io, [&] { return sink.reports[dns0].empty(); }, 3s));

  eps.pop_back();
  monitor.configure(settings, eps);
  CHECK(sink.forgotten == std::vector<std::string>{"ep-1"});
  CHECK(monitor.endpoints() == 1);
  stop(io, monitor);
}

TEST_CASE("monitor: one more check pre_renewal_days before the certificate's expiry, once", "[unit][control][monitor]") {
  boost::asio::io_context io;
  base::BlockingPool pool{1};
  FakeChecks checks;
  RecordingSink sink;
  control::Monitor monitor(io.get_executor(), pool, sink, checks);
  const auto not_after = std::chrono::system_clock::now() + std::chrono::hours(24 * 14) + 2s;
  monitor.set_dates_source([&](const std::string&) { return control::RenewalDates{not_after, std::nullopt}; });
  control::MonitorSettings settings;
  settings.check_interval = 1h;  // no periodic check but the first during the test
  settings.startup_spread = 100ms;
  settings.pre_renewal_days = 14;
  monitor.configure(settings, endpoints(1));

  REQUIRE(run_until(io, [&] { return monitor.stats().checks_done == 1; }, 2s));
  CHECK(monitor.stats().pre_renewal_checks == 0);
  REQUIRE(run_until(io, [&] { return monitor.stats().checks_done == 2; }, 5s));
  CHECK(monitor.stats().pre_renewal_checks == 1);
  // Not again for the same date.
  run_until(io, [] { return false; }, 1500ms);
  CHECK(monitor.stats().checks_done == 2);
  stop(io, monitor);
}
