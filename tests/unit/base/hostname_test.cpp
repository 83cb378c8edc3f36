#include "base/hostname.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace portcullis::base;

TEST_CASE("host names normalise to lower case ASCII without one trailing dot", "[unit][base]") {
  struct Row {
    std::string_view in, out;
  };
  const std::vector<Row> rows = {
      {"App.Example.COM.", "app.example.com"},
      {"app.example.com", "app.example.com"},
      {"*.Apps.Example.com", "*.apps.example.com"},
      {"a.example.com..", "a.example.com."},  // one dot only: the second stays and fails validation
      {"", ""},
      {".", ""},
      {"\xc3\x84.example", "\xc3\x84.example"},  // bytes above ASCII are left alone
  };
  std::string reused;
  for (const auto& row : rows) {
    INFO("input: " << row.in);
    CHECK(normalize_hostname(row.in) == row.out);
    normalize_hostname_into(reused, row.in);
    CHECK(reused == row.out);
    const LowerHost lowered(row.in);
    REQUIRE(lowered.ok());
    CHECK(lowered.view() == row.out);
  }
}

TEST_CASE("normalising into a kept string reuses its capacity", "[unit][base]") {
  std::string out;
  out.reserve(64);
  const auto* data = out.data();
  normalize_hostname_into(out, "Some.Rather.Long.Host.Name.Example.COM.");
  CHECK(out == "some.rather.long.host.name.example.com");
  CHECK(out.data() == data);
}

TEST_CASE("a lower-cased view copies only names that need it and refuses names past 255 octets", "[unit][base]") {
  const std::string already = "app.example.com";
  const LowerHost same(already);
  CHECK(same.view().data() == already.data());
  const LowerHost upper("App.example.com");
  CHECK(upper.view() == "app.example.com");
  CHECK_FALSE(LowerHost(std::string(256, 'a')).ok());
  CHECK(LowerHost(std::string(255, 'a') + ".").ok());
}

TEST_CASE("host names are RFC 1123 names, not IP addresses, with at most a leftmost wildcard", "[unit][base]") {
  struct Row {
    std::string name;
    std::optional<std::string> problem;
  };
  std::string too_long;
  for (int i = 0; i < 64; ++i) too_long += "abc.";
  too_long += "com";
  const std::vector<Row> rows = {
      {"app.example.com", std::nullopt},
      {"localhost", std::nullopt},
      {"xn--bcher-kva.example", std::nullopt},
      {"7.example.com", std::nullopt},
      {"a-b.example.com", std::nullopt},
      {"*.apps.example.com", std::nullopt},
      {"*.example.com", std::nullopt},
      {std::string(63, 'a') + ".com", std::nullopt},
      {"", "empty"},
      {"a..example.com", "empty label"},
      {".example.com", "empty label"},
      {"a.example.com.", "empty label"},
      {"127.0.0.1", "an IP address is not a hostname"},
      {"::1", "an IP address is not a hostname"},
      {"a.b.123", "the last label may not be all digits"},
      {"1.2.3", "the last label may not be all digits"},
      {too_long, "longer than 253 characters"},
      {std::string(64, 'a') + ".com", "a label is longer than 63 characters"},
      {"bad_name.example.com", "character \"_\" is not allowed in a hostname"},
      {"App.example.com", "character \"A\" is not allowed in a hostname"},  // not normalised
      {"-a.example.com", "a label may not start or end with \"-\""},
      {"a-.example.com", "a label may not start or end with \"-\""},
      {"*foo.example.com", "a wildcard \"*\" must be the whole leftmost label"},
      {"a.*.example.com", "a wildcard \"*\" must be the whole leftmost label"},
      {"*.*.example.com", "a wildcard \"*\" must be the whole leftmost label"},
      {"*.com", "a wildcard needs at least two labels after \"*.\""},
      {"*", "a wildcard needs at least two labels after \"*.\""},
  };
  for (const auto& row : rows) {
    INFO("name: " << row.name);
    CHECK(hostname_problem(row.name) == row.problem);
  }
}

TEST_CASE("a wildcard covers exactly one extra label", "[unit][base]") {
  struct Row {
    std::string_view pattern, host;
    bool matches;
  };
  const std::vector<Row> rows = {
      {"app.example.com", "app.example.com", true},
      {"app.example.com", "other.example.com", false},
      {"*.example.com", "a.example.com", true},
      {"*.example.com", "example.com", false},
      {"*.example.com", "a.b.example.com", false},
      {"*.example.com", ".example.com", false},
      {"*.example.com", "a.example.org", false},
      {"*.", "a.", false},
  };
  for (const auto& row : rows) {
    INFO(row.pattern << " vs " << row.host);
    CHECK(name_matches(row.pattern, row.host) == row.matches);
  }
  CHECK(is_wildcard("*.example.com"));
  CHECK_FALSE(is_wildcard("example.com"));
  CHECK(parent_of("a.example.com") == "example.com");
  CHECK(parent_of("localhost").empty());
  CHECK(parent_of(".example.com").empty());
}

TEST_CASE("IP literals are told apart from host names", "[unit][base]") {
  CHECK(is_ip_address("10.0.0.1"));
  CHECK(is_ip_address("2001:db8::1"));
  CHECK_FALSE(is_ip_address("10.0.0"));
  CHECK_FALSE(is_ip_address("app.example.com"));
  CHECK_FALSE(is_ip_address(""));
}
