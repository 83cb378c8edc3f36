// AlertBook: the alerts the checks report (control/AlertSink), each a state machine keyed by
// domain::AlertFinding::key(): firing while its check reports it (count and last_seen follow),
// resolved when the check's next complete report leaves it out or its endpoint is forgotten, and
// firing again later as a new episode with a new id. Every change is written to the store behind
// the in-memory book (the storage pool's store lane, in order), so a restart keeps them; resolved
// episodes are kept for a bounded time and number. Each firing and each resolution is logged once
// and handed to the notifier (the webhooks), which keeps its own outbox.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/blocking_pool.hpp"
#include "certstore/storage.hpp"
#include "base/metrics_writer.hpp"
#include "control/alert_sink.hpp"
#include "domain/alert.hpp"

namespace portcullis::control {

// One episode of an alert. Times are unix seconds.
struct Alert {
  std::int64_t id = 0;
  std::string check;
  domain::AlertFinding finding;
  bool firing = true;
  std::int64_t first_seen = 0;
  std::int64_t last_seen = 0;
  std::int64_t resolved_at = 0;  // 0 while firing
  std::int64_t count = 1;        // times reported while firing
};

// `escalated`: a firing alert's severity rose (warning -> critical) while it went on firing; the
// episode and its id stay the same.
enum class AlertEvent { firing, escalated, resolved };
std::string_view to_string(AlertEvent event) noexcept;

// Told of every firing, escalation and resolution, on the control thread, after the book has
// changed. Must not block.
class AlertNotifier {
 public:
  virtual ~AlertNotifier() = default;
  virtual void notify(const Alert& alert, AlertEvent event) = 0;
};

struct AlertBookOptions {
  std::chrono::hours keep_resolved{30 * 24};  // resolved episodes older than this are pruned
  std::size_t max_resolved = 1000;            // and all but this many most recent
  std::function<std::int64_t()> now;          // unix seconds; empty: the system clock
};

class AlertBook final : public AlertSink {
 public:
  // `storage` and `pool` must outlive the book. Every call but load() on the control thread.
  AlertBook(certstore::Storage& storage, base::BlockingPool& pool, AlertBookOptions options = {});

  // Start-up (blocking, before the control loop runs): reads the stored alerts and prunes the
  // resolved ones past the bounds. Errors: the store's.
  Status load();

  // May be null (no webhooks). Must outlive the book or be reset first.
  void set_notifier(AlertNotifier* notifier) noexcept { notifier_ = notifier; }
  // From [alerts] keep_resolved_days; applies at the next prune.
  void set_keep_resolved(std::chrono::hours keep) noexcept { options_.keep_resolved = keep; }

  void report(std::string_view check, std::string_view endpoint_id,
              std::vector<domain::AlertFinding> findings) override;
  void forget_endpoint(std::string_view endpoint_id) override;

  enum class StateFilter { firing, resolved, all };
  // Firing first (critical before warning, then most recently first seen), then resolved, most
  // recently resolved first. An empty `endpoint_id` matches every endpoint.
  std::vector<Alert> list(StateFilter state, std::string_view endpoint_id = {}) const;
  std::size_t firing_count(std::string_view endpoint_id) const;
  std::size_t firing_count() const noexcept { return firing_.size(); }
  // For GET /metrics: portcullis_alerts_firing{kind} (every kind, 0 included).
  void write_metrics(base::MetricsWriter& out) const;

  // Drops resolved episodes past the bounds, in memory and in the store (write-behind). The book
  // calls it after each resolution; an owner may call it on a timer.
  void prune();

 private:
  std::int64_t now() const;
  void resolve(std::int64_t id, std::int64_t when);
  void save(const Alert& alert);
  static certstore::StoredAlert to_stored(const Alert& alert);

  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  AlertBookOptions options_;
  AlertNotifier* notifier_ = nullptr;
  std::map<std::int64_t, Alert> alerts_;        // id -> episode, firing and kept resolved ones
  std::map<std::string, std::int64_t> firing_;  // key -> id of its firing episode
  std::int64_t next_id_ = 1;
};

}  // namespace portcullis::control
