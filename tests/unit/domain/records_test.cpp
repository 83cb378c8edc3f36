#include "domain/records.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace portcullis::domain;

namespace {

EndpointConfig endpoint(Scope scope, std::vector<std::string> hostnames) {
  EndpointConfig e;
  e.id = "elb-1234";
  e.scope = scope;
  e.hostnames = std::move(hostnames);
  return e;
}

std::vector<std::string> texts(const std::vector<RequiredRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.text());
  return out;
}

constexpr const char* zone = "edge.example.net";

}  // namespace

TEST_CASE("the platform and validation hosts of an endpoint are named in the platform zone", "[unit][domain]") {
  CHECK(platform_host("elb-1234", zone) == "elb-1234.edge.example.net");
  CHECK(validation_host("elb-1234", zone) == "acme.elb-1234.edge.example.net");
  CHECK(challenge_name("app.example.com") == "_acme-challenge.app.example.com");
  CHECK(challenge_name("*.example.com") == "_acme-challenge.example.com");
}

TEST_CASE("records a customer must create, per scope and hostname", "[unit][domain]") {
  SECTION("external: the traffic CNAME, then the challenge CNAME") {
    auto records = records_for_hostname(endpoint(Scope::external, {"app.example.com"}), "app.example.com", zone);
    CHECK(texts(records) == std::vector<std::string>{
                                "app.example.com CNAME elb-1234.edge.example.net.",
                                "_acme-challenge.app.example.com CNAME acme.elb-1234.edge.example.net."});
    REQUIRE(records.size() == 2);
    CHECK(records[0].purpose == RecordPurpose::traffic);
    CHECK(records[0].hostname == "app.example.com");
    CHECK(records[0].checkable);
    CHECK(records[1].purpose == RecordPurpose::challenge);
    CHECK(records[1].checkable);
    CHECK(records[1].note.empty());
  }
  SECTION("internal: the challenge CNAME only (traffic reaches it by internal DNS)") {
    auto records =
        records_for_hostname(endpoint(Scope::internal, {"services.example.com"}), "services.example.com", zone);
    CHECK(texts(records) ==
          std::vector<std::string>{"_acme-challenge.services.example.com CNAME acme.elb-1234.edge.example.net."});
  }
  SECTION("external wildcard: a wildcard CNAME (allowed, not checkable) and the base domain's challenge") {
    auto records = records_for_hostname(endpoint(Scope::external, {"*.example.com"}), "*.example.com", zone);
    REQUIRE(records.size() == 2);
    CHECK(records[0].text() == "*.example.com CNAME elb-1234.edge.example.net.");
    CHECK_FALSE(records[0].checkable);
    CHECK_THAT(records[0].note, Catch::Contains("a wildcard CNAME is allowed in DNS"));
    CHECK(records[1].text() == "_acme-challenge.example.com CNAME acme.elb-1234.edge.example.net.");
    CHECK(records[1].hostname == "*.example.com");
    CHECK(records[1].checkable);
  }
  SECTION("internal wildcard: the base domain's challenge CNAME only") {
    auto records = records_for_hostname(endpoint(Scope::internal, {"*.example.com"}), "*.example.com", zone);
    CHECK(texts(records) ==
          std::vector<std::string>{"_acme-challenge.example.com CNAME acme.elb-1234.edge.example.net."});
  }
}

TEST_CASE("an endpoint's records list each record once, in hostname order", "[unit][domain]") {
  SECTION("two external names: two records each") {
    auto records = records_for_endpoint(endpoint(Scope::external, {"app.example.com", "www.example.com"}), zone);
    CHECK(texts(records) == std::vector<std::string>{
                                "app.example.com CNAME elb-1234.edge.example.net.",
                                "_acme-challenge.app.example.com CNAME acme.elb-1234.edge.example.net.",
                                "www.example.com CNAME elb-1234.edge.example.net.",
                                "_acme-challenge.www.example.com CNAME acme.elb-1234.edge.example.net."});
  }
  SECTION("a name and its wildcard share the challenge record, listed under the first") {
    auto records = records_for_endpoint(endpoint(Scope::external, {"example.com", "*.example.com"}), zone);
    CHECK(texts(records) == std::vector<std::string>{
                                "example.com CNAME elb-1234.edge.example.net.",
                                "_acme-challenge.example.com CNAME acme.elb-1234.edge.example.net.",
                                "*.example.com CNAME elb-1234.edge.example.net."});
    CHECK(records[1].hostname == "example.com");
  }
  SECTION("internal: one record per name") {
    auto records = records_for_endpoint(endpoint(Scope::internal, {"a.example.com", "b.example.com"}), zone);
    CHECK(records.size() == 2);
  }
}

TEST_CASE("record purposes and states have stable names", "[unit][domain]") {
  CHECK(to_string(RecordPurpose::traffic) == "traffic");
  CHECK(to_string(RecordPurpose::challenge) == "challenge");
  CHECK(to_string(RecordState::unchecked) == "unchecked");
  CHECK(to_string(RecordState::ok) == "ok");
  CHECK(to_string(RecordState::missing) == "missing");
  CHECK(to_string(RecordState::wrong_target) == "wrong_target");
  CHECK(to_string(RecordState::error) == "error");
}

TEST_CASE("a name is in the platform zone when it is the zone or below it, a wildcard by its base", "[unit][domain]") {
  struct Row {
    const char* hostname;
    bool in_zone;
  };
  const Row rows[] = {
      {"edge.example.net", true},          {"wiki.edge.example.net", true},
      {"a.b.edge.example.net", true},      {"*.edge.example.net", true},
      {"*.apps.edge.example.net", true},   {"example.net", false},
      {"xedge.example.net", false},        {"edge.example.net.evil.com", false},
      {"app.example.com", false},          {"*.example.net", false},
  };
  for (const auto& row : rows) {
    INFO(row.hostname);
    CHECK(in_platform_zone(row.hostname, zone) == row.in_zone);
  }
  CHECK_FALSE(in_platform_zone("edge.example.net", ""));
}

TEST_CASE("a name in the platform zone needs no record from anyone", "[unit][domain]") {
  for (auto scope : {Scope::external, Scope::internal}) {
    auto ep = endpoint(scope, {"wiki.edge.example.net", "*.apps.edge.example.net", "app.example.com"});
    CHECK(records_for_hostname(ep, "wiki.edge.example.net", zone).empty());
    CHECK(records_for_hostname(ep, "*.apps.edge.example.net", zone).empty());
    // The endpoint's other names still need theirs.
    auto records = records_for_endpoint(ep, zone);
    REQUIRE_FALSE(records.empty());
    for (const auto& r : records) CHECK(r.hostname == "app.example.com");
  }
}
