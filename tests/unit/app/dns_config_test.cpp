// [dns] in the TOML reader: defaults derived from the listeners, and every problem reported as
// file:line: key: expected ..., got ...
#include "app/toml_config.hpp"

#include <catch2/catch.hpp>

using namespace portcullis::domain;
using namespace portcullis::app;

namespace {

std::string lines(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto line : items) out.append(line).push_back('\n');
  return out;
}

// Lines 1-3: the one listener a valid file needs; line 4 on: the test's own.
std::string with_listener(std::initializer_list<std::string_view> rest,
                          std::string_view address = "address = \"127.0.0.1:8443\"") {
  return lines({"[[listener]]", "name = \"https\"", address}) + lines(rest);
}

Config parsed(const std::string& text) {
  auto cfg = parse_config(text, "t.toml");
  INFO(text);
  INFO((cfg ? std::string() : cfg.error().message()));
  REQUIRE(cfg);
  return *cfg;
}

std::string error_of(const std::string& text) {
  auto cfg = parse_config(text, "t.toml");
  INFO(text);
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().code() == portcullis::Errc::config);
  return cfg.error().message();
}

}  // namespace

TEST_CASE("[dns] with a zone and a listen address turns the server on with every default", "[unit][dns]") {
  auto cfg = parsed(with_listener({"[dns]", "zone = \"Edge.Example.NET.\"", "listen = [\"127.0.0.1:5353\"]"}));
  const auto& d = cfg.dns;
  CHECK(d.enabled);
  CHECK(d.zone == "edge.example.net");
  REQUIRE(d.listen.size() == 1);
  CHECK(d.listen[0].to_string() == "127.0.0.1:5353");
  REQUIRE(d.ns.size() == 1);
  CHECK(d.ns[0].name == "ns1.edge.example.net");
  CHECK(d.ns[0].addresses == std::vector<std::string>{"127.0.0.1"});
  CHECK(d.soa_email == "hostmaster@edge.example.net");
  CHECK(d.ttl == 300);
  CHECK(d.txt_ttl == 60);
  CHECK_FALSE(d.resolver);
  CHECK(d.external_addresses == std::vector<std::string>{"127.0.0.1"});
  CHECK(d.internal_addresses.empty());
  CHECK(d.rate_limit == 100);
  CHECK_FALSE(parsed(with_listener({})).dns.enabled);
}

TEST_CASE("[dns] reads every key", "[unit][dns]") {
  auto cfg = parsed(with_listener({
      "[dns]",
      "zone = \"edge.example.net\"",
      "listen = [\"127.0.0.1:5353\", \"[::1]:5353\"]",
      "ns = [{ name = \"ns1.edge.example.net\", addresses = [\"192.0.2.53\", \"2001:db8::53\"] },",
      "      { name = \"ns2.provider.example\" }]",
      "soa_email = \"dns@example.com\"",
      "ttl = 600",
      "txt_ttl = 30",
      "resolver = \"127.0.0.53:53\"",
      "rate_limit = 0",
      "[dns.addresses]",
      "external = [\"192.0.2.1\", \"2001:db8::1\"]",
      "internal = [\"10.0.0.1\"]",
  }));
  const auto& d = cfg.dns;
  REQUIRE(d.ns.size() == 2);
  CHECK(d.ns[0].addresses.size() == 2);
  CHECK(d.ns[1].name == "ns2.provider.example");
  CHECK(d.ns[1].addresses.empty());
  CHECK(d.soa_email == "dns@example.com");
  CHECK(d.ttl == 600);
  CHECK(d.txt_ttl == 30);
  REQUIRE(d.resolver);
  CHECK(d.resolver->to_string() == "127.0.0.53:53");
  CHECK(d.rate_limit == 0);
  CHECK(d.external_addresses == std::vector<std::string>{"192.0.2.1", "2001:db8::1"});
  CHECK(d.internal_addresses == std::vector<std::string>{"10.0.0.1"});
}

TEST_CASE("[dns] rejects what it cannot serve, each problem at its line", "[unit][dns]") {
  SECTION("zone and listen are required") {
    CHECK(error_of(with_listener({"[dns]"})) ==
          "t.toml:4: dns.listen: expected an array of \"ip:port\", got nothing (the key is required)\n"
          "t.toml:4: dns.zone: expected a DNS name such as \"edge.example.net\", got nothing (the key is required)");
  }
  SECTION("a zone that is no DNS name") {
    CHECK(error_of(with_listener({"[dns]", "zone = \"edge..example\"", "listen = [\"127.0.0.1:5353\"]"})) ==
          "t.toml:5: dns.zone: expected a DNS name such as \"edge.example.net\", got \"edge..example\" (empty label)");
  }
  SECTION("listen that is not ip:port, or taken by a listener") {
    CHECK(error_of(with_listener({"[dns]", "zone = \"edge.example.net\"", "listen = [\"localhost:53\"]"})) ==
          "t.toml:6: dns.listen[0]: expected \"ip:port\" (an IP address to bind, \"[v6]:port\" for IPv6), got "
          "\"localhost:53\"");
    CHECK(error_of(with_listener({"[dns]", "zone = \"edge.example.net\"", "listen = [\"127.0.0.1:8443\"]"})) ==
          "t.toml:6: dns.listen[0]: expected an address no listener uses, got \"127.0.0.1:8443\" (also listener "
          "\"https\")");
  }
  SECTION("a name server inside the zone without addresses, or outside with them") {
    CHECK(error_of(with_listener({"[dns]", "zone = \"edge.example.net\"", "listen = [\"127.0.0.1:5353\"]",
                                  "ns = [{ name = \"ns1.edge.example.net\" }]"})) ==
          "t.toml:7: dns.ns[0].addresses: expected the addresses of \"ns1.edge.example.net\" (it is inside the zone, "
          "so resolvers find it through the glue this server gives), got none");
    CHECK(error_of(with_listener({"[dns]", "zone = \"edge.example.net\"", "listen = [\"127.0.0.1:5353\"]",
                                  "ns = [{ name = \"ns.other.example\", addresses = [\"192.0.2.1\"] }]"})) ==
          "t.toml:7: dns.ns[0].addresses: expected no addresses for \"ns.other.example\": it is outside the zone "
          "\"edge.example.net\", so its addresses come from its own zone");
  }
  SECTION("listening on 0.0.0.0 leaves nothing to publish") {
    CHECK(error_of(with_listener({"[dns]", "zone = \"edge.example.net\"", "listen = [\"0.0.0.0:53\"]"},
                                 "address = \"0.0.0.0:443\"")) ==
          "t.toml:4: dns.addresses.external: expected the addresses external platform hosts resolve to, got none, "
          "and they cannot come from the listeners: listener https binds 0.0.0.0:443 (give them in [dns.addresses])\n"
          "t.toml:6: dns.ns: expected the name servers' names and addresses, got none, and dns.listen 0.0.0.0:53 is "
          "no address to publish (give dns.ns = [{ name = ..., addresses = [...] }])");
  }
  SECTION("a name server named like an endpoint's platform host") {
    CHECK(error_of(lines({"[[listener]]", "name = \"https\"", "address = \"127.0.0.1:8443\"", "[[endpoint]]",
                          "id = \"ns1\"", "hostnames = [\"a.example.com\"]", "upstreams = [\"127.0.0.1:9000\"]",
                          "[dns]", "zone = \"edge.example.net\"", "listen = [\"127.0.0.1:5353\"]"})) ==
          "t.toml:8: dns.ns: expected dns.ns: the default name server \"ns1.edge.example.net\" is the platform host "
          "of endpoint \"ns1\"");
  }
  SECTION("bad TTLs, e-mail, resolver, addresses and unknown keys") {
    CHECK(error_of(with_listener({"[dns]", "zone = \"edge.example.net\"", "listen = [\"127.0.0.1:5353\"]",
                                  "ttl = -1", "txt_ttl = \"1m\"", "soa_email = \"nobody\"", "resolver = \"dns.google\"",
                                  "colour = 1", "[dns.addresses]", "external = [\"not-an-ip\"]"})) ==
          "t.toml:7: dns.ttl: expected a TTL in seconds from 0 to 2147483647, got -1\n"
          "t.toml:8: dns.txt_ttl: expected a TTL in seconds from 0 to 2147483647, got \"1m\"\n"
          "t.toml:9: dns.soa_email: expected an e-mail address such as \"hostmaster@example.net\", got \"nobody\"\n"
          "t.toml:10: dns.resolver: expected \"ip:port\" of a recursive resolver, such as \"127.0.0.1:53\", got "
          "\"dns.google\"\n"
          "t.toml:11: dns.colour: unknown key (known: zone, listen, ns, soa_email, ttl, txt_ttl, resolver, addresses, "
          "rate_limit, tcp_idle_timeout, tcp_max_queries, tcp_max_connections_per_ip)\n"
          "t.toml:13: dns.addresses.external[0]: expected an IP address, got \"not-an-ip\"");
  }
}

TEST_CASE("[dns] reads the TCP limits of RFC 7766 and refuses values out of range", "[unit][dns]") {
  const auto dns = [](std::string_view line) {
    return with_listener({"[dns]", "zone = \"edge.example.net\"", "listen = [\"127.0.0.1:5353\"]", line});
  };
  const auto defaults = parsed(dns("")).dns;
  CHECK(defaults.tcp_idle_timeout == std::chrono::seconds(10));
  CHECK(defaults.tcp_max_queries == 1000);
  CHECK(defaults.tcp_max_connections_per_ip == 64);
  CHECK(parsed(dns("tcp_idle_timeout = \"2s\"")).dns.tcp_idle_timeout == std::chrono::seconds(2));
  CHECK(parsed(dns("tcp_max_queries = 5")).dns.tcp_max_queries == 5);
  CHECK(parsed(dns("tcp_max_connections_per_ip = 0")).dns.tcp_max_connections_per_ip == 0);
  CHECK(error_of(dns("tcp_max_queries = 0")) ==
        "t.toml:7: dns.tcp_max_queries: expected an integer from 1 to 1000000, such as 1000, got 0");
  CHECK(error_of(dns("tcp_idle_timeout = 5")).find("dns.tcp_idle_timeout: expected a duration") != std::string::npos);
  CHECK(error_of(dns("tcp_max_connections_per_ip = -1")).find("dns.tcp_max_connections_per_ip: expected an integer") !=
        std::string::npos);
}
