#include "domain/challenge_policy.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace portcullis::domain;
using namespace std::chrono_literals;

namespace {

constexpr const char* zone = "edge.example.net";

EndpointConfig endpoint(Scope scope, bool allowlist, std::vector<std::string> hostnames = {"app.example.com"}) {
  EndpointConfig e;
  e.id = "elb-1";
  e.scope = scope;
  e.hostnames = std::move(hostnames);
  if (allowlist) e.ip_allowlist.push_back(*Cidr::parse("10.0.0.0/8"));
  return e;
}

const Observation ok{RecordState::ok, ""};
const Observation unchecked{};
const Observation missing{RecordState::missing, ""};
const Observation elsewhere{RecordState::wrong_target, "A 203.0.113.7"};
const Observation other_cname{RecordState::wrong_target, "CNAME acme.other.example."};
const Observation servfail{RecordState::error, "SERVFAIL from 127.0.0.1:53"};

struct Row {
  const char* name;
  Scope scope;
  bool allowlist;
  const char* hostname;
  Observation challenge;
  Observation traffic;
  ChallengeChoice expected;
  const char* reason_has;
};

}  // namespace

TEST_CASE("the challenge for a hostname follows the design's table", "[unit][domain]") {
  const std::vector<Row> rows{
      // internal, with or without allowlist: DNS-01 only
      {"internal, CNAME verified", Scope::internal, false, "svc.example.com", ok, unchecked, ChallengeChoice::dns_01,
       "internal endpoint: the CA cannot reach it"},
      {"internal, CNAME missing, name resolves to us", Scope::internal, false, "svc.example.com", missing, ok,
       ChallengeChoice::wait, "internal endpoint"},
      {"internal with allowlist, CNAME verified", Scope::internal, true, "svc.example.com", ok, unchecked,
       ChallengeChoice::dns_01, "internal endpoint"},
      {"internal, not checked yet", Scope::internal, false, "svc.example.com", unchecked, unchecked,
       ChallengeChoice::wait, "not checked yet"},
      // external with allowlist: DNS-01 only
      {"allowlisted, CNAME verified", Scope::external, true, "app.example.com", ok, ok, ChallengeChoice::dns_01,
       "IP allowlist"},
      {"allowlisted, resolves to us but no CNAME", Scope::external, true, "app.example.com", missing, ok,
       ChallengeChoice::wait, "IP allowlist"},
      // wildcard: DNS-01 only
      {"wildcard, CNAME verified", Scope::external, false, "*.example.com", ok, unchecked, ChallengeChoice::dns_01,
       "wildcard name"},
      {"wildcard, CNAME to someone else", Scope::external, false, "*.example.com", other_cname, ok,
       ChallengeChoice::wait, "found CNAME acme.other.example."},
      // external, open
      {"open, CNAME verified", Scope::external, false, "app.example.com", ok, elsewhere, ChallengeChoice::dns_01,
       "works before traffic moves"},
      {"open, CNAME verified and name resolves to us: DNS-01 preferred", Scope::external, false, "app.example.com",
       ok, ok, ChallengeChoice::dns_01, "DNS-01"},
      {"open, no CNAME, resolves to us", Scope::external, false, "app.example.com", missing, ok,
       ChallengeChoice::http_01, "resolves to our listeners"},
      {"open, CNAME check failed, resolves to us", Scope::external, false, "app.example.com", servfail, ok,
       ChallengeChoice::http_01, "check failed: SERVFAIL"},
      {"open, no CNAME, resolves elsewhere", Scope::external, false, "app.example.com", missing, elsewhere,
       ChallengeChoice::wait, "found A 203.0.113.7"},
      {"open, nothing checked", Scope::external, false, "app.example.com", unchecked, unchecked,
       ChallengeChoice::wait, "not checked yet"},
      {"open, resolver failing", Scope::external, false, "app.example.com", servfail, servfail,
       ChallengeChoice::wait, "check failed: SERVFAIL from 127.0.0.1:53"},
      // a name in the platform zone: DNS-01 in our own zone, whatever the endpoint and the checks
      {"in the zone, internal, nothing checked", Scope::internal, false, "wiki.edge.example.net", unchecked,
       unchecked, ChallengeChoice::dns_01, "_acme-challenge.wiki.edge.example.net TXT is served by our own zone"},
      {"in the zone, external open, resolver failing", Scope::external, false, "app.edge.example.net", servfail,
       servfail, ChallengeChoice::dns_01, "in the platform zone"},
      {"in the zone, allowlisted", Scope::external, true, "app.edge.example.net", missing, missing,
       ChallengeChoice::dns_01, "no record to create"},
      {"the zone's wildcard", Scope::internal, false, "*.edge.example.net", unchecked, unchecked,
       ChallengeChoice::dns_01, "_acme-challenge.edge.example.net TXT"},
      {"the zone's apex", Scope::internal, false, "edge.example.net", unchecked, unchecked, ChallengeChoice::dns_01,
       "_acme-challenge.edge.example.net TXT"},
      {"a sibling of the zone is not in it", Scope::internal, false, "xedge.example.net", unchecked, unchecked,
       ChallengeChoice::wait, "internal endpoint"},
  };
  for (const auto& row : rows) {
    SECTION(row.name) {
      auto e = endpoint(row.scope, row.allowlist, {row.hostname});
      auto decision = choose_challenge(e, zone, {row.hostname, row.challenge, row.traffic});
      CHECK(decision.hostname == row.hostname);
      CHECK(decision.choice == row.expected);
      CHECK_THAT(decision.reason, Catch::Contains(row.reason_has));
      CHECK(decision.missing.empty() == (row.expected != ChallengeChoice::wait));
    }
  }
}

TEST_CASE("a waiting decision names the record to create and what was found instead", "[unit][domain]") {
  SECTION("DNS-01-only name: the challenge CNAME") {
    auto decision = choose_challenge(endpoint(Scope::internal, false, {"svc.example.com"}), zone,
                                     {"svc.example.com", other_cname, unchecked});
    REQUIRE(decision.missing.size() == 1);
    const auto& m = decision.missing[0];
    CHECK(m.record.name == "_acme-challenge.svc.example.com");
    CHECK(m.record.type == "CNAME");
    CHECK(m.record.target == "acme.elb-1.edge.example.net.");
    CHECK(m.observed.state == RecordState::wrong_target);
    CHECK(m.observed.found == "CNAME acme.other.example.");
  }
  SECTION("wildcard: the base domain's challenge CNAME") {
    auto decision =
        choose_challenge(endpoint(Scope::external, false, {"*.example.com"}), zone, {"*.example.com", missing, ok});
    REQUIRE(decision.missing.size() == 1);
    CHECK(decision.missing[0].record.name == "_acme-challenge.example.com");
  }
  SECTION("open external name: the challenge CNAME first (preferred), then the traffic CNAME") {
    auto decision = choose_challenge(endpoint(Scope::external, false), zone, {"app.example.com", missing, elsewhere});
    REQUIRE(decision.missing.size() == 2);
    CHECK(decision.missing[0].record.text() == "_acme-challenge.app.example.com CNAME acme.elb-1.edge.example.net.");
    CHECK(decision.missing[0].observed.state == RecordState::missing);
    CHECK(decision.missing[1].record.text() == "app.example.com CNAME elb-1.edge.example.net.");
    CHECK(decision.missing[1].observed.found == "A 203.0.113.7");
  }
}

TEST_CASE("an endpoint orders only when no hostname waits, mixing challenge types", "[unit][domain]") {
  auto e = endpoint(Scope::external, false, {"app.example.com", "www.example.com", "*.example.com"});
  SECTION("every name can be validated: one order, DNS-01 and HTTP-01 mixed") {
    auto d = choose_challenges(e, zone,
                               {{"app.example.com", ok, elsewhere},
                                {"www.example.com", missing, ok},
                                {"*.example.com", ok, unchecked}});
    CHECK(d.ready);
    REQUIRE(d.hostnames.size() == 3);
    CHECK(d.hostnames[0].choice == ChallengeChoice::dns_01);
    CHECK(d.hostnames[1].choice == ChallengeChoice::http_01);
    CHECK(d.hostnames[2].choice == ChallengeChoice::dns_01);
    CHECK(d.reason == "ready: app.example.com dns-01, www.example.com http-01, *.example.com dns-01");
  }
  SECTION("one name waits: no order, the reason names it") {
    auto d = choose_challenges(e, zone,
                               {{"app.example.com", ok, elsewhere},
                                {"www.example.com", missing, elsewhere},
                                {"*.example.com", ok, unchecked}});
    CHECK_FALSE(d.ready);
    CHECK(d.hostnames[1].choice == ChallengeChoice::wait);
    CHECK(d.reason == "waiting for www.example.com (no order until every name can be validated)");
  }
  SECTION("the platform wildcard's two names: ready with nothing checked") {
    auto platform = endpoint(Scope::internal, false, {"*.edge.example.net", "edge.example.net"});
    auto d = choose_challenges(platform, zone, {{"*.edge.example.net", unchecked, unchecked},
                                                {"edge.example.net", unchecked, unchecked}});
    CHECK(d.ready);
    CHECK(d.reason == "ready: *.edge.example.net dns-01, edge.example.net dns-01");
  }
  SECTION("no hostnames: nothing to order") {
    auto d = choose_challenges(e, zone, {});
    CHECK_FALSE(d.ready);
    CHECK(d.reason == "no hostnames");
  }
}

TEST_CASE("a waiting endpoint is checked again after 10 s, doubling to 10 minutes", "[unit][domain]") {
  CHECK(recheck_delay(0) == 10s);
  CHECK(recheck_delay(1) == 10s);
  CHECK(recheck_delay(2) == 20s);
  CHECK(recheck_delay(3) == 40s);
  CHECK(recheck_delay(6) == 320s);
  CHECK(recheck_delay(7) == 600s);
  CHECK(recheck_delay(8) == 600s);
  CHECK(recheck_delay(1000000) == 600s);
}

TEST_CASE("challenge choices have stable names", "[unit][domain]") {
  CHECK(to_string(ChallengeChoice::dns_01) == "dns-01");
  CHECK(to_string(ChallengeChoice::http_01) == "http-01");
  CHECK(to_string(ChallengeChoice::wait) == "wait");
}
