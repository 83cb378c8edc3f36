// The monitor against real DNS: Knot holds the customer's zone (example.com), our platform zone
// (edge.example.net) is served by an in-process dns::DnsServer with canaries on, Unbound resolves
// both (tests/support/dns_world). Records are edited by RFC 2136 updates (knsupdate). The first
// cases run control::Monitor in-process with a recording AlertSink; the last runs the binary with
// Pebble and reads its log (the alert book's lines) and Pebble's.
#include <catch2/catch.hpp>

#include <functional>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "app/toml_config.hpp"
#include "control/endpoint_checks.hpp"
#include "control/monitor.hpp"
#include "dns/dns_server.hpp"
#include "dns/platform_zone.hpp"
#include "domain/records.hpp"
#include "tests/support/dns_world.hpp"

using namespace portcullis;
using namespace portcullis::testing;
using namespace std::chrono_literals;

namespace {

constexpr Millis finding_deadline = 10s;

struct RecordingSink final : control::AlertSink {
  void report(std::string_view check, std::string_view id, std::vector<domain::AlertFinding> findings) override {
    reports[{std::string(check), std::string(id)}] = std::move(findings);
    ++count;
  }
  void forget_endpoint(std::string_view id) override { forgotten.emplace_back(id); }

  // The finding of `kind` about `subject` in the last report of `check` for `id`, if any.
  std::optional<domain::AlertFinding> find(const std::string& check, const std::string& id, domain::AlertKind kind,
                                           const std::string& subject) const {
    auto it = reports.find({check, id});
    if (it == reports.end()) return std::nullopt;
    for (const auto& f : it->second)
      if (f.kind == kind && f.subject == subject) return f;
    return std::nullopt;
  }
  bool reported_empty(const std::string& check, const std::string& id) const {
    auto it = reports.find({check, id});
    return it != reports.end() && it->second.empty();
  }
  std::string dump() const {
    std::string out;
    for (const auto& [at, findings] : reports) {
      out += at.first + " " + (at.second.empty() ? "-" : at.second) + ":";
      for (const auto& f : findings)
        out += fmt::format(" [{} {} expected={} found={} fix={}]", domain::to_string(f.kind), f.subject, f.expected,
                           f.found, f.fix);
      out += "\n";
    }
    return out;
  }

  std::map<std::pair<std::string, std::string>, std::vector<domain::AlertFinding>> reports;
  std::vector<std::string> forgotten;
  std::size_t count = 0;
};

// Our platform zone served in-process on the port Unbound forwards it to, and a monitor checking
// through Unbound every second.
struct MonitorWorld {
  explicit MonitorWorld(DnsWorld& world, const std::string& endpoints_toml) {
    // The listener is never bound: the file needs one, and the zone takes its address.
    auto parsed = app::parse_config(fmt::format("[[listener]]\nname = \"https\"\naddress = \"127.0.0.1:8443\"\n\n"
                                                "[dns]\nzone = \"{}\"\nlisten = [\"127.0.0.1:{}\"]\nresolver = \"{}\"\n"
                                                "rate_limit = 0\n\n{}",
                                                DnsWorld::zone, world.dns_port(), world.unbound.host_port(),
                                                endpoints_toml),
                                    "monitor-test.toml");
    if (!parsed) FAIL(parsed.error().message());
    config = std::move(*parsed);
    REQUIRE(zone.set_canaries(true));
    REQUIRE(zone.configure(config.dns, config.endpoints));
    server = std::make_unique<dns::DnsServer>(zone.registry(), dns::DnsServerOptions{.listen = config.dns.listen,
                                                                                      .rate_limit = 0});
    REQUIRE(server->listen());
    server->start();
    control::DnsChecksSettings settings;
    settings.zone = config.dns.zone;
    settings.resolver.address = *config.dns.resolver;
    settings.external_addresses = config.dns.external_addresses;
    checks = std::make_unique<control::DnsChecks>(settings);
    monitor = std::make_unique<control::Monitor>(io.get_executor(), pool, sink, *checks);
    control::MonitorSettings ms;
    ms.check_interval = 1s;
    monitor->configure(ms, config.endpoints);
  }
  ~MonitorWorld() {
    bool stopped = false;
    boost::asio::co_spawn(io, monitor->shutdown(), [&](std::exception_ptr) { stopped = true; });
    run_until([&] { return stopped; }, 10s);
    server->stop();
  }

  bool run_until(const std::function<bool()>& done, Millis deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done() && std::chrono::steady_clock::now() < end) {
      io.restart();
      io.run_for(20ms);
    }
    return done();
  }

  domain::Config config;
  dns::PlatformZone zone;
  std::unique_ptr<dns::DnsServer> server;
  boost::asio::io_context io;
  base::BlockingPool pool{2};
  RecordingSink sink;
  std::unique_ptr<control::DnsChecks> checks;
  std::unique_ptr<control::Monitor> monitor;
};

constexpr const char* internal_endpoint = R"(
[[endpoint]]
id = "ep-1"
hostnames = ["app.example.com"]
scope = "internal"
upstreams = ["127.0.0.1:9"]
managed_https = true
)";

}  // namespace

TEST_CASE("monitor: a customer's _acme-challenge CNAME removed by an RFC 2136 update is reported missing at the "
          "next check, and resolves once restored",
          "[integration][dns][monitor]") {
  DnsWorld world({"_acme-challenge.app 0 CNAME acme.ep-1.edge.example.net."});
  INFO(world.logs());
  MonitorWorld m(world, internal_endpoint);
  INFO(m.sink.dump());
  const std::string subject = "_acme-challenge.app.example.com CNAME";

  INFO("first, everything is in place: the record, the canary through it, our zone");
  REQUIRE(m.run_until([&] { return m.sink.reported_empty("monitor.dns", "ep-1"); }, finding_deadline));
  REQUIRE(m.run_until([&] { return m.sink.reported_empty("monitor.dns", ""); }, finding_deadline));

  world.knot.update("example.com", {"delete _acme-challenge.app.example.com. CNAME"});
  world.unbound.flush();
  REQUIRE(m.run_until([&] {
    return m.sink.find("monitor.dns", "ep-1", domain::AlertKind::dns_record_missing, subject).has_value();
  }, finding_deadline));
  const auto missing = *m.sink.find("monitor.dns", "ep-1", domain::AlertKind::dns_record_missing, subject);
  CHECK(missing.expected == "CNAME acme.ep-1.edge.example.net.");
  CHECK(missing.found == "NXDOMAIN");
  CHECK(missing.fix ==
        "Create _acme-challenge.app.example.com CNAME acme.ep-1.edge.example.net. at your DNS provider.");
  // A record alert, not our zone's: it still answers.
  CHECK(m.sink.reported_empty("monitor.dns", ""));

  world.knot.set_cname("example.com", "_acme-challenge.app.example.com", "acme.ep-1.edge.example.net.");
  world.unbound.flush();
  CHECK(m.run_until([&] { return m.sink.reported_empty("monitor.dns", "ep-1"); }, finding_deadline));
}

TEST_CASE("monitor: an _acme-challenge CNAME pointed at another target is reported wrong, and so is the canary not "
          "seen through it",
          "[integration][dns][monitor]") {
  DnsWorld world({"_acme-challenge.app 0 CNAME acme.ep-1.edge.example.net."});
  INFO(world.logs());
  MonitorWorld m(world, internal_endpoint);
  INFO(m.sink.dump());
  REQUIRE(m.run_until([&] { return m.sink.reported_empty("monitor.dns", "ep-1"); }, finding_deadline));

  // A name in our zone that is no validation host of ep-1: the canary cannot show through it.
  world.knot.set_cname("example.com", "_acme-challenge.app.example.com", "acme.other.edge.example.net.");
  world.unbound.flush();
  const std::string canary_subject = "_acme-challenge.app.example.com TXT";
  REQUIRE(m.run_until([&] {
    return m.sink.find("monitor.dns", "ep-1", domain::AlertKind::dns_record_wrong, canary_subject).has_value();
  }, finding_deadline));
  const auto canary = *m.sink.find("monitor.dns", "ep-1", domain::AlertKind::dns_record_wrong, canary_subject);
  CHECK(canary.expected.find(domain::canary_value("ep-1")) != std::string::npos);
  CHECK(canary.fix.find("The canary TXT is not seen through _acme-challenge.app.example.com") != std::string::npos);
  const auto cname = m.sink.find("monitor.dns", "ep-1", domain::AlertKind::dns_record_wrong,
                                 "_acme-challenge.app.example.com CNAME");
  REQUIRE(cname);
  CHECK(cname->found.find("acme.other.edge.example.net.") != std::string::npos);

  world.knot.set_cname("example.com", "_acme-challenge.app.example.com", "acme.ep-1.edge.example.net.");
  world.unbound.flush();
  CHECK(m.run_until([&] { return m.sink.reported_empty("monitor.dns", "ep-1"); }, finding_deadline));
}

TEST_CASE("monitor: our zone not answering through the resolver is dns_server_down, not a record alert",
          "[integration][dns][monitor]") {
  DnsWorld world({"_acme-challenge.app 0 CNAME acme.ep-1.edge.example.net."});
  INFO(world.logs());
  MonitorWorld m(world, internal_endpoint);
  INFO(m.sink.dump());
  REQUIRE(m.run_until([&] { return m.sink.reported_empty("monitor.dns", "ep-1"); }, finding_deadline));
  const auto count = m.sink.count;

  m.server->stop();
  world.unbound.flush();
  REQUIRE(m.run_until([&] {
    return m.sink.find("monitor.dns", "", domain::AlertKind::dns_server_down, "edge.example.net SOA").has_value();
  }, 20s));
  // Meanwhile ep-1's records were not reported missing or wrong: its last report stands.
  CHECK(m.sink.count > count);
  CHECK(m.sink.reported_empty("monitor.dns", "ep-1"));
}

TEST_CASE("monitor: a CAA record naming another CA is reported before any order and no order is placed; once "
          "removed the alert resolves and the certificate is issued",
          "[integration][dns][acme][monitor]") {
  DnsWorld world({"_acme-challenge.shop 0 CNAME acme.caa-1.edge.example.net.", "shop 0 CAA 0 issue \"other-ca.example\""});
  INFO(world.logs());
  UpstreamServer upstream;
  auto options = world.portcullis({managed_endpoint("caa-1", {"shop.example.com"}, upstream, "internal")});
  // Pebble names no caaIdentities in its directory: the configured identity stands in.
  options.extra_toml.replace(options.extra_toml.find("[acme]\n"), 7, "[acme]\ncaa_identities = [\"pebble.test\"]\n");
  options.extra_toml += "\n[monitor]\ncheck_interval = \"1s\"\n";
  PortcullisFixture px(options);

  require_log(px, "alert firing check=monitor.caa kind=caa_forbids_ca severity=critical endpoint=caa-1", 20s);
  require_log(px, "issuance waiting endpoint=caa-1", 20s);
  const auto firing = lines_with(px.log(), "kind=caa_forbids_ca");
  REQUIRE(!firing.empty());
  CHECK(firing[0].find("subject=\"shop.example.com CAA\"") != std::string::npos);
  CHECK(firing[0].find("found=\"shop.example.com CAA 0 issue \"other-ca.example\"") != std::string::npos);
  CHECK(firing[0].find("Add shop.example.com. CAA 0 issue \"pebble.test\"") != std::string::npos);
  CHECK(count_occurrences(world.pebble.pebble_log(), "Added order") == 0);
  CHECK(count_occurrences(world.pebble.pebble_log(), "shop.example.com") == 0);

  world.knot.remove("example.com", "shop.example.com", "CAA");
  world.unbound.flush();
  require_log(px, "alert resolved check=monitor.caa kind=caa_forbids_ca endpoint=caa-1", 20s);
  require_log(px, "certificate issued endpoint=caa-1", 60s);
  CHECK(count_occurrences(world.pebble.pebble_log(), "Added order") == 1);
}
