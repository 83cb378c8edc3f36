#include "domain/endpoint_rules.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/ip/address.hpp>

#include "domain/config.hpp"

namespace {

using namespace portcullis::domain;
namespace ip = boost::asio::ip;

EndpointCheck checked(std::string id, std::vector<std::string> hostnames, std::vector<std::string> upstreams = {"10.0.0.5:8080"}) {
  EndpointSpec spec;
  spec.id = std::move(id);
  spec.hostnames = std::move(hostnames);
  spec.upstreams = std::move(upstreams);
  auto check = validate(spec);
  REQUIRE(check.ok());
  return check;
}

EndpointRules zone_rules() {
  EndpointRules rules;
  rules.zone = "edge.example.net";
  rules.name_servers = {"ns1.edge.example.net", "ns.other.example"};
  rules.upstream_deny = UpstreamDeny(default_upstream_deny(),
                                     {{"the admin listener", ip::make_address("127.0.0.1"), 9900},
                                      {"the DNS listener", ip::make_address("0.0.0.0"), 53}});
  return rules;
}

}  // namespace

TEST_CASE("public suffixes come from the Public Suffix List, ICANN and private sections", "[unit][domain][psl]") {
  for (const char* suffix : {"com", "co.uk", "github.io", "net", "s3.amazonaws.com"}) {
    INFO(suffix);
    CHECK(is_public_suffix(suffix));
  }
  // Registrable names, and unlisted top-level names (no implicit "*" rule).
  for (const char* name : {"example.com", "example.co.uk", "me.github.io", "test", "app.test", "localhost"}) {
    INFO(name);
    CHECK_FALSE(is_public_suffix(name));
  }
}

TEST_CASE("a wildcard over a public suffix and a bare public suffix are refused as hostnames",
          "[unit][domain][psl]") {
  const EndpointRules rules;
  struct Case {
    const char* name;
    bool refused;
  };
  CHECK_FALSE(validate({"a", std::vector<std::string>{"*.com"}, Scope::external,
                        std::vector<std::string>{"10.0.0.5:8080"}, {}, true})
                  .ok());  // a wildcard needs two labels after it anyway
  for (const auto& c : {Case{"*.co.uk", true}, Case{"*.github.io", true}, Case{"co.uk", true},
                        Case{"*.example.com", false}, Case{"*.example.co.uk", false}, Case{"*.me.github.io", false},
                        Case{"app.example.com", false}}) {
    INFO(c.name);
    const auto problems = check_rules(checked("a", {c.name}), rules);
    CHECK(problems.empty() == !c.refused);
    if (c.refused) {
      CHECK(problems.at(0).place.path() == "hostnames[0]");
      CHECK(problems.at(0).message.find("public suffix") != std::string::npos);
    }
  }
}

TEST_CASE("the platform zone's own names are refused, a plain name inside the zone is not", "[unit][domain]") {
  const auto rules = zone_rules();
  struct Case {
    const char* name;
    const char* why;  // empty: allowed
  };
  for (const auto& c : {Case{"edge.example.net", "the platform zone itself"},
                        Case{"*.edge.example.net", "the platform zone's wildcard"},
                        Case{"ns1.edge.example.net", "a name server"}, Case{"ns.other.example", "a name server"},
                        Case{"shop.edge.example.net", ""}, Case{"*.shop.example.com", ""}}) {
    INFO(c.name);
    const auto problems = check_rules(checked("a", {c.name}), rules);
    if (*c.why == 0) {
      CHECK(problems.empty());
    } else {
      REQUIRE(problems.size() == 1);
      CHECK(problems[0].message.find(c.why) != std::string::npos);
    }
  }
}

TEST_CASE("another endpoint's platform and validation hosts are refused at whichever comes later",
          "[unit][domain]") {
  const std::string zone = "edge.example.net";
  SECTION("a hostname that is an earlier endpoint's platform host, validation host or covers it") {
    for (const char* name : {"first.edge.example.net", "acme.first.edge.example.net", "*.first.edge.example.net"}) {
      INFO(name);
      const auto problems = check_platform_names({checked("first", {"a.example.com"}), checked("second", {name})}, zone);
      REQUIRE(problems.size() == 1);
      CHECK(problems[0].place.endpoint == 1);
      CHECK(problems[0].place.path() == "hostnames[0]");
      CHECK(problems[0].message.find("platform name of endpoint \"first\"") != std::string::npos);
    }
  }
  SECTION("an id whose platform host an earlier endpoint already uses as a hostname") {
    const auto problems =
        check_platform_names({checked("first", {"later.edge.example.net"}), checked("later", {"b.example.com"})}, zone);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].place.endpoint == 1);
    CHECK(problems[0].place.path() == "id");
  }
  SECTION("its own platform host, names of no endpoint, and no zone are no problem") {
    CHECK(check_platform_names({checked("own", {"own.edge.example.net", "free.edge.example.net"})}, zone).empty());
    CHECK(check_platform_names({checked("first", {"a.example.com"}), checked("second", {"first.edge.example.net"})},
                               "")
              .empty());
  }
}

TEST_CASE("hostnames past the limit per endpoint are refused", "[unit][domain]") {
  EndpointRules rules;
  rules.max_hostnames = 2;
  CHECK(check_rules(checked("a", {"a.example.com", "b.example.com"}), rules).empty());
  const auto problems = check_rules(checked("a", {"a.example.com", "b.example.com", "c.example.com"}), rules);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].text() == "hostnames: expected at most 2 hostnames (limits.max_hostnames_per_endpoint), got 3");
}

TEST_CASE("upstream literals in the deny list or at an own listener are refused, names and private ranges are not",
          "[unit][domain][upstream_deny]") {
  const auto rules = zone_rules();
  struct Case {
    const char* upstream;
    const char* rule;  // empty: allowed
  };
  for (const auto& c : {Case{"169.254.169.254:80", "169.254.0.0/16 of upstreams.deny"},
                        Case{"[fe80::1]:80", "fe80::/10 of upstreams.deny"},
                        Case{"[fd00:ec2::254]:80", "fd00:ec2::254/128 of upstreams.deny"},
                        Case{"[::ffff:169.254.169.254]:80", "169.254.0.0/16 of upstreams.deny"},
                        Case{"127.0.0.1:9900", "the admin listener 127.0.0.1:9900"},
                        Case{"127.0.0.1:53", "the DNS listener 0.0.0.0:53"},
                        Case{"0.0.0.0:9900", "the admin listener 127.0.0.1:9900"},
                        Case{"[::]:9900", "the admin listener 127.0.0.1:9900"},
                        Case{"127.0.0.1:9901", ""}, Case{"10.1.2.3:9900", ""}, Case{"192.168.1.10:53", ""},
                        Case{"metadata.internal:80", ""}}) {
    INFO(c.upstream);
    const auto problems = check_rules(checked("a", {"a.example.com"}, {"10.0.0.1:80", c.upstream}), rules);
    if (*c.rule == 0) {
      CHECK(problems.empty());
    } else {
      REQUIRE(problems.size() == 1);
      CHECK(problems[0].place.path() == "upstreams[1]");
      CHECK(problems[0].message.find(std::string("(denied by ") + c.rule + ")") != std::string::npos);
    }
  }
}

TEST_CASE("the endpoint rules are built from the configuration in one place", "[unit][domain][upstream_deny]") {
  Config config;
  config.limits.max_hostnames_per_endpoint = 7;
  config.limits.max_endpoints = 9;
  config.admin.enabled = true;
  config.admin.listen = {"127.0.0.1", 9900};
  config.dns.enabled = true;
  config.dns.zone = "edge.example.net";
  config.dns.listen = {{"127.0.0.1", 5353}, {"::1", 5353}};
  config.dns.ns = {{"ns1.edge.example.net", {"127.0.0.1"}}};
  config.upstreams.deny = {*Cidr::parse("10.9.0.0/16")};
  const auto rules = endpoint_rules(config);
  CHECK(rules.max_hostnames == 7);
  CHECK(rules.max_endpoints == 9);
  CHECK(rules.zone == "edge.example.net");
  CHECK(rules.name_servers == std::vector<std::string>{"ns1.edge.example.net"});
  const auto& deny = rules.upstream_deny;
  CHECK(deny.rule_for(ip::make_address("10.9.1.1"), 80) == std::optional<std::string>("10.9.0.0/16 of upstreams.deny"));
  CHECK_FALSE(deny.rule_for(ip::make_address("169.254.169.254"), 80));  // the file's list replaces the default
  CHECK(deny.rule_for(ip::make_address("127.0.0.1"), 9900));
  CHECK(deny.rule_for(ip::make_address("::1"), 5353) == std::optional<std::string>("the DNS listener [::1]:5353"));
  CHECK_FALSE(deny.rule_for(ip::make_address("127.0.0.1"), 9901));
  CHECK(Config{}.upstreams.deny.size() == 3);
}
