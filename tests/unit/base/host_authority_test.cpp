#include "base/host_authority.hpp"

#include <catch2/catch.hpp>

using namespace portcullis::base;

TEST_CASE("a Host is a name or an IP literal with an optional port of 1 to 65535", "[unit][base][host]") {
  struct Good {
    const char* text;
    const char* host;
    std::uint16_t port;
    HostKind kind;
    const char* canonical;
  };
  const Good good[] = {
      {"app.example.com", "app.example.com", 0, HostKind::name, "app.example.com"},
      {"App.Example.COM.", "app.example.com", 0, HostKind::name, "app.example.com"},
      {"app.example.com:8443", "app.example.com", 8443, HostKind::name, "app.example.com:8443"},
      {"app.example.com:1", "app.example.com", 1, HostKind::name, "app.example.com:1"},
      {"app.example.com:65535", "app.example.com", 65535, HostKind::name, "app.example.com:65535"},
      {"localhost", "localhost", 0, HostKind::name, "localhost"},
      {"under_score.example", "under_score.example", 0, HostKind::name, "under_score.example"},
      {"192.0.2.1:80", "192.0.2.1", 80, HostKind::ipv4, "192.0.2.1:80"},
      {"[2001:DB8:0:0::1]:443", "2001:db8::1", 443, HostKind::ipv6, "[2001:db8::1]:443"},
      {"[::1]", "::1", 0, HostKind::ipv6, "[::1]"},
  };
  for (const auto& g : good) {
    INFO(g.text);
    const auto parsed = parse_host_authority(g.text);
    REQUIRE(parsed);
    CHECK(parsed->host == g.host);
    CHECK(parsed->port == g.port);
    CHECK(parsed->kind == g.kind);
    CHECK(parsed->text() == g.canonical);
  }

  const char* bad[] = {
      "",
      "app.example.com:1\",for=6.6.6.6",  // would break out of Forwarded
      "app.example.com,for=6.6.6.6",      // sub-delims: a reg-name in RFC 3986, never a DNS name
      "app.example.com;proto=http",
      "app%2eexample.com",
      "app.example.com:0",
      "app.example.com:65536",
      "app.example.com:99999999999",
      "app.example.com:http",
      "app.example.com:",
      "app.example.com:80:80",
      "user@app.example.com",
      "2001:db8::1",
      "[2001:db8::1",
      "[v1.fe]",
      "[fe80::1%25eth0]",
      "a b",
      "evil/path",
      "app..example.com",
      ".app.example.com",
      "app.example.com..",
      "\"app.example.com\"",
      "app.example.com\\",
  };
  for (const char* text : bad) {
    INFO(text);
    std::string_view why;
    CHECK(!parse_host_authority(text, &why));
    CHECK(!why.empty());
  }
  CHECK(!parse_host_authority(std::string(64, 'a') + ".example.com"));
  CHECK(parse_host_authority(std::string(63, 'a') + ".example.com"));
  std::string long_name;
  while (long_name.size() < 260) long_name += "abcdefghi.";
  CHECK(!parse_host_authority(long_name));
}
