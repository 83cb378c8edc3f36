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
