// Alerts end to end: the alert book and its webhooks over a real SQLite store and HTTP to a
// receiver on loopback (signatures checked as docs/monitoring.md tells receivers to, retries on
// 5xx, the outbox across a restart), and through the real binary: a transitional certificate that
// expires in days raises transitional_expiring_unmanaged, shown by GET /api/v1/alerts.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "certstore/sqlite_storage.hpp"
#include "control/alert_book.hpp"
#include "control/webhooks.hpp"
#include "tests/support/pebble.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/upstream_server.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::testing;
namespace asio = boost::asio;
namespace json = boost::json;
using control::AlertBook;
using domain::AlertFinding;
using domain::AlertKind;
using domain::AlertSeverity;

constexpr Millis delivery_deadline = 10s;
constexpr auto secret = "s3cret-for-tests";

AlertFinding expiring(std::string endpoint) {
  return AlertFinding{AlertKind::certificate_expiring, AlertSeverity::critical, std::move(endpoint), "app.example.com",
                      "a certificate valid for more than 14 days", "expires 2026-12-04T10:00:00Z (2 days left)",
                      "Renew it."};
}

// What Server wires for alerts, over one store file: the book, the webhooks, the pool.
struct Rig {
  Rig(const std::filesystem::path& file, const std::string& url,
      domain::WebhookFormat format = domain::WebhookFormat::json) {
    auto opened = certstore::SqliteStorage::open(file);
    REQUIRE(opened);
    storage = std::move(*opened);
    domain::Config config;
    config.alerts.webhooks.push_back({url, format, secret, {}, {}});
    control::WebhookPolicy policy;
    policy.first_retry = 100ms;  // the retries of a test take tenths of a second, not minutes
    policy.max_retry = 1s;
    auto created = control::Webhooks::create(io, *storage, pool, config, policy);
    REQUIRE(created);
    hooks = std::move(*created);
    REQUIRE(hooks->load());
    book = std::make_unique<AlertBook>(*storage, pool);
    REQUIRE(book->load());
    book->set_notifier(hooks.get());
    hooks->start();
  }

  // Runs the control loop until `done` or the deadline.
  bool run_until(const std::function<bool()>& done, Millis deadline = delivery_deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      if (io.stopped()) io.restart();
      io.run_for(20ms);
    }
    return done();
  }

  // The drain's order: the senders end, the store lane empties.
  void stop() {
    bool stopped = false;
    asio::co_spawn(io, hooks->shutdown(), [&](std::exception_ptr) { stopped = true; });
    REQUIRE(run_until([&] { return stopped; }));
    pool.finish();
  }

  asio::io_context io{1};
  std::unique_ptr<certstore::SqliteStorage> storage;
  base::BlockingPool pool{1};
  std::unique_ptr<control::Webhooks> hooks;
  std::unique_ptr<AlertBook> book;
};

json::object body_of(const WebhookCall& call) {
  auto v = json::parse(call.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

}  // namespace

TEST_CASE("a firing alert and its resolution reach the webhook, signed", "[integration][alerts]") {
  WebhookReceiver receiver(secret);
  TempDir dir;
  Rig rig(dir.path() / "portcullis.db", receiver.url());

  rig.book->report("certificates", "ep-1", {expiring("ep-1")});
  REQUIRE(rig.run_until([&] { return receiver.accepted().size() == 1; }));
  rig.book->report("certificates", "ep-1", {});
  REQUIRE(rig.run_until([&] { return receiver.accepted().size() == 2; }));

  const auto calls = receiver.accepted();
  const auto firing = body_of(calls[0]);
  const auto resolved = body_of(calls[1]);
  CHECK(calls[0].target == "/hook");
  CHECK(calls[0].content_type == "application/json");
  CHECK(receiver.signature_valid(calls[0]));
  CHECK(receiver.signature_valid(calls[1]));
  CHECK(firing.at("event") == "firing");
  CHECK(firing.at("kind") == "certificate_expiring");
  CHECK(firing.at("severity") == "critical");
  CHECK(firing.at("endpoint") == "ep-1");
  CHECK(firing.at("subject") == "app.example.com");
  CHECK(firing.at("fix") == "Renew it.");
  CHECK(firing.at("count") == 1);
  CHECK(firing.at("resolved_at").is_null());
  CHECK(resolved.at("event") == "resolved");
  CHECK(resolved.at("id") == firing.at("id"));
  CHECK(resolved.at("resolved_at").is_string());
  CHECK(rig.hooks->total().delivered == 2);

  // A body altered on the way no longer verifies.
  auto tampered = calls[0];
  tampered.body.replace(tampered.body.find("critical"), 8, "warning!");
  CHECK_FALSE(receiver.signature_valid(tampered));
  rig.stop();
}

TEST_CASE("a Slack message arrives with a customer's value escaped: no mention, no link", "[integration][alerts]") {
  WebhookReceiver receiver(secret);
  TempDir dir;
  Rig rig(dir.path() / "portcullis.db", receiver.url(), domain::WebhookFormat::slack);
  // A CAA value as a customer's DNS answers it, quoted into the alert's found.
  AlertFinding finding{AlertKind::certificate_expiring, AlertSeverity::critical, "ep-1", "app.example.com",
                       "a CAA record allowing the CA",
                       "0 issue \"<!channel> <http://evil.example/login|Renew here> & <@U0123>\"", "Fix <!here>"};
  rig.book->report("certificates", "ep-1", {finding});
  REQUIRE(rig.run_until([&] { return receiver.accepted().size() == 1; }));
  const auto message = body_of(receiver.accepted().front());
  const std::string text(message.at("text").as_string());
  INFO(text);
  CHECK(text.find('<') == std::string::npos);
  CHECK(text.find('>') == std::string::npos);
  CHECK(text.find("&lt;!channel&gt; &lt;http://evil.example/login|Renew here&gt; &amp; &lt;@U0123&gt;") !=
        std::string::npos);
  CHECK(text.find("Fix &lt;!here&gt;") != std::string::npos);
  CHECK(message.at("blocks").as_array().at(0).at("text").at("text").as_string() == message.at("text").as_string());
  rig.stop();
}

TEST_CASE("a receiver answering 500 twice then 200 gets the event on the third try", "[integration][alerts]") {
  WebhookReceiver receiver(secret);
  receiver.answer_next({500, 503});
  TempDir dir;
  Rig rig(dir.path() / "portcullis.db", receiver.url());

  rig.book->report("certificates", "ep-1", {expiring("ep-1")});
  REQUIRE(rig.run_until([&] { return receiver.accepted().size() == 1; }));
  const auto calls = receiver.calls();
  REQUIRE(calls.size() == 3);
  CHECK(calls[0].answered == 500);
  CHECK(calls[1].answered == 503);
  CHECK(calls[2].answered == 200);
  CHECK(calls[0].body == calls[2].body);
  CHECK(receiver.signature_valid(calls[2]));
  CHECK(rig.hooks->total().failed_attempts == 2);
  CHECK(rig.hooks->total().delivered == 1);
  rig.stop();
}

TEST_CASE("a restart sends what was pending and nothing already delivered", "[integration][alerts]") {
  WebhookReceiver receiver(secret);
  TempDir dir;
  const auto file = dir.path() / "portcullis.db";
  std::int64_t pending_id = 0;
  {
    Rig rig(file, receiver.url());
    rig.book->report("certificates", "ep-1", {expiring("ep-1")});
    REQUIRE(rig.run_until([&] { return receiver.accepted().size() == 1; }));
    // The next event meets a receiver that keeps failing; the process stops before it gets through.
    receiver.answer_next({503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503}, "3600");
    rig.book->report("certificates", "ep-2", {expiring("ep-2")});
    REQUIRE(rig.run_until([&] { return receiver.calls().size() == 2; }));
    pending_id = rig.book->list(AlertBook::StateFilter::firing, "ep-2").at(0).id;
    rig.stop();
  }
  receiver.answer_next({});
  {
    Rig rig(file, receiver.url());
    REQUIRE(rig.run_until([&] { return receiver.accepted().size() == 2; }));
    // Give a wrongly re-sent first event the time to arrive: it must not.
    CHECK_FALSE(rig.run_until([&] { return receiver.calls().size() > 3; }, 1s));
    const auto accepted = receiver.accepted();
    CHECK(body_of(accepted[0]).at("endpoint") == "ep-1");
    CHECK(body_of(accepted[1]).at("endpoint") == "ep-2");
    CHECK(body_of(accepted[1]).at("id") == pending_id);
    CHECK(receiver.signature_valid(accepted[1]));
    rig.stop();
  }
  // And a third start has nothing left to send.
  {
    Rig rig(file, receiver.url());
    CHECK_FALSE(rig.run_until([&] { return receiver.calls().size() > 3; }, 500ms));
    CHECK(rig.hooks->total().queued == 0);
    rig.stop();
  }
}

TEST_CASE("a transitional certificate expiring in days for an endpoint without DNS raises "
          "transitional_expiring_unmanaged, listed by GET /api/v1/alerts with the token only",
          "[integration][alerts][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto root = TestCa::create("Old PaaS Root");
  const TestCert soon = root.issue({.names = {"api.example.com"}, .validity = Validity::days(3)});

  FixtureOptions options;
  options.admin = true;
  options.default_cert = certs.default_cert;
  options.endpoints = {{"api", {"api.example.com"}, {upstream.address()}}};
  PortcullisFixture px(options);
  const std::string token = px.admin_token();

  CHECK(px.admin("GET", "/api/v1/alerts", std::nullopt).status == 401);
  auto none = px.admin("GET", "/api/v1/alerts", token);
  REQUIRE(none.status == 200);
  CHECK(json::parse(none.body).at("alerts").as_array().empty());

  auto put = px.admin("PUT", "/api/v1/endpoints/api/transitional-certificate", token,
                      json::serialize(json::object{{"certificate", soon.chain_pem},
                                                   {"private_key", soon.key_pem.reveal()},
                                                   {"allow_untrusted", true}}));
  REQUIRE(put.status == 201);

  auto firing = px.admin("GET", "/api/v1/alerts?endpoint=api", token);
  REQUIRE(firing.status == 200);
  INFO(firing.body);
  std::map<std::string, json::object> by_kind;
  const auto listed = json::parse(firing.body);
  for (const auto& a : listed.at("alerts").as_array()) {
    by_kind[std::string(a.at("kind").as_string())] = a.as_object();
  }
  REQUIRE(by_kind.contains("transitional_expiring_unmanaged"));
  const auto& t = by_kind["transitional_expiring_unmanaged"];
  CHECK(t.at("state") == "firing");
  CHECK(t.at("severity") == "critical");  // 3 days or less: the last threshold
  CHECK(t.at("endpoint") == "api");
  CHECK(t.at("subject") == "api.example.com");
  CHECK(t.at("found").as_string().find("no managed certificate") != json::string::npos);
  CHECK(t.at("fix").as_string().find("/api/v1/endpoints/api/dns") != json::string::npos);
  CHECK(t.at("count") == 1);
  CHECK(t.at("first_seen").is_string());
  CHECK(t.at("resolved_at").is_null());
  CHECK(by_kind.contains("certificate_expiring"));

  auto endpoint = px.admin("GET", "/api/v1/endpoints/api", token);
  CHECK(json::parse(endpoint.body).at("alerts_firing") == 2);
  CHECK(px.admin("GET", "/api/v1/alerts?state=bogus", token).status == 422);
  CHECK(json::parse(px.admin("GET", "/api/v1/alerts?state=resolved", token).body).at("alerts").as_array().empty());

  // The certificate withdrawn: both resolve.
  REQUIRE(px.admin("DELETE", "/api/v1/endpoints/api/transitional-certificate", token).status == 204);
  CHECK(json::parse(px.admin("GET", "/api/v1/alerts", token).body).at("alerts").as_array().empty());
  auto resolved = json::parse(px.admin("GET", "/api/v1/alerts?state=resolved", token).body).at("alerts").as_array();
  CHECK(resolved.size() == 2);
  for (const auto& a : resolved) CHECK(a.at("resolved_at").is_string());
  const auto log = px.log();
  CHECK(log.find("alert firing") != std::string::npos);
  CHECK(log.find("kind=transitional_expiring_unmanaged") != std::string::npos);
  CHECK(log.find("alert resolved") != std::string::npos);
  CHECK(log.find(std::string(soon.key_pem.reveal()).substr(40, 40)) == std::string::npos);
}

namespace {

// The alerts of `endpoint` ("" for every one) in `state`, by kind.
std::map<std::string, json::object> alerts_by_kind(PortcullisFixture& px, const std::string& token,
                                                   const std::string& query) {
  std::map<std::string, json::object> out;
  auto r = px.admin("GET", "/api/v1/alerts?" + query, token);
  if (r.status != 200) return out;
  const auto listed = json::parse(r.body);
  for (const auto& a : listed.at("alerts").as_array()) {
    out[std::string(a.at("kind").as_string())] = a.as_object();
  }
  return out;
}

constexpr Millis issuance_deadline = 30s;

}  // namespace

TEST_CASE("a managed certificate whose renewal fails while the CA is down raises renewal_failing and "
          "ca_unreachable, and certificate_expiring once within a threshold",
          "[integration][alerts][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  // Five days: a renewal that fails is urgent (within 7 days of the expiry) after one failure.
  PebbleFixture pebble(PebbleOptions{.http_port = http_port, .certificate_validity_seconds = 5 * 24 * 3600});
  FixtureOptions options;
  options.admin = true;
  options.http_port = http_port;
  options.endpoints = {{"shop", {"shop.example.com"}, {upstream.address()}}};
  options.endpoints[0].managed_https = true;
  const std::string acme = fmt::format("[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n", pebble.directory_url(),
                                       pebble.ca_bundle().string());
  options.extra_toml = acme + "[alerts]\nexpiring_days = [3]\n";
  options.limits["renew_now_interval"] = "\"1s\"";  // renewed twice below, a CA outage apart
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  REQUIRE(wait_until([&] { return px.served_serial("shop.example.com") != std::nullopt &&
                                  px.admin("GET", "/api/v1/endpoints/shop/certificate", token).body.find(
                                      "\"source\":\"managed\"") != std::string::npos; },
                     issuance_deadline, 100ms));
  CHECK(alerts_by_kind(px, token, "state=all").empty());  // 5 days left, over the 3-day threshold

  pebble.stop_pebble();
  REQUIRE(px.admin("POST", "/api/v1/endpoints/shop/renew?force=true", token).status == 202);
  std::map<std::string, json::object> firing;
  REQUIRE(wait_until([&] { return (firing = alerts_by_kind(px, token, "")).contains("renewal_failing"); },
                     issuance_deadline, 100ms));
  const auto& failing = firing["renewal_failing"];
  CHECK(failing.at("severity") == "critical");
  CHECK(failing.at("endpoint") == "shop");
  CHECK(failing.at("found").as_string().starts_with("1 failed renewal in a row"));
  CHECK(failing.at("fix").as_string().find("/api/v1/endpoints/shop/renew") != json::string::npos);
  REQUIRE(firing.contains("ca_unreachable"));
  CHECK(firing["ca_unreachable"].at("endpoint").is_null());
  CHECK(firing["ca_unreachable"].at("subject").as_string() == pebble.directory_url());
  CHECK_FALSE(firing.contains("certificate_expiring"));

  // A larger threshold, reloaded: the certificate is now within it.
  options.extra_toml = acme + "[alerts]\nexpiring_days = [6]\n";
  px.rewrite_config(options);
  REQUIRE(px.reload() == ReloadOutcome::applied);
  firing = alerts_by_kind(px, token, "endpoint=shop");
  REQUIRE(firing.contains("certificate_expiring"));
  CHECK(firing["certificate_expiring"].at("severity") == "critical");  // the last (only) threshold
  CHECK(firing["certificate_expiring"].at("found").as_string().find(" left)") != json::string::npos);
  CHECK(firing.contains("renewal_failing"));

  // The CA back, a renewal through: renewal_failing and ca_unreachable resolve.
  pebble.start_pebble();
  REQUIRE(wait_until([&] { return px.admin("POST", "/api/v1/endpoints/shop/renew?force=true", token).status == 202; },
                     issuance_deadline, 200ms));
  REQUIRE(wait_until([&] { return alerts_by_kind(px, token, "state=resolved").contains("renewal_failing"); },
                     issuance_deadline, 100ms));
  firing = alerts_by_kind(px, token, "");
  CHECK_FALSE(firing.contains("renewal_failing"));
  CHECK_FALSE(firing.contains("ca_unreachable"));
}
