// Webhooks: alert events POSTed to the [[alerts.webhook]] URLs, as a documented JSON object or a
// Slack message, signed with HMAC-SHA256 when a secret is configured (docs/monitoring.md). Each
// event is first written to the store's outbox ("pending"), then sent by the webhook's own task;
// a delivered or abandoned one is marked so, which is how a restart sends what was pending and
// nothing twice. Retries back off exponentially with jitter on network errors, 5xx and 429
// (Retry-After honoured), up to a bound of attempts and age; a full queue drops its oldest event.
// Nothing here blocks the control thread: HTTP is the Beast client of acme/, store writes go to
// the storage pool's store lane.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "acme/http_client.hpp"
#include "base/blocking_pool.hpp"
#include "base/log_limiter.hpp"
#include "base/secret_bytes.hpp"
#include "base/task_group.hpp"
#include "certstore/storage.hpp"
#include "base/metrics_writer.hpp"
#include "control/alert_book.hpp"
#include "domain/config.hpp"

namespace portcullis::control {

struct WebhookPolicy {
  std::chrono::milliseconds first_retry{5'000};     // after the first failure; doubles each time
  std::chrono::milliseconds max_retry{3'600'000};   // the longest wait between two attempts
  std::chrono::hours give_up_after{24};             // an event older than this is abandoned
  std::size_t max_attempts = 40;                    // so is one tried this many times
  std::size_t max_queue = 1000;                     // per webhook; beyond it the oldest is dropped
  acme::HttpTimeouts timeouts{std::chrono::seconds(10), std::chrono::seconds(15), std::chrono::seconds(30)};
};

// Per webhook, since start. For metrics and tests.
struct WebhookStats {
  std::uint64_t delivered = 0;        // events the receiver accepted (2xx)
  std::uint64_t failed_attempts = 0;  // attempts that failed (network, timeout, non-2xx)
  std::uint64_t given_up = 0;         // events abandoned (4xx other than 429, attempts or age bound)
  std::uint64_t dropped = 0;          // events dropped from a full queue
  std::size_t queued = 0;             // events waiting now
};

// The event as the JSON format sends it (docs/monitoring.md "Webhooks"). Pure.
std::string webhook_json(const Alert& alert, AlertEvent event);
// The Slack message ({"text": ..., "blocks": [...]}) for an event rendered by webhook_json. Pure.
std::string webhook_slack(const std::string& json_event);
// "sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">" under `secret`.
std::string webhook_signature(const base::SecretBytes& secret, std::string_view timestamp, std::string_view body);

class Webhooks final : public AlertNotifier {
 public:
  // Reads each webhook's secret_file and CA bundle (blocking: start-up). Errors: Errc::config
  // naming the webhook (alerts.webhook[i]) and the file.
  static Result<std::unique_ptr<Webhooks>> create(boost::asio::io_context& control, certstore::Storage& storage,
                                                  base::BlockingPool& pool, const domain::Config& config,
                                                  WebhookPolicy policy = {});
  ~Webhooks() override;

  // Start-up (blocking): queues the outbox's pending events of the configured webhooks, oldest
  // first. Then start() spawns one sender task per webhook.
  Status load();
  void start();
  // Stops every sender and completes when they have ended; what is still pending stays in the
  // outbox for the next start. Control thread.
  boost::asio::awaitable<void> shutdown();

  // Queues the event for every webhook and writes it to the outbox. Control thread; never blocks.
  void notify(const Alert& alert, AlertEvent event) override;

  std::size_t size() const noexcept { return targets_.size(); }
  // The webhook's URL as logged (scheme://host[:port], no path: a Slack URL's path is a secret).
  std::string origin(std::size_t index) const;
  WebhookStats stats(std::size_t index) const;
  WebhookStats total() const;
  // For GET /metrics: deliveries, failed attempts, events given up and dropped, and the queue, per
  // webhook (labelled by origin()).
  void write_metrics(base::MetricsWriter& out) const;

 private:
  struct Pending {
    std::uint64_t seq = 0;
    certstore::StoredDelivery row;
    std::chrono::steady_clock::time_point queued_at;
  };
  struct Target {
    Target(boost::asio::io_context& control) : wake(control) {}
    domain::WebhookConfig config;
    base::SecretBytes secret;
    std::string origin;
    std::unique_ptr<acme::HttpClient> client;
    std::deque<Pending> queue;
    boost::asio::steady_timer wake;  // the sender waits on it with nothing queued; notify() cancels it
    WebhookStats stats;
    base::LogLimiter failures{3, std::chrono::minutes(5)};
  };

  Webhooks(boost::asio::io_context& control, certstore::Storage& storage, base::BlockingPool& pool,
           WebhookPolicy policy);
  void enqueue(Target& target, certstore::StoredDelivery row, std::chrono::steady_clock::time_point queued_at);
  void mark(certstore::StoredDelivery row, std::string state);
  boost::asio::awaitable<void> sender(Target* target);
  // The wait before attempt n + 1 after n failures: first_retry * 2^(n-1), capped, with ±20 % jitter.
  std::chrono::milliseconds backoff(std::size_t failures) const;

  boost::asio::io_context& control_;
  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  WebhookPolicy policy_;
  std::vector<std::unique_ptr<Target>> targets_;
  std::uint64_t next_seq_ = 1;
  base::TaskGroup tasks_;  // last: destroyed first
};

}  // namespace portcullis::control
