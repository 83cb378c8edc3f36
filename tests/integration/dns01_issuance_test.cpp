// Managed certificates chosen and proved per name from live DNS, end to end with real servers:
// Knot holds the customer's zone (example.com), Portcullis serves the platform zone
// (edge.example.net) itself, Unbound resolves both for Pebble (the CA) and for Portcullis's own
// checks (tests/support/dns_world.hpp). One set of servers per test case.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "tests/support/dns_world.hpp"
#include "tests/support/kdig.hpp"

using namespace portcullis::testing;
using namespace std::chrono_literals;

namespace {

constexpr Millis issuance_deadline = 30s;

// The serial the binary logged issuing for `endpoint`, as served_serial() writes it; "" before.
std::string issued_serial(const PortcullisFixture& px, const std::string& endpoint) {
  auto lines = lines_with(px.log(), "certificate issued endpoint=" + endpoint + " ");
  if (lines.empty()) return {};
  auto at = lines.back().find(" serial=");
  if (at == std::string::npos) return {};
  at += 8;
  return normalize_serial(lines.back().substr(at, lines.back().find(' ', at) - at));
}

// The "challenges chosen" line for `endpoint` ("" when there is none).
std::string chosen_line(const PortcullisFixture& px, const std::string& endpoint) {
  auto lines = lines_with(px.log(), "challenges chosen endpoint=" + endpoint + " ");
  return lines.empty() ? std::string() : lines.back();
}

// Pebble's log lines about validating `name` over HTTP-01 (it logs each attempt with the URL).
std::size_t pebble_http01_attempts(const PebbleFixture& pebble, const std::string& name) {
  return lines_with(pebble.pebble_log(), "http://" + name).size();
}

}  // namespace

TEST_CASE("an internal endpoint gets its certificate over DNS-01 through the customer's CNAME, the CA never "
          "asking it over HTTP",
          "[integration][dns][acme]") {
  DnsWorld world({"_acme-challenge.services 0 CNAME acme.int-1.edge.example.net."});
  INFO(world.logs());
  UpstreamServer upstream;
  PortcullisFixture px(world.portcullis({managed_endpoint("int-1", {"services.example.com"}, upstream, "internal")}));

  require_log(px, "certificate issued endpoint=int-1", issuance_deadline);
  CHECK(px.log().find("challenges chosen endpoint=int-1 ready: services.example.com dns-01") != std::string::npos);
  CHECK(chosen_line(px, "int-1").find("internal endpoint: the CA cannot reach it") != std::string::npos);
  CHECK(px.log().find("dns-01 value visible name=_acme-challenge.services.example.com") != std::string::npos);
  // Pebble validated over DNS only: no HTTP-01 request for the name reached any listener.
  CHECK(count_occurrences(world.pebble.pebble_log(), "http-01") == 0);
  auto served = px.served_serial("services.example.com", px.internal_port());
  REQUIRE(served);
  CHECK(*served == issued_serial(px, "int-1"));
}

TEST_CASE("with the challenge CNAME missing no order is placed, and once the record is added, issuance follows by "
          "itself",
          "[integration][dns][acme]") {
  DnsWorld world({});
  INFO(world.logs());
  UpstreamServer upstream;
  PortcullisFixture px(world.portcullis({managed_endpoint("int-2", {"vault.example.com"}, upstream, "internal")}));

  require_log(px, "issuance waiting endpoint=int-2", 15s);
  const auto waiting = lines_with(px.log(), "issuance waiting endpoint=int-2 ");
  REQUIRE(waiting.size() == 1);
  CHECK(waiting[0].find("internal endpoint: the CA cannot reach it") != std::string::npos);
  CHECK(waiting[0].find("_acme-challenge.vault.example.com CNAME acme.int-2.edge.example.net.") != std::string::npos);
  CHECK(count_occurrences(world.pebble.pebble_log(), "Added order") == 0);

  world.knot.set_cname("example.com", "_acme-challenge.vault.example.com", "acme.int-2.edge.example.net.");
  world.unbound.flush();
  require_log(px, "certificate issued endpoint=int-2", 40s);
  CHECK(count_occurrences(world.pebble.pebble_log(), "Added order") == 1);
}

TEST_CASE("external endpoints are proved by the challenge their DNS allows: allowlisted by DNS-01 (or waiting, never "
          "HTTP-01), open by HTTP-01 once the name resolves to us, open by DNS-01 before traffic moves, a wildcard by "
          "DNS-01",
          "[integration][dns][acme]") {
  DnsWorld world({
      // Allowlisted: both records, and the name even resolves to our listener; DNS-01 all the same.
      "_acme-challenge.office 0 CNAME acme.allow-1.edge.example.net.",
      "office 0 A 127.0.0.1",
      // Open, no challenge CNAME, the name resolves to our plain listener's address: HTTP-01.
      "web 0 A 127.0.0.1",
      // Open, the challenge CNAME only: the name does not resolve at all yet (traffic not moved).
      "_acme-challenge.early 0 CNAME acme.early-1.edge.example.net.",
      // A wildcard: its challenge record is at the base domain (RFC 8555 §8.4).
      "_acme-challenge.wild 0 CNAME acme.wild-1.edge.example.net.",
      // Allowlisted, resolving to our listener, no challenge CNAME: it waits, never HTTP-01.
      "lab 0 A 127.0.0.1",
  });
  INFO(world.logs());
  UpstreamServer upstream;
  PortcullisFixture px(world.portcullis({
      managed_endpoint("allow-1", {"office.example.com"}, upstream, "external", {"127.0.0.2/32"}),
      managed_endpoint("http-1", {"web.example.com"}, upstream),
      managed_endpoint("early-1", {"early.example.com"}, upstream),
      managed_endpoint("wild-1", {"*.wild.example.com"}, upstream),
      managed_endpoint("allow-2", {"lab.example.com"}, upstream, "external", {"127.0.0.2/32"}),
  }));
  for (const std::string id : {"allow-1", "http-1", "early-1", "wild-1"}) {
    require_log(px, "certificate issued endpoint=" + id + " ", issuance_deadline);
  }
  require_log(px, "issuance waiting endpoint=allow-2 ", issuance_deadline);
  const auto pebble_log = world.pebble.pebble_log();
  INFO("pebble log:\n" << pebble_log);

  {
    INFO("the allowlisted endpoint: DNS-01, because of its allowlist, never asked over HTTP");
    const auto line = chosen_line(px, "allow-1");
    CHECK(line.find("ready: office.example.com dns-01") != std::string::npos);
    CHECK(line.find("external endpoint with an IP allowlist") != std::string::npos);
    CHECK(px.log().find("dns-01 value visible name=_acme-challenge.office.example.com") != std::string::npos);
    CHECK(pebble_http01_attempts(world.pebble, "office.example.com") == 0);
    for (const auto& served : lines_with(px.log(), "acme http-01 served")) CHECK(served.find("office") == std::string::npos);
    // Served to a client inside the allowlist.
    auto o = px.client_options("office.example.com");
    o.bind_address = "127.0.0.2";
    TlsClient client(px.https_port(), o);
    REQUIRE(!client.connect());
    CHECK(client.peer_serial() == issued_serial(px, "allow-1"));
  }
  {
    INFO("the allowlisted endpoint without a challenge CNAME waits, though its name resolves to us");
    const auto waiting = lines_with(px.log(), "issuance waiting endpoint=allow-2 ");
    REQUIRE(!waiting.empty());
    CHECK(waiting[0].find("external endpoint with an IP allowlist: the CA's requests would be refused") !=
          std::string::npos);
    CHECK(waiting[0].find("_acme-challenge.lab.example.com CNAME acme.allow-2.edge.example.net.") != std::string::npos);
    CHECK(chosen_line(px, "allow-2").empty());
    CHECK(pebble_http01_attempts(world.pebble, "lab.example.com") == 0);
    // No order names it (Pebble's log names every identifier it is asked about, as it does the
    // allowlisted endpoint that has its challenge CNAME).
    CHECK(count_occurrences(pebble_log, "office.example.com") > 0);
    CHECK(count_occurrences(pebble_log, "lab.example.com") == 0);
  }
  {
    INFO("the open endpoint whose name resolves to us and has no challenge CNAME: HTTP-01");
    const auto line = chosen_line(px, "http-1");
    CHECK(line.find("ready: web.example.com http-01") != std::string::npos);
    CHECK(line.find("web.example.com resolves to our listeners") != std::string::npos);
    CHECK(line.find("_acme-challenge.web.example.com CNAME: missing") != std::string::npos);
    CHECK(pebble_http01_attempts(world.pebble, "web.example.com") >= 1);
    CHECK(lines_with(px.log(), "acme http-01 served").size() >= 1);
    CHECK(px.log().find("dns-01 value visible name=_acme-challenge.web.example.com") == std::string::npos);
    CHECK(px.served_serial("web.example.com") == issued_serial(px, "http-1"));
  }
  {
    INFO("the open endpoint with the challenge CNAME and no traffic record yet: DNS-01");
    // The name has no address at all (an empty non-terminal above its challenge record: NODATA):
    // nothing routes traffic to us, and the certificate is there.
    const auto traffic = kdig(world.unbound.host(), world.unbound.port(), "early.example.com", "A");
    CHECK(traffic.answered);
    CHECK(traffic.answers.empty());
    CHECK(traffic.output.find("CNAME") == std::string::npos);
    const auto line = chosen_line(px, "early-1");
    CHECK(line.find("ready: early.example.com dns-01") != std::string::npos);
    CHECK(line.find("CNAME is verified (works before traffic moves)") != std::string::npos);
    CHECK(pebble_http01_attempts(world.pebble, "early.example.com") == 0);
    CHECK(px.served_serial("early.example.com") == issued_serial(px, "early-1"));
  }
  {
    INFO("the wildcard name: DNS-01 at the base domain, and a name under it is served the certificate");
    const auto line = chosen_line(px, "wild-1");
    CHECK(line.find("ready: *.wild.example.com dns-01") != std::string::npos);
    CHECK(line.find("wildcard name: a CA validates a wildcard only by DNS-01") != std::string::npos);
    CHECK(px.log().find("dns-01 value visible name=_acme-challenge.wild.example.com") != std::string::npos);
    CHECK(px.served_serial("x.wild.example.com") == issued_serial(px, "wild-1"));
  }
}
