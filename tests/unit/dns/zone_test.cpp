#include "dns/zone.hpp"
#include "dns/platform_zone.hpp"

#include <catch2/catch.hpp>
#include <ldns/ldns.h>

namespace {

using namespace portcullis;
using dns::IpAddress;

dns::ZoneSettings settings() {
  dns::ZoneSettings s;
  s.apex = "edge.example.net";
  s.name_servers = {{"ns1.edge.example.net", {boost::asio::ip::make_address("192.0.2.53")}},
                    {"ns.other.example", {}}};
  s.soa_email = "host.master@edge.example.net";
  s.external = {boost::asio::ip::make_address("192.0.2.1"), boost::asio::ip::make_address("2001:db8::1")};
  s.internal = {boost::asio::ip::make_address("10.0.0.1")};
  return s;
}

std::vector<domain::EndpointConfig> endpoints() {
  domain::EndpointConfig a, b;
  a.id = "elb-1";
  b.id = "int-2";
  b.scope = domain::Scope::internal;
  return {a, b};
}

std::string text(const ldns_rdf* rdf) {
  char* s = ldns_rdf2str(rdf);
  std::string out = s ? s : "";
  free(s);
  return out;
}

}  // namespace

TEST_CASE("the zone holds the apex, the name servers' glue and every endpoint's two names", "[unit][dns]") {
  dns::ZoneBuilder builder;
  builder.configure(settings(), endpoints());
  auto zone = builder.build(42);
  REQUIRE(zone);
  const dns::Zone& z = **zone;
  CHECK(z.serial() == 42);
  REQUIRE(z.find("") != nullptr);
  CHECK(z.find("")->apex);
  REQUIRE(z.find("ns1") != nullptr);
  CHECK(ldns_rr_list_rr_count(z.find("ns1")->a) == 1);
  CHECK(z.find("ns1")->aaaa == nullptr);
  // An out-of-zone name server has an NS record and no glue.
  CHECK(ldns_rr_list_rr_count(z.ns()) == 2);
  CHECK(ldns_rr_list_rr_count(z.glue()) == 1);

  const auto* ext = z.find("elb-1");
  REQUIRE(ext != nullptr);
  CHECK(ldns_rr_list_rr_count(ext->a) == 1);
  CHECK(ldns_rr_list_rr_count(ext->aaaa) == 1);
  CHECK(text(ldns_rr_rdf(ldns_rr_list_rr(ext->a, 0), 0)) == "192.0.2.1");
  const auto* internal = z.find("int-2");
  REQUIRE(internal != nullptr);
  CHECK(text(ldns_rr_rdf(ldns_rr_list_rr(internal->a, 0), 0)) == "10.0.0.1");
  CHECK(internal->aaaa == nullptr);

  const auto* acme = z.find("acme.elb-1");
  REQUIRE(acme != nullptr);
  CHECK(acme->validation_host);
  CHECK(acme->txt == nullptr);
  CHECK(z.find("acme") == nullptr);
  CHECK(z.find("elb-2") == nullptr);
  // apex, ns1, two platform hosts, two validation hosts, and the apex's _acme-challenge (the
  // platform wildcard's), which exists before any value is set
  CHECK(z.names() == 7);
  REQUIRE(z.find("_acme-challenge") != nullptr);
  CHECK(z.find("_acme-challenge")->validation_host);
  CHECK(z.find("_acme-challenge")->txt == nullptr);
}

TEST_CASE("the SOA names the first name server and the mailbox with its dots escaped", "[unit][dns]") {
  dns::ZoneBuilder builder;
  builder.configure(settings(), endpoints());
  auto zone = builder.build(7);
  REQUIRE(zone);
  const ldns_rr* soa = (*zone)->soa();
  CHECK(text(ldns_rr_rdf(soa, 0)) == "ns1.edge.example.net.");
  CHECK(text(ldns_rr_rdf(soa, 1)) == "host\\.master.edge.example.net.");
  CHECK(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)) == 7);
  CHECK(ldns_rr_ttl(soa) == 300);
  CHECK(ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)) == 300);  // MINIMUM: negative caching
  CHECK(ldns_rr_ttl((*zone)->soa_short()) == 60);
}

TEST_CASE("validation TXT values are set, kept across a reconfiguration and cleared", "[unit][dns]") {
  dns::ZoneBuilder builder;
  builder.configure(settings(), endpoints());
  builder.set_txt("elb-1", {"value-one", "value-two"});
  builder.set_txt("int-2", {std::string(300, 'x')});
  auto zone = builder.build(1);
  REQUIRE(zone);
  const auto* acme = (*zone)->find("acme.elb-1");
  REQUIRE(acme->txt != nullptr);
  REQUIRE(ldns_rr_list_rr_count(acme->txt) == 2);
  CHECK(text(ldns_rr_rdf(ldns_rr_list_rr(acme->txt, 0), 0)) == "\"value-one\"");
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(acme->txt, 0)) == 60);
  // A value over 255 octets becomes several strings of one record.
  const ldns_rr* long_value = ldns_rr_list_rr((*zone)->find("acme.int-2")->txt, 0);
  CHECK(ldns_rr_rd_count(long_value) == 2);

  SECTION("a reload keeps the values of endpoints still present") {
    builder.configure(settings(), {endpoints()[0]});
    REQUIRE(builder.txt("elb-1") != nullptr);
    CHECK(builder.txt("int-2") == nullptr);
  }
  SECTION("clearing leaves the validation host with no data") {
    builder.clear_txt("elb-1");
    auto next = builder.build(2);
    REQUIRE(next);
    CHECK((*next)->find("acme.elb-1")->txt == nullptr);
    builder.set_txt("elb-1", {});
    CHECK(builder.txt("elb-1") == nullptr);
  }
}

TEST_CASE("a hostname inside the zone answers its scope's addresses and its own _acme-challenge name",
          "[unit][dns]") {
  auto eps = endpoints();
  eps[0].hostnames = {"app.example.com", "shop.edge.example.net", "*.apps.edge.example.net"};
  eps[1].hostnames = {"wiki.edge.example.net", "int-2.edge.example.net", "acme.elb-1.edge.example.net"};
  dns::ZoneBuilder builder;
  builder.configure(settings(), eps);
  auto zone = builder.build(1);
  REQUIRE(zone);
  const dns::Zone& z = **zone;
  const auto* shop = z.find("shop");
  REQUIRE(shop != nullptr);
  CHECK(text(ldns_rr_rdf(ldns_rr_list_rr(shop->a, 0), 0)) == "192.0.2.1");  // external
  CHECK(ldns_rr_list_rr_count(shop->aaaa) == 1);
  const auto* wiki = z.find("wiki");
  REQUIRE(wiki != nullptr);
  CHECK(text(ldns_rr_rdf(ldns_rr_list_rr(wiki->a, 0), 0)) == "10.0.0.1");  // internal
  // A name that already means something keeps its meaning.
  CHECK(z.find("acme.elb-1")->a == nullptr);
  CHECK(z.find("acme.elb-1")->validation_host);
  // The zone has no wildcard records: *.apps gets no address, only its challenge name.
  CHECK(z.find("apps") != nullptr);
  CHECK(z.find("apps")->a == nullptr);
  for (const char* name : {"_acme-challenge.shop", "_acme-challenge.wiki", "_acme-challenge.apps", "_acme-challenge"}) {
    INFO(name);
    REQUIRE(z.find(name) != nullptr);
    CHECK(z.find(name)->validation_host);
  }
  CHECK(z.find("_acme-challenge.app") == nullptr);
}

TEST_CASE("challenge values at names inside the zone are set per owner, merged per name and cleared",
          "[unit][dns]") {
  dns::ZoneBuilder builder;
  builder.configure(settings(), endpoints());
  builder.set_challenge_txt("_platform", {{"edge.example.net", {"for-the-wildcard", "for-the-apex"}}});
  builder.set_challenge_txt("elb-1", {{"edge.example.net", {"for-the-apex", "elb-1-value"}},
                                      {"shop.edge.example.net", {"shop-value"}},
                                      {"app.example.com", {"outside"}}});
  auto zone = builder.build(1);
  REQUIRE(zone);
  const auto* apex = (*zone)->find("_acme-challenge");
  REQUIRE(apex != nullptr);
  REQUIRE(apex->txt != nullptr);
  REQUIRE(ldns_rr_list_rr_count(apex->txt) == 3);  // one value set by both owners is answered once
  CHECK(text(ldns_rr_rdf(ldns_rr_list_rr(apex->txt, 0), 0)) == "\"for-the-wildcard\"");
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(apex->txt, 0)) == 60);
  REQUIRE((*zone)->find("_acme-challenge.shop") != nullptr);
  CHECK(ldns_rr_list_rr_count((*zone)->find("_acme-challenge.shop")->txt) == 1);
  CHECK((*zone)->find("_acme-challenge.app") == nullptr);  // outside the zone: not answered

  SECTION("a reconfiguration keeps them: the platform certificate is no endpoint") {
    builder.configure(settings(), {});
    REQUIRE(builder.challenge_txt("_platform") != nullptr);
    REQUIRE(builder.challenge_txt("elb-1") != nullptr);
  }
  SECTION("clearing one owner leaves the other's values") {
    builder.set_challenge_txt("_platform", {});
    CHECK(builder.challenge_txt("_platform") == nullptr);
    auto next = builder.build(2);
    REQUIRE(next);
    CHECK(ldns_rr_list_rr_count((*next)->find("_acme-challenge")->txt) == 2);
    builder.set_challenge_txt("elb-1", {});
    auto last = builder.build(3);
    REQUIRE(last);
    CHECK((*last)->find("_acme-challenge")->txt == nullptr);
    CHECK((*last)->find("_acme-challenge")->validation_host);
  }
}

TEST_CASE("names above a name server's name exist without records", "[unit][dns]") {
  auto s = settings();
  s.name_servers = {{"a.ns.edge.example.net", {boost::asio::ip::make_address("2001:db8::53")}}};
  dns::ZoneBuilder builder;
  builder.configure(s, {});
  auto zone = builder.build(1);
  REQUIRE(zone);
  REQUIRE((*zone)->find("ns") != nullptr);
  CHECK((*zone)->find("ns")->a == nullptr);
  CHECK(ldns_rr_list_rr_count((*zone)->find("a.ns")->aaaa) == 1);
}

TEST_CASE("settings come from [dns] with every address parsed", "[unit][dns]") {
  domain::DnsConfig config;
  config.zone = "Edge.Example.NET.";
  config.ns = {{"ns1.edge.example.net", {"192.0.2.53", "2001:db8::53"}}};
  config.soa_email = "hostmaster@edge.example.net";
  config.external_addresses = {"192.0.2.1"};
  auto s = dns::ZoneSettings::from_config(config);
  REQUIRE(s);
  CHECK(s->apex == "edge.example.net");
  CHECK(s->name_servers.at(0).addresses.size() == 2);
  config.internal_addresses = {"not-an-ip"};
  auto bad = dns::ZoneSettings::from_config(config);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "dns.addresses.internal[0]: expected an IP address, got \"not-an-ip\"");
}

TEST_CASE("the serial follows the clock and always grows", "[unit][dns]") {
  CHECK(dns::next_serial(0, 1'700'000'000) == 1'700'000'000);
  CHECK(dns::next_serial(1'700'000'000, 1'700'000'000) == 1'700'000'001);
  CHECK(dns::next_serial(1'700'000'005, 1'700'000'001) == 1'700'000'006);
  CHECK(dns::next_serial(0xFFFF'FFFF, 5) == 5);  // RFC 1982: 5 is after 2^32-1
}

TEST_CASE("the live zone publishes challenge values inside the zone and refuses a name outside it", "[unit][dns]") {
  dns::PlatformZone zone([] { return 1'700'000'000u; });
  domain::DnsConfig config;
  config.enabled = true;
  config.zone = "edge.example.net";
  config.ns = {{"ns1.edge.example.net", {"192.0.2.53"}}};
  config.soa_email = "hostmaster@edge.example.net";
  REQUIRE(zone.configure(config, {}));
  const auto first = zone.current()->serial();

  REQUIRE(zone.set_challenge_txt("_platform", {{"edge.example.net", {"v1", "v2"}}}));
  CHECK(zone.current()->serial() > first);
  REQUIRE(zone.current()->find("_acme-challenge")->txt != nullptr);
  CHECK(ldns_rr_list_rr_count(zone.current()->find("_acme-challenge")->txt) == 2);

  const auto before = zone.current();
  auto outside = zone.set_challenge_txt("elb-1", {{"app.example.com", {"v3"}}});
  REQUIRE_FALSE(outside);
  CHECK(outside.error().code() == Errc::invalid_input);
  CHECK(outside.error().message().find("app.example.com is not inside the platform zone edge.example.net") !=
        std::string::npos);
  CHECK(zone.current() == before);  // nothing published

  REQUIRE(zone.clear_challenge_txt("_platform"));
  CHECK(zone.current()->find("_acme-challenge")->txt == nullptr);
}
