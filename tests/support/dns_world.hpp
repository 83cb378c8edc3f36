// DnsWorld: the servers of the DNS-01 end-to-end tests, started once per test case. Knot holds the
// customer's zone (example.com); Unbound resolves it through Knot and the platform zone
// (edge.example.net) through the DNS port Portcullis will serve it on; Pebble validates through
// Unbound (DNS-01 following the customer's CNAME, HTTP-01 to the address a name resolves to, on
// the plain listener's port). portcullis() gives the options of a Portcullis with [acme] pointed
// at that Pebble and [dns] serving the zone and checking records through Unbound. These tests are
// about customers' names, so that Portcullis gets a fallback certificate of its own: the platform
// wildcard is then not ordered and every order Pebble sees is an endpoint's
// (platform_wildcard_test.cpp covers the platform wildcard).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/knot.hpp"
#include "tests/support/pebble.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/unbound.hpp"
#include "tests/support/upstream_server.hpp"

namespace portcullis::testing {

class DnsWorld {
 public:
  static constexpr const char* zone = "edge.example.net";

  // `customer_records`: the lines of example.com's zone file, relative or absolute
  // ("_acme-challenge.app 0 CNAME acme.elb-1.edge.example.net.", "web 0 A 127.0.0.1").
  // Throws std::runtime_error when a server does not start.
  explicit DnsWorld(std::vector<std::string> customer_records);

  // Portcullis with an internal listener, these endpoints, the plain listener on the port Pebble
  // validates HTTP-01 on, [acme] and [dns] (zone, listen on dns_port(), resolver = Unbound).
  FixtureOptions portcullis(std::vector<EndpointSpec> endpoints) const;

  std::uint16_t dns_port() const noexcept { return dns_port_; }
  std::uint16_t http_port() const noexcept { return http_port_; }
  // The logs of Knot and Unbound, for a failing check's message.
  std::string logs() const;

  TempDir pki{"portcullis-pki"};
  OpensslCa ca{pki.path()};
  CertFiles fallback;  // *.edge.example.net, from `ca`
  KnotFixture knot;
  UnboundFixture unbound;
  PebbleFixture pebble;

 private:
  struct Ports {
    std::uint16_t dns, http;
  };
  explicit DnsWorld(std::vector<std::string> customer_records, Ports ports);

  std::uint16_t dns_port_ = 0;
  std::uint16_t http_port_ = 0;
};

// A managed endpoint on `upstream`.
EndpointSpec managed_endpoint(std::string id, std::vector<std::string> hostnames, const UpstreamServer& upstream,
                              std::string scope = "external", std::vector<std::string> ip_allowlist = {});

// True once `needle` is in the binary's log, within `deadline` (false at once if it exited).
bool wait_log(PortcullisFixture& px, std::string_view needle, Millis deadline);
// wait_log, failing the test with the whole log when the line does not come.
void require_log(PortcullisFixture& px, std::string_view needle, Millis deadline);

}  // namespace portcullis::testing
