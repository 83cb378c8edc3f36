// Webhook URLs carry their secret in the path (a Slack incoming-webhook URL is its own
// credential): the real binary, with one webhook a receiver accepts and one nobody listens on,
// logs each as its scheme and host only, delivered or failing. And a Slack message carries the
// values of an alert escaped, so none becomes a mention or a link.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/upstream_server.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace {

using namespace portcullis::testing;
namespace json = boost::json;

constexpr Millis delivery_deadline = 15s;

}  // namespace

TEST_CASE("webhook URLs are logged as scheme and host only, delivered or failing", "[integration][alerts]") {
  StandardCerts certs;
  UpstreamServer upstream;
  WebhookReceiver receiver;
  const std::uint16_t nobody = free_port();
  const std::string accepted_path = "/services/T0000/B0000/AcceptedSecretPath";
  const std::string refused_path = "/services/T1111/B1111/RefusedSecretPath";
  auto root = TestCa::create("Old PaaS Root");
  const TestCert soon = root.issue({.names = {"api.example.com"}, .validity = Validity::days(3)});

  FixtureOptions options;
  options.admin = true;
  options.log_level = "info";
  options.default_cert = certs.default_cert;
  options.endpoints = {{"api", {"api.example.com"}, {upstream.address()}}};
  options.extra_toml = fmt::format(
      "[[alerts.webhook]]\nurl = \"{}\"\nformat = \"slack\"\n\n[[alerts.webhook]]\nurl = \"http://127.0.0.1:{}{}\"\n",
      receiver.url(accepted_path), nobody, refused_path);
  PortcullisFixture px(options);
  const std::string token = px.admin_token();

  // A transitional certificate expiring in 3 days raises alerts, sent to both webhooks.
  auto put = px.admin("PUT", "/api/v1/endpoints/api/transitional-certificate", token,
                      json::serialize(json::object{{"certificate", soon.chain_pem},
                                                   {"private_key", soon.key_pem.reveal()},
                                                   {"allow_untrusted", true}}));
  REQUIRE(put.status == 201);
  REQUIRE(wait_until([&] { return !receiver.accepted().empty(); }, delivery_deadline));
  REQUIRE(wait_until([&] { return px.log().find("webhook delivery failed") != std::string::npos; },
                     delivery_deadline));
  CHECK(receiver.accepted().front().target == accepted_path);
  const auto message = json::parse(receiver.accepted().front().body).as_object();
  CHECK(message.contains("text"));

  const auto log = px.log();
  CHECK(log.find(fmt::format("webhook delivered webhook=http://127.0.0.1:{} ", receiver.port())) !=
        std::string::npos);
  CHECK(log.find(fmt::format("webhook delivery failed webhook=http://127.0.0.1:{} ", nobody)) != std::string::npos);
  CHECK(log.find("SecretPath") == std::string::npos);
  CHECK(log.find("/services/") == std::string::npos);
}
