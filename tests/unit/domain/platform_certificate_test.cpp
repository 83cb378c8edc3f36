#include "domain/platform_certificate.hpp"

#include <catch2/catch.hpp>

using namespace portcullis::domain;

namespace {

Config with_dns(std::string zone) {
  Config c;
  c.dns.enabled = true;
  c.dns.zone = std::move(zone);
  return c;
}

}  // namespace

TEST_CASE("the fallback comes from tls.fallback_cert, else the platform wildcard with [dns], else nowhere",
          "[unit][domain]") {
  SECTION("[dns] and no fallback_cert: the platform wildcard, *.<zone> then <zone>, internal, managed") {
    auto config = with_dns("edge.example.net");
    CHECK(fallback_source(config) == FallbackSource::platform_wildcard);
    auto platform = platform_certificate(config);
    REQUIRE(platform);
    CHECK(platform->id == platform_certificate_id);
    CHECK(platform->hostnames == std::vector<std::string>{"*.edge.example.net", "edge.example.net"});
    CHECK(platform->scope == Scope::internal);
    CHECK(platform->managed_https);
  }
  SECTION("an operator's own fallback_cert wins: the platform wildcard is not wanted") {
    auto config = with_dns("edge.example.net");
    config.tls.fallback_cert = "fallback.pem";
    config.tls.fallback_key = "fallback.key";
    CHECK(fallback_source(config) == FallbackSource::configured);
    CHECK_FALSE(platform_certificate(config));
  }
  SECTION("no [dns]: no zone to prove it in") {
    Config config;
    CHECK(fallback_source(config) == FallbackSource::none);
    CHECK_FALSE(platform_certificate(config));
    config.tls.fallback_cert = "fallback.pem";
    CHECK(fallback_source(config) == FallbackSource::configured);
  }
}

TEST_CASE("the platform certificate's id can never be an endpoint's", "[unit][domain]") {
  CHECK_FALSE(valid_endpoint_id(platform_certificate_id));
  CHECK(is_platform_certificate("_platform"));
  CHECK_FALSE(is_platform_certificate("platform"));
}
