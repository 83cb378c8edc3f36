// Monitor: looks at every endpoint's DNS records, canary and CAA once per check interval, spread
// over the interval, plus once `pre_renewal_days` before its managed certificate expires or its
// ARI window opens, and at our own zone; reports each run's complete findings to an AlertSink.
//
// When. Each endpoint has a stable phase in the interval (a hash of its id), so 10,000 endpoints
// are checked at an even rate, not in one burst. At the first configure() every endpoint is first
// checked at its phase within min(interval, startup_spread); one added or changed later within
// min(interval, new_endpoint_spread) (soon, and a reload that adds many does not burst). Then at
// its phase of every interval. The pre-renewal check is one more run at the date the certificate
// manager's dates give, once per date.
//
// Where. The control thread only schedules and receives results; each check runs on the blocking
// pool given (its own, not the store's), at most max_concurrent_checks at once. A check that is
// due while the limit is reached waits its turn.
//
// What. EndpointChecks (control/endpoint_checks): results go to AlertSink::report("monitor.dns",
// id, ...) and ("monitor.caa", id, ...) unless the resolver failed them; our zone's to
// ("monitor.dns", "", ...) every min(interval, platform_interval). A removed endpoint is
// forget_endpoint()ed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/blocking_pool.hpp"
#include "base/task_group.hpp"
#include "control/alert_sink.hpp"
#include "control/endpoint_checks.hpp"
#include "domain/caa.hpp"
#include "domain/endpoint.hpp"

namespace portcullis::control {

struct MonitorSettings {
  bool enabled = true;  // off: every endpoint is forgotten and nothing is checked
  std::chrono::milliseconds check_interval{std::chrono::hours(24)};
  std::uint32_t pre_renewal_days = 14;  // 0: no pre-renewal check
  std::size_t max_concurrent_checks = 8;
  std::chrono::milliseconds startup_spread{std::chrono::minutes(10)};
  std::chrono::milliseconds new_endpoint_spread{std::chrono::seconds(10)};
  std::chrono::milliseconds platform_interval{std::chrono::minutes(1)};
};

// The dates of an endpoint's managed certificate that a pre-renewal check is counted from.
struct RenewalDates {
  std::optional<std::chrono::system_clock::time_point> not_after;
  std::optional<std::chrono::system_clock::time_point> ari_window_start;
};

class Monitor {
 public:
  using Clock = std::chrono::steady_clock;
  // Called on the control thread; must not block (the certificate manager's memory).
  using DatesSource = std::function<RenewalDates(const std::string& endpoint_id)>;
  using CaaSource = std::function<domain::CaaContext()>;

  // `pool`, `sink` and `checks` must outlive the monitor. Every call on `control`'s thread.
  Monitor(boost::asio::any_io_executor control, base::BlockingPool& pool, AlertSink& sink,
          const EndpointChecks& checks);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void set_dates_source(DatesSource source) { dates_ = std::move(source); }
  void set_caa_source(CaaSource source) { caa_ = std::move(source); }
  // Tests: called on the control thread as each endpoint check starts.
  void set_check_observer(std::function<void(const std::string& endpoint_id)> observer) {
    observer_ = std::move(observer);
  }

  // On start and on every reload (and endpoint change): the settings and the endpoints to watch.
  // Starts the loops the first time. Endpoints gone are forgotten by the sink; new or changed ones
  // are checked soon; a new interval moves every endpoint to its phase of the new one.
  void configure(MonitorSettings settings, const std::vector<domain::EndpointConfig>& endpoints);

  // Stops the loops and the checks in flight and completes once they ended (a check running on
  // the pool is awaited). Control thread.
  boost::asio::awaitable<void> shutdown();

  struct Stats {
    std::uint64_t checks_started = 0;
    std::uint64_t checks_done = 0;
    std::uint64_t pre_renewal_checks = 0;
    std::uint64_t platform_checks = 0;
  };
  const Stats& stats() const noexcept { return stats_; }
  std::size_t endpoints() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    domain::EndpointConfig endpoint;
    Clock::time_point periodic_due{};
    std::optional<Clock::time_point> pre_renewal_due;
    std::optional<std::chrono::system_clock::time_point> pre_renewal_basis;  // its date
    std::optional<std::chrono::system_clock::time_point> pre_renewal_done;   // checked for this date
    Clock::time_point queued{};  // the key it has in queue_
    bool running = false;
    std::uint64_t generation = 0;  // bumped when the endpoint changes: a result for an older one is dropped
  };

  boost::asio::awaitable<void> schedule_loop();
  boost::asio::awaitable<void> platform_loop();
  boost::asio::awaitable<void> run_check(std::string id, domain::EndpointConfig endpoint, std::uint64_t generation);
  void start_due(Clock::time_point now);
  void enqueue(const std::string& id, Entry& entry);
  // The first slot of `id`'s phase at or after `after`.
  Clock::time_point next_slot(const std::string& id, Clock::time_point after) const;
  void refresh_pre_renewal(const std::string& id, Entry& entry);
  void wake();

  boost::asio::any_io_executor control_;
  base::BlockingPool& pool_;
  AlertSink& sink_;
  const EndpointChecks& checks_;
  DatesSource dates_;
  CaaSource caa_;
  std::function<void(const std::string&)> observer_;
  MonitorSettings settings_;
  std::map<std::string, Entry> entries_;
  std::set<std::pair<Clock::time_point, std::string>> queue_;  // (due, endpoint id)
  std::size_t running_ = 0;
  std::uint64_t generation_ = 0;
  bool started_ = false;
  Stats stats_;
  boost::asio::steady_timer timer_;           // the schedule loop's; wake() cancels it
  boost::asio::steady_timer platform_timer_;  // the platform loop's; configure() cancels it
  // Last member: destroyed first; its tasks use everything above.
  base::TaskGroup tasks_;
};

}  // namespace portcullis::control
