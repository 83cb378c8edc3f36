// The platform's own wildcard and names inside the platform zone, end to end with real servers:
// Portcullis serves the platform zone (edge.example.net) itself, Unbound resolves it for Pebble
// (the CA) and for Portcullis's own visibility checks. There is no customer zone at all: nothing
// here is proved through a CNAME.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "tests/support/kdig.hpp"
#include "tests/support/pebble.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/unbound.hpp"
#include "tests/support/upstream_server.hpp"

using namespace portcullis::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* zone = "edge.example.net";
// Pebble's orders, authorizations and validations take well under a second each; the bound is
// for a loaded machine.
constexpr Millis issue_deadline = 40s;
constexpr Millis openssl_deadline = 15s;

// Unbound in front of Portcullis's DNS port, Pebble resolving through Unbound. Portcullis is
// started by each test with portcullis().
struct ZoneWorld {
  // `validity_seconds`: of the certificates Pebble issues; 0 keeps Pebble's default.
  explicit ZoneWorld(std::uint64_t validity_seconds = 0)
      : dns_port{free_port()},
        unbound{{.zones = {{zone, "127.0.0.1", dns_port}}}},
        pebble{PebbleOptions{.certificate_validity_seconds = validity_seconds, .dns_server = unbound.host_port()}} {}

  FixtureOptions portcullis(std::vector<EndpointSpec> endpoints) const {
    FixtureOptions o;
    o.internal_listener = true;
    o.endpoints = std::move(endpoints);
    o.extra_toml = fmt::format(
        "[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n\n[dns]\nzone = \"{}\"\nlisten = [\"127.0.0.1:{}\"]\n"
        "resolver = \"{}\"\n",
        pebble.directory_url(), pebble.ca_bundle().string(), zone, dns_port, unbound.host_port());
    return o;
  }
  // Pebble's root as a file, for clients that verify what is served.
  std::filesystem::path root_file(const std::filesystem::path& dir) const {
    auto path = dir / "pebble-root.pem";
    write_file(path, pebble.root_pem());
    return path;
  }
  std::string logs() const { return "unbound:\n" + unbound.log() + "\npebble:\n" + pebble.pebble_log(); }

  std::uint16_t dns_port;
  UnboundFixture unbound;
  PebbleFixture pebble;
};

EndpointSpec managed(std::string id, std::vector<std::string> hostnames, const UpstreamServer& upstream,
                     std::string scope) {
  EndpointSpec e(std::move(id), std::move(hostnames), {upstream.address()}, std::move(scope));
  e.managed_https = true;
  return e;
}

void require_log(PortcullisFixture& px, const std::string& needle, Millis deadline) {
  const bool seen = wait_until(
      [&] { return px.log().find(needle) != std::string::npos || !px.process().running(); }, deadline, 20ms);
  if (!seen || px.log().find(needle) == std::string::npos) FAIL("no \"" << needle << "\" in the log:\n" << px.log());
}

// The leaf `openssl s_client` is served for `sni` on 127.0.0.1:`port`, described by
// `openssl x509 -noout -serial -issuer -ext subjectAltName`; when no certificate came back,
// "no certificate: " and what openssl said.
std::string served_leaf(std::uint16_t port, const std::string& sni) {
  auto r = run_command({"openssl", "s_client", "-connect", fmt::format("127.0.0.1:{}", port), "-servername", sni},
                       openssl_deadline);
  const auto begin = r.out.find("-----BEGIN CERTIFICATE-----");
  const auto end = r.out.find("-----END CERTIFICATE-----");
  if (begin == std::string::npos || end == std::string::npos) return "no certificate: " + r.out + r.err;
  auto x = run_command({"openssl", "x509", "-noout", "-serial", "-issuer", "-ext", "subjectAltName"}, openssl_deadline,
                       r.out.substr(begin, end + 25 - begin) + "\n");
  return x.exit_code == 0 ? x.out : "no certificate: " + x.err;
}

}  // namespace

TEST_CASE("with [dns] and ACME the platform wildcard is issued over DNS-01 in our own zone and served for a name "
          "nothing else covers, without a restart",
          "[integration][dns][acme]") {
  ZoneWorld world;
  INFO(world.logs());
  UpstreamServer upstream;
  auto options = world.portcullis({EndpointSpec("app", {"app.example.com"}, {upstream.address()})});
  PortcullisFixture px(options);
  // Before issuance the default certificate answers an unknown name of the zone.
  CHECK(px.log().find("fallback certificate source=platform_wildcard state=not_issued_yet") != std::string::npos);

  require_log(px, "certificate issued endpoint=_platform", issue_deadline);
  const auto log = px.log();
  CHECK(log.find("challenges chosen endpoint=_platform ready: *.edge.example.net dns-01, edge.example.net dns-01") !=
        std::string::npos);
  // Both values at one name, published together and seen through the resolver before validation.
  CHECK(log.find("validation values published owner=_platform values=2") != std::string::npos);
  CHECK(log.find("dns-01 value visible name=_acme-challenge.edge.example.net") != std::string::npos);
  CHECK(log.find("issuance waiting") == std::string::npos);
  CHECK(log.find("fallback certificate source=platform_wildcard names=*.edge.example.net,edge.example.net") !=
        std::string::npos);
  CHECK(count_occurrences(world.pebble.pebble_log(), "http-01") == 0);

  // Served at the next handshake for a name of the zone that no endpoint has, issued by Pebble.
  const auto leaf = served_leaf(px.https_port(), "unknown.edge.example.net");
  INFO(leaf);
  CHECK(leaf.find("DNS:*.edge.example.net") != std::string::npos);
  CHECK(leaf.find("DNS:edge.example.net") != std::string::npos);
  CHECK(leaf.find("Pebble") != std::string::npos);
  // The chain verifies against Pebble's root for that name (the request itself is a 404: no
  // endpoint has the name).
  auto verified = px.curl("unknown.edge.example.net", "/", {"--cacert", world.root_file(px.dir()).string()});
  CHECK(verified.exit_code == 0);
  CHECK(verified.status == 404);
  // A name outside the zone is not covered: the default certificate answers it, as before.
  const auto elsewhere = served_leaf(px.https_port(), "elsewhere.example.org");
  INFO(elsewhere);
  CHECK(elsewhere.find("serial=") != std::string::npos);
  CHECK(elsewhere.find("edge.example.net") == std::string::npos);

  // The values were withdrawn once the order ended; the name still exists (NODATA, not NXDOMAIN).
  auto txt = kdig("127.0.0.1", world.dns_port, "_acme-challenge.edge.example.net", "TXT");
  CHECK(txt.status == "NOERROR");
  CHECK(txt.answers.empty());
}

TEST_CASE("the platform wildcard is renewed by the same scheduler as any certificate and the new one is served",
          "[integration][dns][acme]") {
  // 24 s of validity: renewal falls due with half of it left (short lifetime), about 12 s in.
  constexpr std::uint64_t validity_seconds = 24;
  ZoneWorld world(validity_seconds);
  INFO(world.logs());
  UpstreamServer upstream;
  PortcullisFixture px(world.portcullis({EndpointSpec("app", {"app.example.com"}, {upstream.address()})}));

  const std::string issued = "certificate issued endpoint=_platform ";
  require_log(px, issued, issue_deadline);
  const auto first = served_leaf(px.https_port(), "unknown.edge.example.net");
  REQUIRE(first.find("serial=") != std::string::npos);
  const bool renewed = wait_until([&] { return count_occurrences(px.log(), issued) >= 2 || !px.process().running(); },
                                  Millis((validity_seconds + 10) * 1000), 50ms);
  INFO(px.log());
  REQUIRE(renewed);
  REQUIRE(count_occurrences(px.log(), issued) >= 2);
  const auto second = served_leaf(px.https_port(), "unknown.edge.example.net");
  CHECK(second.find("serial=") != std::string::npos);
  CHECK(second.find("DNS:*.edge.example.net") != std::string::npos);
  CHECK(second.substr(0, second.find('\n')) != first.substr(0, first.find('\n')));  // another serial
}

TEST_CASE("with tls.fallback_cert set the platform wildcard is not ordered and the operator's certificate stays the "
          "fallback",
          "[integration][dns][acme]") {
  ZoneWorld world;
  INFO(world.logs());
  StandardCerts certs;
  UpstreamServer upstream;
  // An external endpoint, unmanaged: an external listener with none closes every connection at accept.
  auto options = world.portcullis({managed("wiki", {"wiki.edge.example.net"}, upstream, "internal"),
                                   EndpointSpec("app", {"app.example.com"}, {upstream.address()})});
  options.fallback_cert = certs.fallback;  // *.edge.example.net, serial 1003
  PortcullisFixture px(options);

  // The endpoint's order shows the manager ran; the platform's was never placed.
  require_log(px, "certificate issued endpoint=wiki", issue_deadline);
  const auto log = px.log();
  CHECK(log.find("fallback certificate source=tls.fallback_cert") != std::string::npos);
  CHECK(log.find("platform_wildcard=no") != std::string::npos);
  CHECK(log.find("endpoint=_platform") == std::string::npos);
  CHECK(count_occurrences(world.pebble.pebble_log(), "Added order") == 1);
  const auto leaf = served_leaf(px.https_port(), "unknown.edge.example.net");
  INFO(leaf);
  CHECK(leaf.find("serial=" + certs.fallback.serial) != std::string::npos);
}

TEST_CASE("an endpoint name inside the platform zone is issued over DNS-01 answered by our zone, with no CNAME and "
          "no record to create",
          "[integration][dns][acme]") {
  ZoneWorld world;
  INFO(world.logs());
  UpstreamServer upstream;
  PortcullisFixture px(world.portcullis({managed("wiki", {"wiki.edge.example.net"}, upstream, "internal")}));

  require_log(px, "certificate issued endpoint=wiki", issue_deadline);
  const auto log = px.log();
  CHECK(log.find("challenges chosen endpoint=wiki ready: wiki.edge.example.net dns-01") != std::string::npos);
  CHECK(log.find("dns-01 value visible name=_acme-challenge.wiki.edge.example.net") != std::string::npos);
  CHECK(log.find("issuance waiting endpoint=wiki") == std::string::npos);
  CHECK(count_occurrences(world.pebble.pebble_log(), "http-01") == 0);

  // Our zone answers the name itself (the internal listeners' address): no record elsewhere.
  auto address = kdig("127.0.0.1", world.dns_port, "wiki.edge.example.net", "A");
  CHECK(address.authoritative);
  CHECK(address.answers == std::vector<std::string>{"127.0.0.1"});

  const auto leaf = served_leaf(px.internal_port(), "wiki.edge.example.net");
  INFO(leaf);
  CHECK(leaf.find("DNS:wiki.edge.example.net") != std::string::npos);
  CHECK(leaf.find("Pebble") != std::string::npos);

  // dns-check agrees: nothing to create for it.
  auto check = run_command({portcullis_binary().string(), "dns-check", "--config", px.config_path().string(),
                            "--endpoint", "wiki"},
                           openssl_deadline);
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
  CHECK(check.out.find("nothing to create: in the platform zone") != std::string::npos);
}

TEST_CASE("the platform wildcard is stored like any managed certificate: a restart serves it at once, with no new "
          "order",
          "[integration][dns][acme]") {
  ZoneWorld world;
  INFO(world.logs());
  UpstreamServer upstream;
  const TempDir data("portcullis-platform-data");
  auto options = world.portcullis({EndpointSpec("app", {"app.example.com"}, {upstream.address()})});
  options.data_dir = data.path();

  std::string first;
  {
    PortcullisFixture px(options);
    require_log(px, "certificate issued endpoint=_platform ", issue_deadline);
    first = served_leaf(px.https_port(), "unknown.edge.example.net");
    REQUIRE(first.find("serial=") != std::string::npos);
    REQUIRE(px.stop() == std::optional<int>(0));
  }
  const auto orders = count_occurrences(world.pebble.pebble_log(), "Added order");

  PortcullisFixture px(options);
  INFO(px.log());
  // Read from the store at start and in the fallback slot before the first handshake.
  CHECK(px.log().find("fallback certificate source=platform_wildcard names=*.edge.example.net,edge.example.net") !=
        std::string::npos);
  CHECK(served_leaf(px.https_port(), "unknown.edge.example.net") == first);
  // Not due: an order would have been decided in the control loop's first turn (nothing to check
  // for names in our zone), before the listeners were found accepting.
  CHECK(px.log().find("challenges chosen endpoint=_platform") == std::string::npos);
  REQUIRE(px.stop() == std::optional<int>(0));
  CHECK(count_occurrences(world.pebble.pebble_log(), "Added order") == orders);
}
