// When to renew: pure functions for the renewal time (ratio of the lifetime, with jitter), the ARI
// window choice (RFC 9773 §4.2) and the failure backoff, and RenewalScheduler, which applies them
// per endpoint with an injected clock and keeps its state in Storage so it survives restarts.
#pragma once

#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.hpp"
#include "certstore/storage.hpp"

namespace portcullis::acme {

using Clock = std::chrono::system_clock;
// A uniform draw in [0, 1). Injected so that tests are deterministic.
using UnitRandom = std::function<double()>;

struct RenewalPolicy {
  double renew_before_ratio = 1.0 / 3;               // renew when this fraction of the lifetime is left
  double short_lifetime_ratio = 1.0 / 2;             // ... or this one for short-lived certificates
  std::chrono::hours short_lifetime{24 * 10};        // "short-lived": a lifetime under this
  double jitter_ratio = 0.02;                        // pulled earlier by up to this fraction of the lifetime
};

// not_after - ratio * lifetime - unit_random * jitter_ratio * lifetime. Never later than the
// unjittered time, so jitter spreads renewals without eating into the safety margin.
Clock::time_point renewal_time(Clock::time_point not_before, Clock::time_point not_after,
                               const RenewalPolicy& policy, double unit_random);

// RFC 9773 §4.2: a uniformly random point in [start, end); `now` when that point has passed.
Clock::time_point ari_renewal_time(Clock::time_point window_start, Clock::time_point window_end,
                                   Clock::time_point now, double unit_random);

// Delay after the n-th consecutive failure: 1 min, 10 min, 100 min, then every 6 h. 0 for n <= 0.
std::chrono::seconds failure_backoff(int consecutive_failures);

struct CertificateLifetime {
  Clock::time_point not_before;
  Clock::time_point not_after;
};

// Decides, per endpoint, when the next issuance attempt is due, and never hands out an endpoint
// that is already in flight. Owned and called by the control thread only (not thread-safe).
// Every state change is written through Storage::put_renewal_state (blocking, brief), or handed to
// the writer set with set_writer().
//
// Driving loop (control thread):
//   scheduler.load(); for each managed endpoint: scheduler.track(id, lifetime-or-nullopt);
//   loop: wait until next_due(); for id in take_due(): start an issuance, then
//         succeeded(id, new lifetime) or failed(id, error.message()).
class RenewalScheduler {
 public:
  RenewalScheduler(certstore::Storage& storage, RenewalPolicy policy, std::function<Clock::time_point()> now,
                   UnitRandom random);

  // Reads the stored RenewalState rows (failure counts and next attempts survive a restart).
  // Blocking: at start-up.
  Status load();
  // The same from states already read (e.g. at start-up, before the control loop runs).
  void adopt(std::vector<certstore::RenewalState> states);

  // Where every later state change goes instead of Storage::put_renewal_state (called inline).
  // The control plane passes one that queues the write on the blocking pool's store lane: the
  // state is kept here first, so a write that fails or is still queued is lost on restart only.
  using StateWriter = std::function<Status(const certstore::RenewalState&)>;
  void set_writer(StateWriter writer) { writer_ = std::move(writer); }

  // An endpoint to manage, with its current certificate (nullopt: none yet, due at once unless a
  // failure backoff is running). A stored next attempt that was computed for this certificate is
  // kept, so jitter does not move on every restart.
  Status track(const std::string& endpoint_id, std::optional<CertificateLifetime> certificate);
  // Stops managing the endpoint (its stored state is left for operators to read).
  void forget(const std::string& endpoint_id);

  // The CA's ARI window for the endpoint's certificate. A changed window re-draws the attempt
  // time; the same window keeps it (RFC 9773 §4.2). Ignored while a failure backoff runs.
  Status set_renewal_window(const std::string& endpoint_id, Clock::time_point start, Clock::time_point end);

  // Endpoints due now that are not in flight, at most `max` of them, the longest overdue first;
  // each is marked in flight until succeeded/failed/postpone.
  std::vector<std::string> take_due(std::size_t max = std::numeric_limits<std::size_t>::max());
  // The earliest attempt among tracked endpoints not in flight; nullopt when there is none.
  std::optional<Clock::time_point> next_due() const;

  // The CA, the account or the EAB changed: the failures seen so far say nothing about the new
  // settings. Every tracked endpoint in a failure backoff (and not in flight) is due at once with
  // its failure count cleared; its last error is kept for operators. Returns how many.
  Result<std::size_t> reset_backoff();

  // No order was placed: the endpoint waits (for a DNS record the customer has to create). The CA
  // was not asked, so no failure is counted; due again after `delay`, `reason` kept for operators.
  Status postpone(const std::string& endpoint_id, std::chrono::seconds delay, std::string reason);

  Status succeeded(const std::string& endpoint_id, CertificateLifetime certificate);
  Status failed(const std::string& endpoint_id, std::string error);

  // An operator asks for an attempt now (the admin API): a tracked endpoint not in flight is due
  // at once. One in a failure backoff only with `force` (its failure count is cleared, its last
  // error kept): a forced attempt after the customer fixed a record is the common case. Errors:
  // not_found (not tracked), conflict (in flight, or in a backoff without force; the message
  // says until when).
  Status renew_now(const std::string& endpoint_id, bool force);

  std::optional<certstore::RenewalState> state(const std::string& endpoint_id) const;
  bool in_flight(const std::string& endpoint_id) const;
  // The CA's ARI window last set for the endpoint's certificate (set_renewal_window), if any.
  std::optional<std::pair<Clock::time_point, Clock::time_point>> renewal_window(const std::string& endpoint_id) const;

 private:
  struct Entry {
    certstore::RenewalState state;
    std::optional<CertificateLifetime> certificate;
    std::optional<std::pair<Clock::time_point, Clock::time_point>> ari_window;
    bool tracked = false;
    bool in_flight = false;
  };
  Status save(const Entry& entry);
  Clock::time_point attempt_time(const Entry& entry) const;

  certstore::Storage& storage_;
  RenewalPolicy policy_;
  std::function<Clock::time_point()> now_;
  UnitRandom random_;
  StateWriter writer_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace portcullis::acme
