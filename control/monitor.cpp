#include "control/monitor.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/logging.hpp"

namespace portcullis::control {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// With nothing due (or every check slot taken), the schedule loop still looks again this often.
constexpr std::chrono::minutes idle_recheck{1};

// FNV-1a 64 of the id: the endpoint's phase, stable across restarts and hosts.
std::uint64_t id_hash(const std::string& id) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : id) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  // Mix the low bits, which a modulo keeps: ids that differ in their last character only would
  // otherwise get phases a fixed stride apart.
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  return hash;
}

milliseconds offset_in(const std::string& id, milliseconds span) {
  if (span.count() <= 0) return milliseconds(0);
  return milliseconds(static_cast<std::int64_t>(id_hash(id) % static_cast<std::uint64_t>(span.count())));
}

// What the checks look at: a change of anything else (upstreams) needs no new check.
bool same_for_checks(const domain::EndpointConfig& a, const domain::EndpointConfig& b) {
  if (a.hostnames != b.hostnames || a.scope != b.scope || a.managed_https != b.managed_https) return false;
  if (a.ip_allowlist.size() != b.ip_allowlist.size()) return false;
  for (std::size_t i = 0; i < a.ip_allowlist.size(); ++i)
    if (a.ip_allowlist[i].to_string() != b.ip_allowlist[i].to_string()) return false;
  return true;
}

bool is_cancelled(const asio::cancellation_state& state) { return state.cancelled() != asio::cancellation_type::none; }

}  // namespace

Monitor::Monitor(asio::any_io_executor control, base::BlockingPool& pool, AlertSink& sink, const EndpointChecks& checks)
    : control_(control),
      pool_(pool),
      sink_(sink),
      checks_(checks),
      timer_(control),
      platform_timer_(control),
      tasks_(control, log::dns()) {}

Monitor::~Monitor() = default;

asio::awaitable<void> Monitor::shutdown() {
  tasks_.stop();
  co_await tasks_.wait();
}

void Monitor::wake() { timer_.cancel(); }

Monitor::Clock::time_point Monitor::next_slot(const std::string& id, Clock::time_point after) const {
  const std::int64_t interval = settings_.check_interval.count();
  const std::int64_t phase = offset_in(id, settings_.check_interval).count();
  const std::int64_t since = std::chrono::duration_cast<milliseconds>(after.time_since_epoch()).count();
  // The first phase + k * interval >= since (floor division: `since - phase` may be negative).
  std::int64_t k = (since - phase) / interval;
  if (phase + k * interval < since) ++k;
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(milliseconds(phase + k * interval)));
}

void Monitor::enqueue(const std::string& id, Entry& entry) {
  queue_.erase({entry.queued, id});
  if (entry.running) return;  // queued again when its check ends
  entry.queued = entry.pre_renewal_due ? std::min(entry.periodic_due, *entry.pre_renewal_due) : entry.periodic_due;
  queue_.insert({entry.queued, id});
}

void Monitor::refresh_pre_renewal(const std::string& id, Entry& entry) {
  entry.pre_renewal_due.reset();
  if (settings_.pre_renewal_days == 0 || !dates_ || !entry.endpoint.managed_https) return;
  const RenewalDates dates = dates_(id);
  const auto lead = std::chrono::hours(24) * settings_.pre_renewal_days;
  std::optional<std::chrono::system_clock::time_point> basis;
  if (dates.not_after) basis = *dates.not_after - lead;
  if (dates.ari_window_start && (!basis || *dates.ari_window_start - lead < *basis))
    basis = *dates.ari_window_start - lead;
  if (!basis || basis == entry.pre_renewal_done) return;
  const auto now = std::chrono::system_clock::now();
  if (*basis <= now) {
    // Already inside the lead time (a short-lived certificate, or a late start): the checks of
    // every interval cover it; no burst of catch-up checks.
    entry.pre_renewal_done = basis;
    return;
  }
  entry.pre_renewal_basis = basis;
  entry.pre_renewal_due = Clock::now() + std::chrono::duration_cast<Clock::duration>(*basis - now);
}

void Monitor::configure(MonitorSettings settings, const std::vector<domain::EndpointConfig>& endpoints) {
  settings.check_interval = std::max(settings.check_interval, milliseconds(1000));
  settings.max_concurrent_checks = std::max<std::size_t>(1, settings.max_concurrent_checks);
  const bool interval_changed = settings.check_interval != settings_.check_interval;
  const bool lead_changed = settings.pre_renewal_days != settings_.pre_renewal_days;
  const bool switched = settings.enabled != settings_.enabled;
  settings_ = std::move(settings);
  const auto now = Clock::now();
  const bool first = !started_;
  const auto spread =
      std::min(settings_.check_interval, first ? settings_.startup_spread : settings_.new_endpoint_spread);

  std::set<std::string> present;
  static const std::vector<domain::EndpointConfig> none;
  for (const auto& ep : settings_.enabled ? endpoints : none) {
    present.insert(ep.id);
    auto [it, fresh] = entries_.try_emplace(ep.id);
    Entry& entry = it->second;
    if (fresh || !same_for_checks(entry.endpoint, ep)) {
      // New, or its names changed: checked soon, spread so that a reload adding many does not burst.
      entry.endpoint = ep;
      entry.generation = ++generation_;
      // A spread as long as the interval is the phase itself.
      entry.periodic_due = spread >= settings_.check_interval ? next_slot(ep.id, now) : now + offset_in(ep.id, spread);
      refresh_pre_renewal(ep.id, entry);
      enqueue(ep.id, entry);
      continue;
    }
    entry.endpoint = ep;
    if (interval_changed) entry.periodic_due = next_slot(ep.id, now);
    if (lead_changed) refresh_pre_renewal(ep.id, entry);
    if (interval_changed || lead_changed) enqueue(ep.id, entry);
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    queue_.erase({it->second.queued, it->first});
    sink_.forget_endpoint(it->first);
    it = entries_.erase(it);
  }
  if (first) {
    started_ = tasks_.spawn("monitor", schedule_loop()).has_value();
    tasks_.spawn("monitor platform", platform_loop());
    log::dns()->info("monitor started endpoints={} check_interval_s={} pre_renewal_days={}", entries_.size(),
                     settings_.check_interval.count() / 1000, settings_.pre_renewal_days);
  } else {
    wake();
    if (interval_changed || switched) platform_timer_.cancel();
  }
}

void Monitor::start_due(Clock::time_point now) {
  while (!queue_.empty() && running_ < settings_.max_concurrent_checks && queue_.begin()->first <= now) {
    auto [due, id] = *queue_.begin();
    queue_.erase(queue_.begin());
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.running) continue;
    Entry& entry = it->second;
    if (entry.pre_renewal_due && *entry.pre_renewal_due <= now) {
      entry.pre_renewal_done = entry.pre_renewal_basis;
      entry.pre_renewal_due.reset();
      ++stats_.pre_renewal_checks;
      log::dns()->info("monitor pre-renewal check endpoint={} pre_renewal_days={}", id, settings_.pre_renewal_days);
    }
    // The next periodic check is at the endpoint's phase, at least half an interval away (the
    // first check of a new endpoint is off its phase).
    if (entry.periodic_due <= now) entry.periodic_due = next_slot(id, now + settings_.check_interval / 2);
    entry.running = true;
    ++running_;
    ++stats_.checks_started;
    if (observer_) observer_(id);
    tasks_.spawn("monitor check", run_check(id, entry.endpoint, entry.generation));
  }
}

asio::awaitable<void> Monitor::schedule_loop() {
  for (;;) {
    const auto now = Clock::now();
    start_due(now);
    auto next = now + idle_recheck;
    if (running_ < settings_.max_concurrent_checks && !queue_.empty()) next = std::min(next, queue_.begin()->first);
    timer_.expires_at(next);
    co_await timer_.async_wait(use_tuple);  // aborted by wake(): look again at once
    const auto state = co_await asio::this_coro::cancellation_state;
    if (is_cancelled(state)) co_return;  // shutdown()
  }
}

asio::awaitable<void> Monitor::run_check(std::string id, domain::EndpointConfig endpoint, std::uint64_t generation) {
  const domain::CaaContext caa = caa_ ? caa_() : domain::CaaContext{};
  auto result = co_await pool_.run([&] { return checks_.check(endpoint, caa); });
  --running_;
  ++stats_.checks_done;
  auto it = entries_.find(id);
  if (it == entries_.end()) {  // removed meanwhile: forgotten already
    wake();
    co_return;
  }
  Entry& entry = it->second;
  entry.running = false;
  if (entry.generation == generation) {
    if (!result) {
      log::dns()->error("monitor check failed endpoint={} error=\"{}\"", id, result.error().message());
    } else {
      if (!result->error.empty())
        log::dns()->warn("monitor check incomplete endpoint={} error=\"{}\"", id, result->error);
      if (result->dns_complete) sink_.report("monitor.dns", id, std::move(result->dns));
      if (result->caa_complete) sink_.report("monitor.caa", id, std::move(result->caa));
    }
    // The certificate may have been renewed since: its next pre-renewal date.
    refresh_pre_renewal(id, entry);
  }
  enqueue(id, entry);
  wake();
}

asio::awaitable<void> Monitor::platform_loop() {
  for (;;) {
    // First after one period: the DNS server has started and the zone is published by then.
    platform_timer_.expires_after(std::min(settings_.check_interval, settings_.platform_interval));
    co_await platform_timer_.async_wait(use_tuple);  // aborted by configure(): a new interval
    const auto waited = co_await asio::this_coro::cancellation_state;
    if (is_cancelled(waited)) co_return;
    // One endpoint's canary proves the zone's TXT answers as well as its SOA.
    const std::string canary_id = entries_.empty() ? std::string() : entries_.begin()->first;
    if (settings_.enabled) {
      auto findings = co_await pool_.run([&] { return checks_.check_platform(canary_id); });
      const auto state = co_await asio::this_coro::cancellation_state;
      if (is_cancelled(state)) co_return;
      ++stats_.platform_checks;
      if (findings) sink_.report("monitor.dns", "", std::move(*findings));
      else log::dns()->error("monitor platform check failed error=\"{}\"", findings.error().message());
    } else {
      sink_.report("monitor.dns", "", {});  // turned off: nothing of ours stays firing
    }
  }
}

}  // namespace portcullis::control
