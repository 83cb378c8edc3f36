#include "tests/support/dns_world.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

namespace portcullis::testing {

DnsWorld::DnsWorld(std::vector<std::string> customer_records)
    : DnsWorld(std::move(customer_records), Ports{free_port(), free_port()}) {}

DnsWorld::DnsWorld(std::vector<std::string> customer_records, Ports ports)
    : fallback{ca.issue({fmt::format("*.{}", zone)}, "1003", "fallback")},
      knot{{.zones = {{"example.com", std::move(customer_records)}}}},
      unbound{{.zones = {{"example.com", knot.host(), knot.port()}, {zone, "127.0.0.1", ports.dns}}}},
      pebble{PebbleOptions{.http_port = ports.http, .dns_server = unbound.host_port()}},
      dns_port_(ports.dns),
      http_port_(ports.http) {}

FixtureOptions DnsWorld::portcullis(std::vector<EndpointSpec> endpoints) const {
  FixtureOptions o;
  o.internal_listener = true;
  o.http_port = http_port_;
  o.endpoints = std::move(endpoints);
  o.fallback_cert = fallback;
  o.extra_toml = fmt::format(
      "[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n\n[dns]\nzone = \"{}\"\nlisten = [\"127.0.0.1:{}\"]\n"
      "resolver = \"{}\"\n",
      pebble.directory_url(), pebble.ca_bundle().string(), zone, dns_port_, unbound.host_port());
  return o;
}

std::string DnsWorld::logs() const { return "knot:\n" + knot.log() + "\nunbound:\n" + unbound.log(); }

EndpointSpec managed_endpoint(std::string id, std::vector<std::string> hostnames, const UpstreamServer& upstream,
                              std::string scope, std::vector<std::string> ip_allowlist) {
  EndpointSpec e(std::move(id), std::move(hostnames), {upstream.address()}, std::move(scope),
                 std::move(ip_allowlist));
  e.managed_https = true;
  return e;
}

bool wait_log(PortcullisFixture& px, std::string_view needle, Millis deadline) {
  auto seen = [&] { return px.log().find(needle) != std::string::npos; };
  return wait_until([&] { return seen() || !px.process().running(); }, deadline, 20ms) && seen();
}

void require_log(PortcullisFixture& px, std::string_view needle, Millis deadline) {
  if (!wait_log(px, needle, deadline)) FAIL("no \"" << needle << "\" in the log:\n" << px.log());
}

}  // namespace portcullis::testing
