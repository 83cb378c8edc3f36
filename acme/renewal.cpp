#include "acme/renewal.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "base/logging.hpp"

namespace portcullis::acme {
namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

std::int64_t to_unix(Clock::time_point t) { return duration_cast<seconds>(t.time_since_epoch()).count(); }
Clock::time_point from_unix(std::int64_t s) { return Clock::time_point(seconds(s)); }

double clamp_unit(double u) { return std::clamp(u, 0.0, 1.0); }

}  // namespace

Clock::time_point renewal_time(Clock::time_point not_before, Clock::time_point not_after, const RenewalPolicy& policy,
                               double unit_random) {
  const auto lifetime = not_after - not_before;
  if (lifetime <= Clock::duration::zero()) return not_before;
  const double ratio = lifetime < policy.short_lifetime ? policy.short_lifetime_ratio : policy.renew_before_ratio;
  const auto margin = duration_cast<Clock::duration>(lifetime * ratio);
  const auto jitter = duration_cast<Clock::duration>(lifetime * (policy.jitter_ratio * clamp_unit(unit_random)));
  return std::max(not_before, not_after - margin - jitter);
}

Clock::time_point ari_renewal_time(Clock::time_point window_start, Clock::time_point window_end, Clock::time_point now,
                                   double unit_random) {
  Clock::time_point chosen = window_start;
  if (window_end > window_start)
    chosen += duration_cast<Clock::duration>((window_end - window_start) * clamp_unit(unit_random));
  return chosen < now ? now : chosen;
}

seconds failure_backoff(int consecutive_failures) {
  using namespace std::chrono_literals;
  switch (consecutive_failures) {
    case 0: return 0s;
    case 1: return 1min;
    case 2: return 10min;
    case 3: return 100min;
    default: return consecutive_failures < 0 ? 0s : seconds(6h);
  }
}

RenewalScheduler::RenewalScheduler(certstore::Storage& storage, RenewalPolicy policy,
                                   std::function<Clock::time_point()> now, UnitRandom random)
    : storage_(storage), policy_(policy), now_(std::move(now)), random_(std::move(random)) {}

Status RenewalScheduler::load() {
  auto states = storage_.load_renewal_states();
  if (!states) return tl::unexpected(states.error().with_context("renewal: load state"));
  adopt(std::move(*states));
  return {};
}

void RenewalScheduler::adopt(std::vector<certstore::RenewalState> states) {
  entries_.reserve(entries_.size() + states.size());  // one table for every stored state, no rehash
  for (auto& s : states) {
    auto& entry = entries_[s.endpoint_id];
    entry.state = std::move(s);
  }
}

Status RenewalScheduler::save(const Entry& entry) {
  auto put = writer_ ? writer_(entry.state) : storage_.put_renewal_state(entry.state);
  if (!put) return tl::unexpected(put.error().with_context("renewal: store state for " + entry.state.endpoint_id));
  return {};
}

Clock::time_point RenewalScheduler::attempt_time(const Entry& entry) const {
  if (entry.ari_window)
    return ari_renewal_time(entry.ari_window->first, entry.ari_window->second, now_(), random_());
  return renewal_time(entry.certificate->not_before, entry.certificate->not_after, policy_, random_());
}

Status RenewalScheduler::track(const std::string& endpoint_id, std::optional<CertificateLifetime> certificate) {
  auto& entry = entries_[endpoint_id];
  entry.state.endpoint_id = endpoint_id;
  entry.tracked = true;
  const bool same_certificate = entry.certificate && certificate &&
                                entry.certificate->not_after == certificate->not_after &&
                                entry.certificate->not_before == certificate->not_before;
  if (!same_certificate) entry.ari_window.reset();
  entry.certificate = certificate;
  if (entry.state.consecutive_failures > 0) return {};  // the backoff stands
  if (!certificate) {
    if (entry.state.next_attempt_unix == 0) return {};
    entry.state.next_attempt_unix = 0;
    return save(entry);
  }
  if (same_certificate && entry.state.next_attempt_unix != 0) return {};
  // A time stored for this very certificate (previous run) lies well inside its lifetime; one
  // stored for its predecessor lies around this certificate's issuance. Keep only the former.
  const auto lifetime = certificate->not_after - certificate->not_before;
  const auto stored = from_unix(entry.state.next_attempt_unix);
  if (entry.state.next_attempt_unix != 0 && stored <= certificate->not_after &&
      stored >= certificate->not_before + lifetime / 10)
    return {};
  entry.state.next_attempt_unix = to_unix(attempt_time(entry));
  return save(entry);
}

void RenewalScheduler::forget(const std::string& endpoint_id) {
  auto it = entries_.find(endpoint_id);
  if (it == entries_.end()) return;
  it->second.tracked = false;
  it->second.certificate.reset();
  it->second.ari_window.reset();
}

Status RenewalScheduler::set_renewal_window(const std::string& endpoint_id, Clock::time_point start,
                                            Clock::time_point end) {
  auto it = entries_.find(endpoint_id);
  if (it == entries_.end() || !it->second.tracked)
    return fail(Errc::not_found, "renewal: endpoint " + endpoint_id + " is not tracked");
  auto& entry = it->second;
  if (entry.ari_window && entry.ari_window->first == start && entry.ari_window->second == end) return {};
  entry.ari_window = std::make_pair(start, end);
  if (entry.state.consecutive_failures > 0 || entry.in_flight) return {};
  entry.state.next_attempt_unix = to_unix(attempt_time(entry));
  log::acme()->info("renewal window endpoint={} start={} end={} next_attempt={}", endpoint_id, to_unix(start),
                    to_unix(end), entry.state.next_attempt_unix);
  return save(entry);
}

std::vector<std::string> RenewalScheduler::take_due(std::size_t max) {
  // The longest overdue first, so a bound on concurrent orders serves them in turn; ties by id.
  std::vector<std::pair<std::int64_t, std::string>> candidates;
  const auto now = to_unix(now_());
  for (const auto& [id, entry] : entries_) {
    if (!entry.tracked || entry.in_flight || entry.state.next_attempt_unix > now) continue;
    candidates.emplace_back(entry.state.next_attempt_unix, id);
  }
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() > max) candidates.resize(max);
  std::vector<std::string> due;
  due.reserve(candidates.size());
  for (auto& [at, id] : candidates) {
    entries_[id].in_flight = true;
    due.push_back(std::move(id));
  }
  return due;
}

std::optional<Clock::time_point> RenewalScheduler::next_due() const {
  std::optional<Clock::time_point> earliest;
  for (const auto& [id, entry] : entries_) {
    if (!entry.tracked || entry.in_flight) continue;
    auto at = from_unix(entry.state.next_attempt_unix);
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

Result<std::size_t> RenewalScheduler::reset_backoff() {
  std::size_t reset = 0;
  const auto now = to_unix(now_());
  for (auto& [id, entry] : entries_) {
    if (!entry.tracked || entry.in_flight || entry.state.consecutive_failures == 0) continue;
    entry.state.consecutive_failures = 0;
    entry.state.next_attempt_unix = now;
    ++reset;
    if (auto st = save(entry); !st) return tl::unexpected(st.error());
  }
  return reset;
}

Status RenewalScheduler::succeeded(const std::string& endpoint_id, CertificateLifetime certificate) {
  auto& entry = entries_[endpoint_id];
  entry.state.endpoint_id = endpoint_id;
  entry.in_flight = false;
  entry.certificate = certificate;
  entry.ari_window.reset();
  entry.state.consecutive_failures = 0;
  entry.state.last_error.clear();
  entry.state.last_success_unix = to_unix(now_());
  entry.state.next_attempt_unix = to_unix(attempt_time(entry));
  return save(entry);
}

Status RenewalScheduler::failed(const std::string& endpoint_id, std::string error) {
  auto& entry = entries_[endpoint_id];
  entry.state.endpoint_id = endpoint_id;
  entry.in_flight = false;
  entry.state.consecutive_failures += 1;
  entry.state.last_error = std::move(error);
  const auto delay = failure_backoff(entry.state.consecutive_failures);
  entry.state.next_attempt_unix = to_unix(now_() + delay);
  log::acme()->warn("issuance failed endpoint={} failures={} retry_in_s={} error=\"{}\"", endpoint_id,
                    entry.state.consecutive_failures, delay.count(), entry.state.last_error);
  return save(entry);
}

Status RenewalScheduler::postpone(const std::string& endpoint_id, std::chrono::seconds delay, std::string reason) {
  auto& entry = entries_[endpoint_id];
  entry.state.endpoint_id = endpoint_id;
  entry.in_flight = false;
  entry.state.last_error = std::move(reason);
  entry.state.next_attempt_unix = to_unix(now_() + delay);
  return save(entry);
}

Status RenewalScheduler::renew_now(const std::string& endpoint_id, bool force) {
  auto it = entries_.find(endpoint_id);
  if (it == entries_.end() || !it->second.tracked) {
    return fail(Errc::not_found, "renewal: endpoint " + endpoint_id + " is not managed");
  }
  auto& entry = it->second;
  if (entry.in_flight) return fail(Errc::conflict, "renewal: an attempt for " + endpoint_id + " is in progress");
  const auto now = to_unix(now_());
  if (entry.state.consecutive_failures > 0 && !force) {
    return fail(Errc::conflict,
                fmt::format("renewal: {} is in a failure backoff after {} failure{} until {} (unix); add "
                            "?force=true to try now",
                            endpoint_id, entry.state.consecutive_failures,
                            entry.state.consecutive_failures == 1 ? "" : "s", entry.state.next_attempt_unix));
  }
  entry.state.consecutive_failures = 0;
  entry.state.next_attempt_unix = now;
  return save(entry);
}

std::optional<certstore::RenewalState> RenewalScheduler::state(const std::string& endpoint_id) const {
  auto it = entries_.find(endpoint_id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state;
}

std::optional<std::pair<Clock::time_point, Clock::time_point>> RenewalScheduler::renewal_window(
    const std::string& endpoint_id) const {
  auto it = entries_.find(endpoint_id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.ari_window;
}

bool RenewalScheduler::in_flight(const std::string& endpoint_id) const {
  auto it = entries_.find(endpoint_id);
  return it != entries_.end() && it->second.in_flight;
}

}  // namespace portcullis::acme
