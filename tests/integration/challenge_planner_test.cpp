// control::ChallengePlanner against real servers: Knot serves the customer's zone (example.com)
// and, standing in for the platform zone, edge.example.net; Unbound resolves both. The planner
// decides each hostname's challenge from what the resolver shows, as the certificate manager will
// before an order.
#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "control/challenge_planner.hpp"
#include "domain/cidr.hpp"
#include "tests/support/knot.hpp"
#include "tests/support/unbound.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::testing;
using domain::ChallengeChoice;
using namespace std::chrono_literals;

constexpr const char* zone = "edge.example.net";

struct Chain {
  KnotFixture knot{{.zones = {{"example.com", {"ours 0 A 127.0.0.10", "elsewhere 0 A 192.0.2.10"}},
                              {zone, {"elb-1 0 A 127.0.0.10", "acme.elb-1 0 TXT \"published-value\""}}}}};
  UnboundFixture unbound{{.zones = {{"example.com", knot.host(), knot.port()}, {zone, knot.host(), knot.port()}}}};
  base::BlockingPool pool{2};
  control::ChallengePlanner planner{pool, {.zone = zone,
                                           .resolver = {.address = {unbound.host(), unbound.port()}, .timeout = 2s},
                                           .external_addresses = {"127.0.0.10"},
                                           .visibility_deadline = 1500ms,
                                           .visibility_poll = 100ms}};

  void cname(const std::string& name, const std::string& target) {
    knot.set_cname("example.com", name, target);
    unbound.flush();
  }
  std::string logs() const { return "knot log:\n" + knot.log() + "\nunbound log:\n" + unbound.log(); }

  template <class T>
  T run(boost::asio::awaitable<T> task) {
    boost::asio::io_context io;
    auto result = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    io.run();
    return result.get();
  }
  domain::EndpointDecision decide(const domain::EndpointConfig& endpoint) { return run(planner.decide(endpoint)); }
};

domain::EndpointConfig endpoint(std::vector<std::string> hostnames, domain::Scope scope = domain::Scope::external) {
  domain::EndpointConfig e;
  e.id = "elb-1";
  e.hostnames = std::move(hostnames);
  e.scope = scope;
  return e;
}

}  // namespace

TEST_CASE("the planner picks each hostname's challenge from the customer's DNS as the resolver shows it",
          "[integration][dns]") {
  Chain chain;
  INFO(chain.logs());

  SECTION("internal, challenge CNAME in place: dns-01") {
    chain.cname("_acme-challenge.services.example.com", "acme.elb-1.edge.example.net.");
    auto d = chain.decide(endpoint({"services.example.com"}, domain::Scope::internal));
    REQUIRE(d.ready);
    CHECK(d.hostnames.at(0).choice == ChallengeChoice::dns_01);
  }
  SECTION("internal, no CNAME: waits, naming the record to create") {
    auto d = chain.decide(endpoint({"services.example.com"}, domain::Scope::internal));
    CHECK_FALSE(d.ready);
    REQUIRE(d.hostnames.at(0).choice == ChallengeChoice::wait);
    REQUIRE_FALSE(d.hostnames.at(0).missing.empty());
    CHECK(d.hostnames.at(0).missing.at(0).record.text() ==
          "_acme-challenge.services.example.com CNAME acme.elb-1.edge.example.net.");
  }
  SECTION("external, open, resolving to us, no challenge CNAME: http-01") {
    auto d = chain.decide(endpoint({"ours.example.com"}));
    REQUIRE(d.ready);
    CHECK(d.hostnames.at(0).choice == ChallengeChoice::http_01);
  }
  SECTION("external, open, challenge CNAME in place before traffic moved: dns-01") {
    chain.cname("_acme-challenge.elsewhere.example.com", "acme.elb-1.edge.example.net.");
    auto d = chain.decide(endpoint({"elsewhere.example.com"}));
    REQUIRE(d.ready);
    CHECK(d.hostnames.at(0).choice == ChallengeChoice::dns_01);
  }
  SECTION("external, open, resolving elsewhere and no CNAME: waits, saying what was found") {
    auto d = chain.decide(endpoint({"elsewhere.example.com"}));
    CHECK_FALSE(d.ready);
    CHECK(d.reason.find("elsewhere.example.com") != std::string::npos);
  }
  SECTION("one order mixes types: a wildcard by dns-01 and an open name by http-01") {
    chain.cname("_acme-challenge.example.com", "acme.elb-1.edge.example.net.");
    auto d = chain.decide(endpoint({"*.example.com", "ours.example.com"}));
    REQUIRE(d.ready);
    acme::IssueRequest request;
    chain.planner.apply(endpoint({"*.example.com", "ours.example.com"}), d, request);
    REQUIRE(request.challenge_for);
    CHECK(request.challenge_for("example.com", true) == acme::ChallengeType::dns01);
    REQUIRE(request.dns01_owner);
    CHECK(request.dns01_owner("example.com") == "acme.elb-1.edge.example.net");
    CHECK(request.before_validation);
  }
}

TEST_CASE("the planner waits until a dns-01 value is visible through the customer's CNAME, within a deadline",
          "[integration][dns]") {
  Chain chain;
  INFO(chain.logs());
  SECTION("visible: the CNAME leads to our TXT value") {
    chain.cname("_acme-challenge.services.example.com", "acme.elb-1.edge.example.net.");
    auto status = chain.run(chain.planner.wait_visible("services.example.com", "published-value"));
    CHECK(status.has_value());
  }
  SECTION("not visible: a timeout naming the question and what was found") {
    auto status = chain.run(chain.planner.wait_visible("services.example.com", "published-value"));
    REQUIRE_FALSE(status.has_value());
    CHECK(status.error().code() == Errc::timeout);
    CHECK(status.error().message().find("_acme-challenge.services.example.com") != std::string::npos);
    CHECK(status.error().message().find("no TXT record") != std::string::npos);
  }
}
