#include "admin/endpoint_json.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "admin/token.hpp"

namespace {

namespace json = boost::json;
using namespace portcullis::admin;

json::object object(std::string_view text) { return json::parse(text).as_object(); }

std::vector<std::string> fields(const std::vector<portcullis::control::FieldProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.field);
  return out;
}

}  // namespace

TEST_CASE("a request body must be one JSON object, and the error says where it broke", "[unit][admin]") {
  CHECK(parse_object(R"({"a": 1})"));
  auto broken = parse_object(R"({"a": )");
  REQUIRE_FALSE(broken);
  CHECK_THAT(broken.error().message(), Catch::StartsWith("invalid JSON at byte"));
  auto trailing = parse_object(R"({"a": 1} x)");
  REQUIRE_FALSE(trailing);
  CHECK(parse_object("[]").error().message() == "expected a JSON object, got an empty array");
  CHECK(parse_object("\"x\"").error().message() == "expected a JSON object, got \"x\"");
  CHECK_FALSE(parse_object(""));
}

TEST_CASE("an endpoint body is read into a spec, and unknown fields and wrong types are named by path",
          "[unit][admin]") {
  SECTION("every field") {
    auto read = read_endpoint_spec(object(R"({"id": "ep-1", "hostnames": ["App.Example.com"], "scope": "internal",
      "upstreams": ["127.0.0.1:80"], "ip_allowlist": ["10.0.0.0/8"], "managed_https": false})"));
    CHECK(read.problems.empty());
    CHECK(read.value.id == std::optional<std::string>("ep-1"));
    CHECK(read.value.hostnames == std::optional<std::vector<std::string>>({"App.Example.com"}));
    CHECK(read.value.scope == portcullis::domain::Scope::internal);
    CHECK(read.value.ip_allowlist == std::vector<std::string>{"10.0.0.0/8"});
    CHECK_FALSE(read.value.managed_https);
  }
  SECTION("defaults: external, managed, open, no id") {
    auto read = read_endpoint_spec(object(R"({"hostnames": ["a.example.com"], "upstreams": ["h:1"]})"));
    CHECK(read.problems.empty());
    CHECK_FALSE(read.value.id);
    CHECK(read.value.scope == portcullis::domain::Scope::external);
    CHECK(read.value.managed_https);
    CHECK(read.value.ip_allowlist.empty());
  }
  SECTION("mistakes") {
    auto read = read_endpoint_spec(object(R"({"id": 7, "hostnames": ["a.example.com", 3], "scope": "public",
      "upstreams": "h:1", "ip_allowlist": null, "managed_https": "yes", "colour": "red"})"));
    CHECK(fields(read.problems) == std::vector<std::string>{"colour", "id", "hostnames[1]", "scope", "upstreams",
                                                             "ip_allowlist", "managed_https"});
    CHECK(read.problems[0].detail ==
          "unknown field (known: id, hostnames, scope, upstreams, ip_allowlist, managed_https)");
    CHECK(read.problems[2].detail == "expected a hostname such as \"app.example.com\" or \"*.example.com\", got 3");
    CHECK(read.problems[3].detail == "expected \"external\" or \"internal\", got \"public\"");
    CHECK(read.problems[4].detail == "expected an array of \"host:port\", got \"h:1\"");
  }
}

TEST_CASE("a patch takes any field but a changed id", "[unit][admin]") {
  auto read = read_endpoint_patch(object(R"({"id": "ep-1", "upstreams": ["h:2"]})"), "ep-1");
  CHECK(read.problems.empty());
  CHECK(read.value.upstreams == std::optional<std::vector<std::string>>({"h:2"}));
  CHECK_FALSE(read.value.hostnames);
  auto renamed = read_endpoint_patch(object(R"({"id": "ep-2"})"), "ep-1");
  CHECK(fields(renamed.problems) == std::vector<std::string>{"id"});
  CHECK_THAT(renamed.problems[0].detail, Catch::StartsWith("an endpoint's id cannot be changed"));
}

TEST_CASE("the bearer token is compared whole, with the scheme in any case", "[unit][admin]") {
  const portcullis::base::SecretBytes token("s3cret-token-value");
  CHECK(bearer_matches("Bearer s3cret-token-value", token));
  CHECK(bearer_matches("bearer s3cret-token-value", token));
  CHECK(bearer_matches("BEARER  s3cret-token-value ", token));
  CHECK_FALSE(bearer_matches("Bearer s3cret-token-valu", token));
  CHECK_FALSE(bearer_matches("Bearer s3cret-token-value2", token));
  CHECK_FALSE(bearer_matches("Basic s3cret-token-value", token));
  CHECK_FALSE(bearer_matches("Bearers3cret-token-value", token));
  CHECK_FALSE(bearer_matches("", token));
  CHECK_FALSE(bearer_matches("Bearer ", portcullis::base::SecretBytes("")));
}
