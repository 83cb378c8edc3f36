// The monitor's promise end to end, through the real binary: a customer's `_acme-challenge` CNAME
// disappears (an RFC 2136 update to Knot), the next check fires dns_record_missing, the alert
// reaches a webhook receiver with a valid signature; Portcullis restarts on the same store while
// the record is still missing (the alert stays firing, nothing is sent again); the record comes
// back and the resolution is delivered, once.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/support/dns_world.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace portcullis::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr auto webhook_secret = "monitor-webhook-secret";
constexpr Millis delivery_deadline = 30s;

// The accepted webhook calls for `kind`, with their event ("firing", "resolved") and alert id.
struct Event {
  std::string event;
  std::int64_t id = 0;
  bool signed_ok = false;
};
std::vector<Event> events_for(const WebhookReceiver& receiver, std::string_view kind) {
  std::vector<Event> out;
  for (const auto& call : receiver.accepted()) {
    const json::value parsed = json::parse(call.body);
    const auto& body = parsed.as_object();
    if (body.at("kind").as_string() != kind) continue;
    out.push_back({std::string(body.at("event").as_string()), body.at("id").as_int64(), receiver.signature_valid(call)});
  }
  return out;
}

// The firing dns_record_missing alert's count as GET /api/v1/alerts shows it; 0 when none fires.
std::int64_t firing_count(PortcullisFixture& px, const std::string& token) {
  auto res = px.admin("GET", "/api/v1/alerts?state=firing&endpoint=ep-1", token);
  if (res.status != 200) return 0;
  const json::value listed = json::parse(res.body);
  for (const auto& a : listed.at("alerts").as_array()) {
    if (a.at("kind").as_string() == "dns_record_missing") return a.at("count").as_int64();
  }
  return 0;
}

}  // namespace

TEST_CASE("monitor end to end: a removed challenge CNAME fires dns_record_missing to a signed webhook, a restart "
          "sends nothing again, and the record's return is delivered as resolved",
          "[integration][dns][monitor][alerts]") {
  DnsWorld world({"_acme-challenge.app 0 CNAME acme.ep-1.edge.example.net."});
  INFO(world.logs());
  UpstreamServer upstream;
  WebhookReceiver receiver(webhook_secret);
  TempDir data("portcullis-monitor-alerts");
  auto options = world.portcullis({managed_endpoint("ep-1", {"app.example.com"}, upstream, "internal")});
  options.data_dir = data.path();
  options.admin = true;
  options.extra_toml += fmt::format("\n[monitor]\ncheck_interval = \"1s\"\n\n[[alerts.webhook]]\nurl = \"{}\"\nsecret = \"{}\"\n",
                                    receiver.url(), webhook_secret);

  std::int64_t count_before_restart = 0;
  {
    PortcullisFixture px(options);
    INFO(px.log().substr(0, 8000));
    require_log(px, "certificate issued endpoint=ep-1", 60s);

    // The customer removes the record the next renewal needs.
    world.knot.update("example.com", {"delete _acme-challenge.app.example.com. CNAME"});
    world.unbound.flush();
    REQUIRE(wait_until([&] { return !events_for(receiver, "dns_record_missing").empty(); }, delivery_deadline));
    const auto fired = events_for(receiver, "dns_record_missing");
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].event == "firing");
    CHECK(fired[0].signed_ok);
    const json::value last = json::parse(receiver.accepted().back().body);
    const auto& body = last.as_object();
    CHECK(body.at("endpoint").as_string() == "ep-1");
    CHECK(body.at("subject").as_string() == "_acme-challenge.app.example.com CNAME");
    count_before_restart = firing_count(px, px.admin_token());
    CHECK(count_before_restart >= 1);
  }

  // Restarted on the same store with the record still missing: the alert is loaded firing, each
  // check reports it again (its count grows), and no webhook is sent for it.
  PortcullisFixture px(options);
  INFO(px.log().substr(0, 8000));
  const std::string token = px.admin_token();
  REQUIRE(wait_until([&] { return firing_count(px, token) > count_before_restart; }, delivery_deadline));
  CHECK(events_for(receiver, "dns_record_missing").size() == 1);

  // The record is back: resolved, delivered once.
  world.knot.set_cname("example.com", "_acme-challenge.app.example.com", "acme.ep-1.edge.example.net.");
  world.unbound.flush();
  REQUIRE(wait_until([&] { return events_for(receiver, "dns_record_missing").size() == 2; }, delivery_deadline));
  const auto events = events_for(receiver, "dns_record_missing");
  CHECK(events[0].event == "firing");
  CHECK(events[1].event == "resolved");
  CHECK(events[1].id == events[0].id);
  CHECK(events[1].signed_ok);
  CHECK(firing_count(px, token) == 0);
  // Nothing more for it: each event was sent once (the receiver accepted every call).
  CHECK(receiver.calls().size() == receiver.accepted().size());
  CHECK(px.log().find(webhook_secret) == std::string::npos);
}
