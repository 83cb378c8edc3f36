#include "domain/cidr.hpp"

#include <catch2/catch.hpp>

using namespace portcullis::domain;
using boost::asio::ip::make_address;

namespace {

Cidr cidr(std::string_view text) {
  auto c = Cidr::parse(text);
  INFO(text << ": " << (c ? "" : c.error().message()));
  REQUIRE(c);
  return *c;
}

std::string parse_error(std::string_view text) {
  auto c = Cidr::parse(text);
  INFO(text);
  REQUIRE_FALSE(c);
  CHECK(c.error().code() == portcullis::Errc::config);
  return c.error().message();
}

}  // namespace

TEST_CASE("an IPv4 CIDR contains exactly the addresses under its prefix", "[unit][proxy]") {
  const Cidr net = cidr("10.0.0.0/8");
  CHECK(net.to_string() == "10.0.0.0/8");
  CHECK(net.contains(make_address("10.0.0.0")));
  CHECK(net.contains(make_address("10.255.255.255")));
  CHECK_FALSE(net.contains(make_address("11.0.0.0")));
  CHECK_FALSE(net.contains(make_address("9.255.255.255")));

  SECTION("a prefix that is not a multiple of eight") {
    const Cidr odd = cidr("192.168.4.0/22");
    CHECK(odd.contains(make_address("192.168.7.255")));
    CHECK_FALSE(odd.contains(make_address("192.168.8.0")));
    CHECK_FALSE(odd.contains(make_address("192.168.3.255")));
  }
  SECTION("/0 contains every IPv4 address and no IPv6 one") {
    const Cidr all = cidr("0.0.0.0/0");
    CHECK(all.contains(make_address("255.255.255.255")));
    CHECK_FALSE(all.contains(make_address("2001:db8::1")));
  }
}

TEST_CASE("a bare address is a single-host CIDR", "[unit][proxy]") {
  const Cidr v4 = cidr("198.51.100.7");
  CHECK(v4.to_string() == "198.51.100.7/32");
  CHECK(v4.contains(make_address("198.51.100.7")));
  CHECK_FALSE(v4.contains(make_address("198.51.100.8")));

  const Cidr v6 = cidr("2001:db8::7");
  CHECK(v6.to_string() == "2001:db8::7/128");
  CHECK(v6.contains(make_address("2001:db8:0::7")));
  CHECK_FALSE(v6.contains(make_address("2001:db8::8")));
}

TEST_CASE("an IPv6 CIDR contains exactly the addresses under its prefix", "[unit][proxy]") {
  const Cidr net = cidr("2001:db8:1200::/40");
  CHECK(net.to_string() == "2001:db8:1200::/40");
  CHECK(net.contains(make_address("2001:db8:12ff:ffff::1")));
  CHECK_FALSE(net.contains(make_address("2001:db8:1300::")));
  CHECK_FALSE(net.contains(make_address("10.0.0.1")));
  CHECK(cidr("::/0").contains(make_address("::1")));
}

TEST_CASE("an IPv4-mapped IPv6 peer is matched as IPv4", "[unit][proxy]") {
  const Cidr v4 = cidr("203.0.113.0/24");
  CHECK(v4.contains(make_address("::ffff:203.0.113.9")));
  CHECK_FALSE(v4.contains(make_address("::ffff:203.0.114.9")));

  SECTION("and never by an IPv6 CIDR covering ::ffff:0:0/96") {
    CHECK_FALSE(cidr("::/0").contains(make_address("::ffff:203.0.113.9")));
  }
  SECTION("a CIDR written in mapped form is stored as IPv4") {
    const Cidr mapped = cidr("::ffff:10.0.0.0/104");
    CHECK(mapped.to_string() == "10.0.0.0/8");
    CHECK(mapped.contains(make_address("10.1.2.3")));
    CHECK(mapped.contains(make_address("::ffff:10.1.2.3")));
  }
}

TEST_CASE("a CIDR with host bits set is rejected with the network it probably means", "[unit][proxy]") {
  CHECK(parse_error("10.0.0.1/8") == "10.0.0.1/8: host bits set; did you mean 10.0.0.0/8?");
  CHECK(parse_error("192.168.5.0/22") == "192.168.5.0/22: host bits set; did you mean 192.168.4.0/22?");
  CHECK(parse_error("2001:db8::1/32") == "2001:db8::1/32: host bits set; did you mean 2001:db8::/32?");
}

TEST_CASE("a malformed CIDR is rejected with what was expected", "[unit][proxy]") {
  const std::string expected = "expected a CIDR such as \"10.0.0.0/8\" or \"2001:db8::/32\", got ";
  CHECK(parse_error("10.0.0/8") == expected + "\"10.0.0/8\" (not an IP address)");
  CHECK(parse_error("") == expected + "\"\"");
  CHECK(parse_error("/8") == expected + "\"/8\"");
  CHECK(parse_error("10.0.0.0/33") == expected + "\"10.0.0.0/33\" (the prefix length must be 0 to 32)");
  CHECK(parse_error("2001:db8::/129") == expected + "\"2001:db8::/129\" (the prefix length must be 0 to 128)");
  CHECK(parse_error("10.0.0.0/") == expected + "\"10.0.0.0/\" (the prefix length must be 0 to 32)");
  CHECK(parse_error("10.0.0.0/8x") == expected + "\"10.0.0.0/8x\" (the prefix length must be 0 to 32)");
  CHECK(parse_error("10.0.0.0/-1") == expected + "\"10.0.0.0/-1\" (the prefix length must be 0 to 32)");
  CHECK(parse_error(" 10.0.0.0/8") == expected + "\" 10.0.0.0/8\" (not an IP address)");
  CHECK(parse_error("example.com/8") == expected + "\"example.com/8\" (not an IP address)");
  CHECK(parse_error("fe80::1%1/128").find("zone index") != std::string::npos);
}

TEST_CASE("an empty allowlist admits every peer and a non-empty one only its members", "[unit][proxy]") {
  const Allowlist open;
  CHECK(open.open());
  CHECK(open.allows(make_address("192.0.2.1")));
  CHECK(open.allows(make_address("2001:db8::1")));

  const Allowlist list({cidr("10.0.0.0/8"), cidr("2001:db8::/32")});
  CHECK_FALSE(list.open());
  CHECK(list.allows(make_address("10.9.8.7")));
  CHECK(list.allows(make_address("::ffff:10.9.8.7")));
  CHECK(list.allows(make_address("2001:db8:ffff::1")));
  CHECK_FALSE(list.allows(make_address("192.0.2.1")));
  CHECK_FALSE(list.allows(make_address("::ffff:192.0.2.1")));
  CHECK_FALSE(list.allows(make_address("2001:db9::1")));
}
