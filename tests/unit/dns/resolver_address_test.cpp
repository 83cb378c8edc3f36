#include "dns/resolver_address.hpp"

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"

using namespace portcullis;
using portcullis::testing::TempDir;

TEST_CASE("the resolver is dns.resolver, else resolv.conf's first nameserver", "[unit][dns]") {
  TempDir dir("resolv");
  domain::DnsConfig config;
  portcullis::testing::write_file(dir / "resolv.conf", "# comment\nsearch example.net\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n");
  auto found = dns::resolver_address(config, dir / "resolv.conf");
  REQUIRE(found);
  CHECK(found->to_string() == "192.0.2.53:53");

  config.resolver = domain::HostPort{"127.0.0.1", 5353};
  CHECK(dns::resolver_address(config, dir / "missing")->to_string() == "127.0.0.1:5353");

  config.resolver.reset();
  portcullis::testing::write_file(dir / "empty.conf", "search example.net\n");
  auto none = dns::resolver_address(config, dir / "empty.conf");
  REQUIRE_FALSE(none);
  CHECK(none.error().message() == (dir / "empty.conf").string() + ": no nameserver line with an IP address");
  CHECK_FALSE(dns::resolver_address(config, dir / "missing"));
}
