// Managed certificates over DNS-01 through CNAME delegation, end to end with real servers: Knot
// holds the customer's zone (example.com), Portcullis serves the platform zone (edge.example.net)
// itself, Unbound resolves both for Pebble (the CA) and for Portcullis's own checks.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "tests/support/knot.hpp"
#include "tests/support/pebble.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/unbound.hpp"
#include "tests/support/upstream_server.hpp"

using namespace portcullis::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* zone = "edge.example.net";

// Knot, then Unbound in front of Knot and of Portcullis's DNS port, then Pebble resolving through
// Unbound. Portcullis is started by each test with dns_port and resolver(). These tests are about
// customers' CNAMEs, so Portcullis gets a fallback certificate of its own: the platform wildcard
// is then not ordered, and every order Pebble sees is the endpoint's (platform_wildcard_test.cpp
// covers the platform wildcard).
struct DnsWorld {
  explicit DnsWorld(std::vector<std::string> customer_records)
      : fallback{ca.issue({"*.edge.example.net"}, "1003", "fallback")},
        knot{{.zones = {{"example.com", std::move(customer_records)}}}},
        dns_port{free_port()},
        unbound{{.zones = {{"example.com", knot.host(), knot.port()}, {zone, "127.0.0.1", dns_port}}}},
        pebble{PebbleOptions{.dns_server = fmt::format("{}:{}", unbound.host(), unbound.port())}} {}

  FixtureOptions portcullis(std::vector<EndpointSpec> endpoints) const {
    FixtureOptions o;
    o.internal_listener = true;
    o.endpoints = std::move(endpoints);
    o.fallback_cert = fallback;
    o.extra_toml = fmt::format(
        "[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n\n[dns]\nzone = \"{}\"\nlisten = [\"127.0.0.1:{}\"]\n"
        "resolver = \"{}:{}\"\n",
        pebble.directory_url(), pebble.ca_bundle().string(), zone, dns_port, unbound.host(), unbound.port());
    return o;
  }
  std::string logs() const { return "knot:\n" + knot.log() + "\nunbound:\n" + unbound.log(); }

  TempDir pki{"portcullis-pki"};
  OpensslCa ca{pki.path()};
  CertFiles fallback;
  KnotFixture knot;
  std::uint16_t dns_port;
  UnboundFixture unbound;
  PebbleFixture pebble;
};

EndpointSpec managed(std::string id, std::vector<std::string> hostnames, const UpstreamServer& upstream,
                     std::string scope = "external") {
  EndpointSpec e(std::move(id), std::move(hostnames), {upstream.address()}, std::move(scope));
  e.managed_https = true;
  return e;
}

bool wait_log(PortcullisFixture& px, const std::string& needle, Millis deadline) {
  return wait_until([&] { return px.log().find(needle) != std::string::npos || !px.process().running(); }, deadline,
                    20ms) &&
         px.log().find(needle) != std::string::npos;
}

// Waits for `needle` in the binary's log; on failure the test fails with the whole log.
void require_log(PortcullisFixture& px, const std::string& needle, Millis deadline) {
  if (!wait_log(px, needle, deadline)) FAIL("no \"" << needle << "\" in the log:\n" << px.log());
}

}  // namespace

TEST_CASE("an internal endpoint gets its certificate over DNS-01 through the customer's CNAME, the CA never "
          "asking it over HTTP",
          "[integration][dns][acme]") {
  DnsWorld world({"_acme-challenge.services 0 CNAME acme.int-1.edge.example.net."});
  INFO(world.logs());
  UpstreamServer upstream;
  PortcullisFixture px(world.portcullis({managed("int-1", {"services.example.com"}, upstream, "internal")}));

  require_log(px, "certificate issued endpoint=int-1", 30s);
  CHECK(px.log().find("challenges chosen endpoint=int-1 ready: services.example.com dns-01") != std::string::npos);
  CHECK(px.log().find("dns-01 value visible name=_acme-challenge.services.example.com") != std::string::npos);
  // Pebble validated over DNS only: no HTTP-01 request for the name reached any listener.
  CHECK(count_occurrences(world.pebble.pebble_log(), "http-01") == 0);
  auto served = px.served_serial("services.example.com", px.internal_port());
  REQUIRE(served);
  CHECK(px.log().find("serial=" + *served) != std::string::npos);
}

TEST_CASE("with the challenge CNAME missing no order is placed; once the record is added, issuance follows by "
          "itself",
          "[integration][dns][acme]") {
  DnsWorld world({});
  INFO(world.logs());
  UpstreamServer upstream;
  PortcullisFixture px(world.portcullis({managed("int-2", {"vault.example.com"}, upstream, "internal")}));

  require_log(px, "issuance waiting endpoint=int-2", 15s);
  CHECK(px.log().find("_acme-challenge.vault.example.com CNAME acme.int-2.edge.example.net.") != std::string::npos);
  CHECK(count_occurrences(world.pebble.pebble_log(), "Added order") == 0);

  world.knot.set_cname("example.com", "_acme-challenge.vault.example.com", "acme.int-2.edge.example.net.");
  world.unbound.flush();
  require_log(px, "certificate issued endpoint=int-2", 40s);
  CHECK(count_occurrences(world.pebble.pebble_log(), "Added order") == 1);
}
