#include "proxy/route_table.hpp"

#include <catch2/catch.hpp>

using namespace portcullis::domain;
using namespace portcullis::proxy;

namespace {

EndpointConfig endpoint(std::string id, std::vector<std::string> names, Scope scope = Scope::external) {
  EndpointConfig e;
  e.id = std::move(id);
  e.hostnames = std::move(names);
  e.scope = scope;
  e.upstreams = {HostPort{"127.0.0.1", 9000}};
  return e;
}

}  // namespace

TEST_CASE("route lookup prefers the exact name over the wildcard of its parent", "[unit][proxy]") {
  RouteTable table({endpoint("exact", {"app.example.com"}), endpoint("wild", {"*.example.com"})}, {});
  REQUIRE(table.find("app.example.com")->id == "exact");
  REQUIRE(table.find("www.example.com")->id == "wild");
  SECTION("a wildcard covers exactly one label") {
    REQUIRE(table.find("example.com") == nullptr);
    REQUIRE(table.find("a.b.example.com") == nullptr);
  }
  SECTION("unknown names find nothing") { REQUIRE(table.find("other.test") == nullptr); }
}

TEST_CASE("an endpoint of the other scope is invisible", "[unit][proxy]") {
  RouteTable table({endpoint("int", {"services.example.com"}, Scope::internal)}, {});
  REQUIRE(table.find("services.example.com", Scope::internal)->id == "int");
  REQUIRE(table.find("services.example.com", Scope::external) == nullptr);
}

TEST_CASE("accept-time admission is the union of the scope's allowlists", "[unit][proxy]") {
  auto restricted = endpoint("a", {"a.example.com"});
  restricted.ip_allowlist = {*Cidr::parse("10.0.0.0/8")};
  auto peer_in = boost::asio::ip::make_address("10.1.2.3");
  auto peer_out = boost::asio::ip::make_address("192.0.2.1");
  SECTION("only restricted endpoints: outsiders are refused") {
    RouteTable table({restricted}, {});
    REQUIRE(table.any_admits(Scope::external, peer_in));
    REQUIRE_FALSE(table.any_admits(Scope::external, peer_out));
  }
  SECTION("one open endpoint admits everybody at accept time") {
    RouteTable table({restricted, endpoint("b", {"b.example.com"})}, {});
    REQUIRE(table.any_admits(Scope::external, peer_out));
  }
}

TEST_CASE("Host headers are normalised before routing", "[unit][proxy]") {
  REQUIRE(normalize_authority("App.Example.COM") == "app.example.com");
  REQUIRE(normalize_authority("app.example.com:8443") == "app.example.com");
  REQUIRE(normalize_authority("app.example.com.") == "app.example.com");
  REQUIRE(normalize_authority("[::1]:443") == "::1");
  REQUIRE(normalize_authority("a b") == "");
  REQUIRE(normalize_authority("evil/path") == "");
  REQUIRE(normalize_authority("::1") == "");
}

TEST_CASE("an endpoint's upstream pool keys are its upstreams in text, in order", "[unit][proxy]") {
  EndpointConfig e = endpoint("app", {"app.example.com"});
  e.upstreams = {HostPort{"127.0.0.1", 9000}, HostPort{"::1", 9001}, HostPort{"app.internal", 80}};
  RouteTable table({e}, {});
  const Endpoint* found = table.find("app.example.com");
  REQUIRE(found != nullptr);
  REQUIRE(found->upstream_keys == std::vector<std::string>{"127.0.0.1:9000", "[::1]:9001", "app.internal:80"});
}

TEST_CASE("the admit set of a scope is precomputed from its endpoints' allowlists", "[unit][proxy]") {
  auto v4 = endpoint("v4", {"a.example.com"});
  v4.ip_allowlist = {*Cidr::parse("10.0.0.0/8"), *Cidr::parse("192.0.2.0/24")};
  auto v6 = endpoint("v6", {"b.example.com"});
  v6.ip_allowlist = {*Cidr::parse("2001:db8::/32"), *Cidr::parse("10.0.0.0/8")};
  auto internal_open = endpoint("int", {"svc.internal"}, Scope::internal);
  const auto addr = [](const char* a) { return boost::asio::ip::make_address(a); };

  SECTION("the union of the allowlists, each prefix once") {
    RouteTable table({v4, v6, internal_open}, {});
    const auto& set = table.admit_set(Scope::external);
    CHECK_FALSE(set.open);
    for (const char* peer : {"10.9.9.9", "192.0.2.200", "2001:db8::1", "::ffff:10.1.1.1"}) {
      INFO(peer);
      CHECK(table.admits(Scope::external, addr(peer)));
    }
    for (const char* peer : {"192.0.3.1", "2001:db9::1", "127.0.0.1"}) {
      INFO(peer);
      CHECK_FALSE(table.admits(Scope::external, addr(peer)));
    }
    CHECK(table.admit_set(Scope::internal).open);
    CHECK(table.admits(Scope::internal, addr("203.0.113.1")));
  }
  SECTION("one open endpoint opens the scope to everyone") {
    RouteTable table({v4, endpoint("open", {"c.example.com"})}, {});
    CHECK(table.admit_set(Scope::external).open);
    CHECK(table.admits(Scope::external, addr("203.0.113.1")));
  }
  SECTION("a scope without endpoints admits nobody") {
    RouteTable table({v4}, {});
    CHECK_FALSE(table.admits(Scope::internal, addr("10.0.0.1")));
    RouteTable empty;
    CHECK_FALSE(empty.admits(Scope::external, addr("10.0.0.1")));
  }
  SECTION("the precomputed answer is the scan's for every peer") {
    RouteTable table({v4, v6, internal_open}, {});
    for (const char* peer : {"10.0.0.1", "11.0.0.1", "192.0.2.1", "2001:db8:1::1", "2001:db7::1", "::1"}) {
      for (auto scope : {Scope::external, Scope::internal}) {
        INFO(peer);
        CHECK(table.admits(scope, addr(peer)) == table.any_admits(scope, addr(peer)));
      }
    }
  }
}
