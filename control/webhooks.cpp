#include "control/webhooks.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <openssl/hmac.h>

#include "base/logging.hpp"
#include "certstore/cert_bundle.hpp"

namespace portcullis::control {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// With nothing queued, a sender still looks again this often (a missed wake costs at most this).
constexpr std::chrono::minutes idle_recheck{10};

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string time_text(std::int64_t unix) {
  return certstore::format_time(certstore::Clock::from_time_t(static_cast<std::time_t>(unix)));
}

double unit_random() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

bool is_cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

Result<base::SecretBytes> read_secret_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::config, fmt::format("{}: cannot open", file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return fail(Errc::config, fmt::format("{}: expected a secret, got an empty file", file.string()));
  return base::SecretBytes(std::move(secret));
}

std::string origin_of(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return "(invalid URL)";
  return std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_host_and_port());
}

// The HTTP client's errors name the URL it asked; a webhook's path is a secret (a Slack URL is
// its own credential), so the log gets the origin in its place.
template <class Target>
std::string without_url(std::string message, const Target& t) {
  const std::string& url = t.config.url;
  for (auto at = message.find(url); !url.empty() && at != std::string::npos; at = message.find(url, at)) {
    message.replace(at, url.size(), t.origin);
    at += t.origin.size();
  }
  return message;
}

// RFC 9110 §10.2.3: delay-seconds (an HTTP-date is rare from webhook receivers; it is ignored).
std::optional<std::chrono::seconds> retry_after(const acme::HttpResponse& res) {
  const auto text = res.header("Retry-After");
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  if (text.size() > 9) return std::chrono::seconds(999'999'999);
  return std::chrono::seconds(std::stoll(text));
}

// Slack's three control characters as its entities (api.slack.com "Formatting text": escaping),
// so a value (a hostname, a TXT or CAA value a customer wrote) cannot become a link (<http://x|y>),
// a mention (<!channel>, <@U123>) or another control sequence. Formatting marks (*, _, ~) stay.
std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Every value taken from the event is escaped; the fixed words around them are ours.
std::string slack_text(const json::object& e) {
  auto str = [&](const char* k) -> std::string {
    auto* v = e.if_contains(k);
    return v && v->is_string() ? slack_escape(v->as_string()) : std::string();
  };
  const std::string event = str("event");
  std::string where = str("endpoint").empty() ? "platform" : "endpoint " + str("endpoint");
  if (event == "resolved") {
    return fmt::format("Resolved: {} on {}: {}", str("kind"), where, str("subject"));
  }
  return fmt::format("[{}]{} {} on {}: {}: expected {}, found {}. Fix: {}", str("severity"),
                     event == "escalated" ? " Escalated:" : "", str("kind"), where, str("subject"),
                     str("expected").empty() ? "-" : str("expected"), str("found"), str("fix"));
}

}  // namespace

std::string webhook_json(const Alert& a, AlertEvent event) {
  const auto& f = a.finding;
  json::object o{{"event", to_string(event)},
                 {"id", a.id},
                 {"kind", domain::to_string(f.kind)},
                 {"severity", domain::to_string(f.severity)},
                 {"endpoint", f.endpoint_id},
                 {"subject", f.subject},
                 {"expected", f.expected},
                 {"found", f.found},
                 {"fix", f.fix},
                 {"check", a.check},
                 {"first_seen", time_text(a.first_seen)},
                 {"last_seen", time_text(a.last_seen)},
                 {"count", a.count}};
  o["resolved_at"] = a.firing ? json::value(nullptr) : json::value(time_text(a.resolved_at));
  return json::serialize(o);
}

std::string webhook_slack(const std::string& json_event) {
  boost::system::error_code ec;
  auto parsed = json::parse(json_event, ec);
  if (ec || !parsed.is_object()) return json::serialize(json::object{{"text", "portcullis alert"}});
  const auto& e = parsed.as_object();
  const auto text = slack_text(e);
  json::array blocks;
  blocks.push_back(json::object{{"type", "section"}, {"text", json::object{{"type", "plain_text"}, {"text", text}}}});
  return json::serialize(json::object{{"text", text}, {"blocks", std::move(blocks)}});
}

std::string webhook_signature(const base::SecretBytes& secret, std::string_view timestamp, std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp).append(".").append(body);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  auto key = secret.reveal();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), digest, &size);
  std::string out = "sha256=";
  for (unsigned int i = 0; i < size; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

Webhooks::Webhooks(asio::io_context& control, certstore::Storage& storage, base::BlockingPool& pool,
                   WebhookPolicy policy)
    : control_(control), storage_(storage), pool_(pool), policy_(policy), tasks_(control.get_executor(), log::alerts()) {}

Webhooks::~Webhooks() = default;

Result<std::unique_ptr<Webhooks>> Webhooks::create(asio::io_context& control, certstore::Storage& storage,
                                                   base::BlockingPool& pool, const domain::Config& config,
                                                   WebhookPolicy policy) {
  std::unique_ptr<Webhooks> hooks(new Webhooks(control, storage, pool, policy));
  for (std::size_t i = 0; i < config.alerts.webhooks.size(); ++i) {
    const auto& wc = config.alerts.webhooks[i];
    const auto where = fmt::format("alerts.webhook[{}]", i);
    auto target = std::make_unique<Target>(control);
    target->config = wc;
    target->origin = origin_of(wc.url);
    if (!wc.secret_file.empty()) {
      auto secret = read_secret_file(config.resolve(wc.secret_file));
      if (!secret) return tl::unexpected(secret.error().with_context(where + ".secret_file"));
      target->secret = std::move(*secret);
    } else {
      target->secret = base::SecretBytes(wc.secret);
    }
    acme::HttpClientOptions options;
    if (!wc.ca_bundle.empty()) options.ca_bundle = config.resolve(wc.ca_bundle);
    options.timeouts = policy.timeouts;
    options.body_limit = 64 * 1024;
    options.max_idle_per_origin = 1;
    options.user_agent = "portcullis-webhook/0.1";
    auto client = acme::HttpClient::create(control.get_executor(), options);
    if (!client) return tl::unexpected(client.error().with_context(where + ".ca_bundle"));
    target->client = std::move(*client);
    hooks->targets_.push_back(std::move(target));
  }
  return hooks;
}

std::string Webhooks::origin(std::size_t index) const { return targets_.at(index)->origin; }

WebhookStats Webhooks::stats(std::size_t index) const {
  auto s = targets_.at(index)->stats;
  s.queued = targets_.at(index)->queue.size();
  return s;
}

WebhookStats Webhooks::total() const {
  WebhookStats sum;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    auto s = stats(i);
    sum.delivered += s.delivered;
    sum.failed_attempts += s.failed_attempts;
    sum.given_up += s.given_up;
    sum.dropped += s.dropped;
    sum.queued += s.queued;
  }
  return sum;
}

Status Webhooks::load() {
  if (targets_.empty()) return {};
  auto pending = storage_.load_deliveries("pending");
  if (!pending) return tl::unexpected(pending.error().with_context("alerts: webhook outbox"));
  std::size_t queued = 0, orphaned = 0;
  for (auto& row : *pending) {
    auto it = std::find_if(targets_.begin(), targets_.end(), [&](const auto& t) { return t->config.url == row.webhook; });
    if (it == targets_.end()) {
      ++orphaned;  // a webhook no longer configured: its events stay pending in the store
      continue;
    }
    enqueue(**it, std::move(row), std::chrono::steady_clock::now());
    ++queued;
  }
  if (queued || orphaned) {
    log::alerts()->info("webhook outbox loaded pending={} for_removed_webhooks={}", queued, orphaned);
  }
  return {};
}

void Webhooks::start() {
  for (auto& t : targets_) tasks_.spawn("webhook " + t->origin, sender(t.get()));
}

asio::awaitable<void> Webhooks::shutdown() {
  tasks_.stop();
  co_await tasks_.wait();
}

void Webhooks::mark(certstore::StoredDelivery row, std::string state) {
  row.state = std::move(state);
  row.updated_unix = unix_now();
  pool_.post_store([&storage = storage_, row = std::move(row)] {
    if (auto st = storage.put_delivery(row); !st) {
      log::alerts()->warn("webhook delivery state not saved error=\"{}\"", st.error().message());
    }
  });
}

void Webhooks::enqueue(Target& t, certstore::StoredDelivery row, std::chrono::steady_clock::time_point queued_at) {
  if (t.queue.size() >= policy_.max_queue) {
    auto oldest = std::move(t.queue.front());
    t.queue.pop_front();
    ++t.stats.dropped;
    log::alerts()->warn("webhook queue full, oldest event dropped webhook={} alert={} event={} dropped_total={}",
                        t.origin, oldest.row.alert_id, oldest.row.event, t.stats.dropped);
    mark(std::move(oldest.row), "dropped");
  }
  t.queue.push_back(Pending{next_seq_++, std::move(row), queued_at});
  t.wake.cancel();
}

void Webhooks::notify(const Alert& alert, AlertEvent event) {
  if (targets_.empty()) return;
  const auto payload = webhook_json(alert, event);
  const auto now = unix_now();
  for (auto& t : targets_) {
    certstore::StoredDelivery row;
    row.alert_id = alert.id;
    row.event = std::string(to_string(event));
    row.webhook = t->config.url;
    row.payload = payload;
    row.state = "pending";
    row.created_unix = row.updated_unix = now;
    // Into the outbox first (the store lane runs it before the "delivered" mark queued later).
    pool_.post_store([&storage = storage_, row] {
      if (auto st = storage.put_delivery(row); !st) {
        log::alerts()->warn("webhook event not saved to the outbox error=\"{}\"", st.error().message());
      }
    });
    enqueue(*t, std::move(row), std::chrono::steady_clock::now());
  }
}

std::chrono::milliseconds Webhooks::backoff(std::size_t failures) const {
  double ms = static_cast<double>(policy_.first_retry.count());
  for (std::size_t i = 1; i < failures && ms < static_cast<double>(policy_.max_retry.count()); ++i) ms *= 2;
  ms = std::min(ms, static_cast<double>(policy_.max_retry.count()));
  ms *= 0.8 + 0.4 * unit_random();
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

asio::awaitable<void> Webhooks::sender(Target* t) {
  asio::steady_timer retry(control_);
  for (;;) {
    if (t->queue.empty()) {
      t->wake.expires_after(idle_recheck);
      co_await t->wake.async_wait(use_tuple);  // aborted by notify(): look again
      const auto state = co_await asio::this_coro::cancellation_state;
      if (is_cancelled(state)) co_return;
      continue;
    }
    Pending item = t->queue.front();
    const std::string timestamp = std::to_string(unix_now());
    acme::HttpRequest req;
    req.method = boost::beast::http::verb::post;
    req.url = t->config.url;
    req.body = t->config.format == domain::WebhookFormat::slack ? webhook_slack(item.row.payload) : item.row.payload;
    req.content_type = "application/json";
    req.headers.emplace_back("X-Portcullis-Event", item.row.event);
    req.headers.emplace_back("X-Portcullis-Delivery", fmt::format("{}-{}", item.row.alert_id, item.row.event));
    if (!t->secret.empty()) {
      req.headers.emplace_back("X-Portcullis-Timestamp", timestamp);
      req.headers.emplace_back("X-Portcullis-Signature", webhook_signature(t->secret, timestamp, req.body));
    }
    auto res = co_await t->client->request(std::move(req));
    {
      const auto state = co_await asio::this_coro::cancellation_state;
      if (is_cancelled(state)) co_return;  // stays pending in the outbox
    }
    // The queue may have dropped it meanwhile (full): then it is no longer ours to mark.
    auto it = std::find_if(t->queue.begin(), t->queue.end(), [&](const Pending& p) { return p.seq == item.seq; });
    const bool still_queued = it != t->queue.end();
    const bool delivered = res && res->status >= 200 && res->status < 300;
    ++item.row.attempts;
    if (delivered) {
      ++t->stats.delivered;
      log::alerts()->info("webhook delivered webhook={} alert={} event={} status={} attempts={}", t->origin,
                          item.row.alert_id, item.row.event, res->status, item.row.attempts);
      if (still_queued) t->queue.erase(it);
      mark(std::move(item.row), "delivered");
      continue;
    }
    ++t->stats.failed_attempts;
    const bool retryable = !res || res->status >= 500 || res->status == 429;
    const std::string why = res ? fmt::format("HTTP {}", res->status) : without_url(res.error().message(), *t);
    const auto age = std::chrono::seconds(unix_now() - item.row.created_unix);
    const bool give_up = !retryable || item.row.attempts >= static_cast<std::int64_t>(policy_.max_attempts) ||
                         age >= policy_.give_up_after;
    if (give_up) {
      ++t->stats.given_up;
      log::alerts()->error("webhook delivery abandoned webhook={} alert={} event={} attempts={} error=\"{}\"",
                           t->origin, item.row.alert_id, item.row.event, item.row.attempts, why);
      if (still_queued) t->queue.erase(it);
      mark(std::move(item.row), "given_up");
      continue;
    }
    auto delay = backoff(static_cast<std::size_t>(item.row.attempts));
    if (res) {
      if (auto after = retry_after(*res)) {
        delay = std::max(delay, std::chrono::duration_cast<std::chrono::milliseconds>(*after));
        delay = std::min(delay, policy_.max_retry);
      }
    }
    if (auto dropped = t->failures.admit(std::chrono::steady_clock::now())) {
      log::alerts()->warn("webhook delivery failed webhook={} alert={} event={} attempt={} retry_in_ms={} "
                          "error=\"{}\"{}",
                          t->origin, item.row.alert_id, item.row.event, item.row.attempts, delay.count(), why,
                          base::suppressed_suffix(*dropped));
    }
    if (still_queued) it->row.attempts = item.row.attempts;
    // The attempt count survives a restart, so the bound holds across restarts.
    mark(item.row, "pending");
    retry.expires_after(delay);
    co_await retry.async_wait(use_tuple);
    const auto state = co_await asio::this_coro::cancellation_state;
    if (is_cancelled(state)) co_return;
  }
}

void Webhooks::write_metrics(base::MetricsWriter& out) const {
  out.declare("portcullis_webhook_deliveries_total", "Alert events a webhook receiver accepted (2xx).",
              base::MetricsWriter::Type::counter);
  for (std::size_t i = 0; i < size(); ++i) {
    const auto stats_i = stats(i);
    const auto webhook = origin(i);
    const base::MetricLabels labels = {{"webhook", webhook}};
    out.counter("portcullis_webhook_deliveries_total", "Alert events a webhook receiver accepted (2xx).",
                static_cast<double>(stats_i.delivered), labels);
    out.counter("portcullis_webhook_failed_attempts_total",
                "Webhook attempts that failed (network error, timeout, non-2xx); each is retried with backoff.",
                static_cast<double>(stats_i.failed_attempts), labels);
    out.counter("portcullis_webhook_given_up_total",
                "Alert events a webhook gave up on (refused with a 4xx other than 429, or past the retry bounds).",
                static_cast<double>(stats_i.given_up), labels);
    out.counter("portcullis_webhook_dropped_total", "Alert events dropped from a full webhook queue.",
                static_cast<double>(stats_i.dropped), labels);
    out.gauge("portcullis_webhook_queued", "Alert events waiting to be sent to a webhook now.",
              static_cast<double>(stats_i.queued), labels);
  }
}

}  // namespace portcullis::control
