#include "admin/host_check.hpp"

#include <catch2/catch.hpp>

using portcullis::admin::HostCheck;
using portcullis::admin::HostPattern;
using portcullis::admin::parse_host;

TEST_CASE("a Host value is a name or an IP literal with an optional port", "[unit][admin]") {
  CHECK(parse_host("Admin.Example.NET.") == HostPattern{"admin.example.net", std::nullopt});
  CHECK(parse_host("127.0.0.1:9900") == HostPattern{"127.0.0.1", 9900});
  CHECK(parse_host("[0:0::1]:9900") == HostPattern{"[::1]", 9900});
  CHECK_FALSE(parse_host(""));
  CHECK_FALSE(parse_host("user@admin.example.net"));
  CHECK_FALSE(parse_host("admin.example.net:99999"));
  CHECK_FALSE(parse_host("admin.example.net:0"));
  CHECK_FALSE(parse_host("admin.example.net/x"));
  CHECK_FALSE(parse_host("a b"));
  CHECK_FALSE(parse_host("admin%2eexample.net"));
}

TEST_CASE("the admin Host check admits the listen address and loopback names with the port only",
          "[unit][admin]") {
  SECTION("the defaults") {
    HostCheck check({}, "127.0.0.1", 9900, false);
    CHECK(check.allows("127.0.0.1:9900"));
    CHECK(check.allows("localhost:9900"));
    CHECK(check.allows("LOCALHOST:9900"));
    CHECK(check.allows("[::1]:9900"));
    CHECK_FALSE(check.allows("127.0.0.1:9901"));
    CHECK_FALSE(check.allows("localhost"));  // port 80
    // DNS rebinding: an attacker's name resolving to the listener.
    CHECK_FALSE(check.allows("rebind.attacker.example:9900"));
    CHECK_FALSE(check.allows(""));
  }
  SECTION("an IPv6 listen address") {
    HostCheck check({}, "::1", 9900, true);
    CHECK(check.allows("[::1]:9900"));
    CHECK_FALSE(check.allows("[::2]:9900"));
  }
  SECTION("configured names replace the defaults; a name without a port matches any port") {
    HostCheck check({*parse_host("admin.example.net"), *parse_host("10.0.0.5:9900")}, "0.0.0.0", 9900, true);
    CHECK(check.allows("admin.example.net"));
    CHECK(check.allows("admin.example.net:9900"));
    CHECK(check.allows("10.0.0.5:9900"));
    CHECK_FALSE(check.allows("10.0.0.5"));  // 443 under TLS
    CHECK_FALSE(check.allows("127.0.0.1:9900"));
  }
}
