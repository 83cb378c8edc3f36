// dns::DelegationChecker against real servers: Knot serves the customer's zone (example.com) and,
// standing in for the platform zone, edge.example.net; Unbound resolves both. Each test changes
// the customer's records with RFC 2136 updates and checks what the checker reports.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "dns/delegation_check.hpp"
#include "domain/records.hpp"
#include "tests/support/knot.hpp"
#include "tests/support/unbound.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::testing;
using domain::RecordState;
using namespace std::chrono_literals;

constexpr const char* platform_zone = "edge.example.net";

// Knot with both zones, Unbound in front, and a checker configured with Unbound's address.
struct Chain {
  KnotFixture knot{{.zones = {{"example.com", {"www 0 A 192.0.2.10", "ours 0 A 127.0.0.10", "ours 0 AAAA ::1"}},
                              {platform_zone,
                               {"elb-1 0 A 127.0.0.10", "elb-1 0 AAAA ::1", "acme.elb-1 0 TXT \"token-value-1\"",
                                "acme.elb-1 0 TXT \"token-\" \"value-2\""}}}}};
  UnboundFixture unbound{{.zones = {{"example.com", knot.host(), knot.port()},
                                    {platform_zone, knot.host(), knot.port()}}}};
  dns::DelegationChecker checker{{.address = {unbound.host(), unbound.port()}, .timeout = 2s, .attempts = 2}};

  void cname(const std::string& name, const std::string& target) {
    knot.set_cname("example.com", name, target);
    unbound.flush();
  }
  std::string logs() const { return "knot log:\n" + knot.log() + "\nunbound log:\n" + unbound.log(); }
};

}  // namespace

TEST_CASE("the delegation check reports ok, missing and wrong target for a challenge CNAME",
          "[integration][dns]") {
  Chain chain;
  INFO(chain.logs());
  const std::string name = "_acme-challenge.app.example.com";
  const std::string expected = "acme.elb-1.edge.example.net.";

  SECTION("missing: NXDOMAIN") {
    auto seen = chain.checker.check_cname(name, expected);
    CHECK(seen.state == RecordState::missing);
    CHECK(seen.found == "NXDOMAIN");
  }
  SECTION("ok: the CNAME leads to the validation host (any letter case, with or without the dot)") {
    chain.cname(name, "ACME.elb-1.edge.example.net.");
    CHECK(chain.checker.check_cname(name, expected).state == RecordState::ok);
    CHECK(chain.checker.check_cname(name + ".", "acme.elb-1.edge.example.net").state == RecordState::ok);
  }
  SECTION("ok through a chain of CNAMEs") {
    chain.cname(name, "hop.example.com.");
    chain.cname("hop.example.com", expected);
    CHECK(chain.checker.check_cname(name, expected).state == RecordState::ok);
  }
  SECTION("wrong target: another CNAME, named in what was found") {
    chain.cname(name, "acme.other.example.com.");
    auto seen = chain.checker.check_cname(name, expected);
    CHECK(seen.state == RecordState::wrong_target);
    CHECK(seen.found == "CNAME acme.other.example.com.");
  }
  SECTION("wrong target: a chain leading elsewhere, the hops named") {
    chain.cname(name, "hop.example.com.");
    chain.cname("hop.example.com", "acme.other.example.com.");
    auto seen = chain.checker.check_cname(name, expected);
    CHECK(seen.state == RecordState::wrong_target);
    CHECK(seen.found == "CNAME hop.example.com. -> acme.other.example.com.");
  }
  SECTION("wrong target: a CNAME to a name the resolver cannot look up") {
    chain.cname(name, "acme.elsewhere.example.org.");  // no zone the resolver can reach
    auto seen = chain.checker.check_cname(name, expected);
    CHECK(seen.state == RecordState::wrong_target);
    CHECK_THAT(seen.found, Catch::StartsWith("CNAME acme.elsewhere.example.org. (resolver "));
  }
  SECTION("wrong target: addresses instead of a CNAME") {
    auto seen = chain.checker.check_cname("www.example.com", "elb-1.edge.example.net.");
    CHECK(seen.state == RecordState::wrong_target);
    CHECK(seen.found == "A 192.0.2.10");
  }
  SECTION("missing: the name exists with no CNAME and no address (NODATA)") {
    chain.knot.update("example.com", {fmt::format("add {}. 0 TXT \"stale\"", name)});
    chain.unbound.flush();
    auto seen = chain.checker.check_cname(name, expected);
    CHECK(seen.state == RecordState::missing);
    CHECK(seen.found == "no CNAME (NODATA)");
  }
  SECTION("a record removed after it was ok is missing again") {
    chain.cname(name, expected);
    CHECK(chain.checker.check_cname(name, expected).state == RecordState::ok);
    chain.knot.remove("example.com", name, "CNAME");
    chain.unbound.flush();
    CHECK(chain.checker.check_cname(name, expected).state == RecordState::missing);
  }
  SECTION("a CNAME loop is an error, not an endless walk") {
    chain.cname(name, "loop.example.com.");
    chain.cname("loop.example.com", name + ".");
    auto seen = chain.checker.check_cname(name, expected);
    CHECK(seen.state == RecordState::error);
    CHECK_THAT(seen.found, Catch::Contains("CNAME loop"));
  }
}

TEST_CASE("the delegation check checks the records an endpoint needs", "[integration][dns]") {
  Chain chain;
  INFO(chain.logs());
  domain::EndpointConfig endpoint;
  endpoint.id = "elb-1";
  endpoint.hostnames = {"app.example.com", "*.example.com"};
  const auto records = domain::records_for_endpoint(endpoint, platform_zone);
  REQUIRE(records.size() == 4);
  chain.cname("app.example.com", "elb-1.edge.example.net.");
  chain.cname("_acme-challenge.example.com", "acme.elb-1.edge.example.net.");
  CHECK(chain.checker.check(records[0]).state == RecordState::ok);       // app CNAME elb-1
  CHECK(chain.checker.check(records[1]).state == RecordState::missing);  // _acme-challenge.app
  CHECK(chain.checker.check(records[2]).state == RecordState::unchecked);  // *.example.com: not checkable
  CHECK(chain.checker.check(records[3]).state == RecordState::ok);       // _acme-challenge.example.com
}

TEST_CASE("the delegation check tells whether a name resolves to our listeners", "[integration][dns]") {
  Chain chain;
  INFO(chain.logs());
  const std::vector<std::string> ours{"127.0.0.10", "0:0::1"};

  SECTION("through our CNAME") {
    chain.cname("app.example.com", "elb-1.edge.example.net.");
    CHECK(chain.checker.check_resolves_to("app.example.com", ours).state == RecordState::ok);
  }
  SECTION("through addresses of its own") {
    CHECK(chain.checker.check_resolves_to("ours.example.com", ours).state == RecordState::ok);
  }
  SECTION("elsewhere: every address found is named") {
    auto seen = chain.checker.check_resolves_to("www.example.com", ours);
    CHECK(seen.state == RecordState::wrong_target);
    CHECK(seen.found == "A 192.0.2.10");
  }
  SECTION("partly elsewhere is not ours") {
    auto seen = chain.checker.check_resolves_to("ours.example.com", {"127.0.0.10"});
    CHECK(seen.state == RecordState::wrong_target);
    CHECK(seen.found == "A 127.0.0.10, AAAA ::1");
  }
  SECTION("nowhere") {
    auto seen = chain.checker.check_resolves_to("nothing.example.com", ours);
    CHECK(seen.state == RecordState::missing);
    CHECK(seen.found == "NXDOMAIN");
  }
  SECTION("a listener address that is not an IP is an error") {
    auto seen = chain.checker.check_resolves_to("ours.example.com", {"listener.example"});
    CHECK(seen.state == RecordState::error);
    CHECK(seen.found == "expected an IP address of ours, got \"listener.example\"");
  }
}

TEST_CASE("the delegation check reads TXT values through the customer's CNAME", "[integration][dns]") {
  Chain chain;
  INFO(chain.logs());
  chain.cname("_acme-challenge.app.example.com", "acme.elb-1.edge.example.net.");
  auto values = chain.checker.lookup_txt("_acme-challenge.app.example.com");
  REQUIRE(values);
  std::sort(values->begin(), values->end());
  CHECK(*values == std::vector<std::string>{"token-value-1", "token-value-2"});

  auto none = chain.checker.lookup_txt("_acme-challenge.www.example.com");
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("the delegation check reports an unreachable or failing resolver as an error", "[integration][dns]") {
  SECTION("nothing listens at the resolver's address") {
    const auto port = free_port();
    dns::DelegationChecker checker({.address = {"127.0.0.1", port}, .timeout = 200ms, .attempts = 1});
    auto seen = checker.check_cname("_acme-challenge.app.example.com", "acme.elb-1.edge.example.net.");
    CHECK(seen.state == RecordState::error);
    CHECK_THAT(seen.found, Catch::StartsWith(fmt::format("resolver 127.0.0.1:{}: no answer for", port)));
    auto txt = checker.lookup_txt("acme.elb-1.edge.example.net");
    REQUIRE_FALSE(txt);
    CHECK(txt.error().code() == Errc::network);
  }
  SECTION("the resolver answers SERVFAIL when the authoritative server refuses the zone") {
    KnotFixture knot;  // serves example.com only: REFUSED for example.org
    UnboundFixture unbound({.zones = {{"example.org", knot.host(), knot.port()}}});
    dns::DelegationChecker checker({.address = {unbound.host(), unbound.port()}, .timeout = 5s, .attempts = 1});
    auto seen = checker.check_cname("_acme-challenge.app.example.org", "acme.elb-1.edge.example.net.");
    CHECK(seen.state == RecordState::error);
    CHECK(seen.found == fmt::format("resolver {}: SERVFAIL for _acme-challenge.app.example.org CNAME",
                                    unbound.host_port()));
  }
  SECTION("no attempts at all is refused before anything is sent") {
    dns::DelegationChecker checker({.address = {"127.0.0.1", 53}, .timeout = 1s, .attempts = 0});
    auto seen = checker.check_cname("a.example.com", "b.example.net");
    CHECK(seen.state == RecordState::error);
    CHECK(seen.found == "resolver 127.0.0.1:53: expected a positive timeout and 1 to 255 attempts, got 1000 ms and 0");
  }
  SECTION("a resolver address that is not an IP") {
    dns::DelegationChecker checker({.address = {"resolver.example", 53}});
    auto seen = checker.check_cname("a.example.com", "b.example.net");
    CHECK(seen.state == RecordState::error);
    CHECK(seen.found == "resolver resolver.example:53: expected an IP address, got \"resolver.example\"");
  }
}
