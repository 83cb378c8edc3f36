#include "domain/endpoint.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace portcullis::domain;

namespace {

EndpointSpec spec(std::string id, std::vector<std::string> hostnames,
                  std::vector<std::string> upstreams = {"127.0.0.1:3000"}) {
  EndpointSpec s;
  s.id = std::move(id);
  s.hostnames = std::move(hostnames);
  s.upstreams = std::move(upstreams);
  return s;
}

std::vector<std::string> texts(const std::vector<Problem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.text());
  return out;
}

std::vector<std::string> problems_of(const EndpointSpec& s) { return texts(validate(s).problems); }

}  // namespace

TEST_CASE("a valid endpoint becomes its config with the hostnames normalised", "[unit][domain]") {
  EndpointSpec s = spec("elb-1234", {"App.Example.COM.", "*.Apps.example.com", "localhost"},
                        {"app.internal:8080", "[fd00::1]:443"});
  s.scope = Scope::internal;
  s.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
  s.managed_https = false;
  const EndpointCheck check = validate(s);
  REQUIRE(check.ok());
  const EndpointConfig& e = check.endpoint;
  CHECK(e.id == "elb-1234");
  CHECK(e.hostnames == std::vector<std::string>{"app.example.com", "*.apps.example.com", "localhost"});
  CHECK(check.hostname_items == std::vector<std::size_t>{0, 1, 2});
  CHECK(e.scope == Scope::internal);
  REQUIRE(e.upstreams.size() == 2);
  CHECK(e.upstreams[1].to_string() == "[fd00::1]:443");
  REQUIRE(e.ip_allowlist.size() == 2);
  CHECK(e.ip_allowlist[1].to_string() == "2001:db8::/32");
  CHECK_FALSE(e.managed_https);
}

TEST_CASE("each field's problem is reported at its path", "[unit][domain]") {
  const std::string id_expected =
      "id: expected an id of 1 to 63 characters a-z, 0-9 and \"-\" (not first or last), got ";
  const std::string host_expected =
      "hostnames[1]: expected a hostname such as \"app.example.com\" or \"*.example.com\", got ";
  struct Row {
    EndpointSpec spec;
    std::string problem;
  };
  const auto with = [](auto change) {
    EndpointSpec s = spec("a", {"ok.example.com"});
    change(s);
    return s;
  };
  const std::vector<Row> rows = {
      {spec("Demo", {"a.example.com"}), id_expected + "\"Demo\""},
      {spec("-a", {"a.example.com"}), id_expected + "\"-a\""},
      {spec("a_b", {"a.example.com"}), id_expected + "\"a_b\""},
      {spec("", {"a.example.com"}), id_expected + "\"\""},
      {spec(std::string(64, 'a'), {"a.example.com"}), id_expected + "\"" + std::string(64, 'a') + "\""},
      {with([](auto& s) { s.id.reset(); }),
       "id: expected an id of 1 to 63 characters a-z, 0-9 and \"-\" (not first or last), got nothing (the key is "
       "required)"},
      {spec("a", {"ok.example.com", "a..b"}), host_expected + "\"a..b\" (empty label)"},
      {spec("a", {"ok.example.com", "A..b"}), host_expected + "\"A..b\" (empty label)"},
      {spec("a", {"ok.example.com", "127.0.0.1"}), host_expected + "\"127.0.0.1\" (an IP address is not a hostname)"},
      {spec("a", {"ok.example.com", "*.com"}),
       host_expected + "\"*.com\" (a wildcard needs at least two labels after \"*.\")"},
      {spec("a", {"*.a.example.com", "*.b.example.com"}),
       "hostnames[1]: expected at most one wildcard hostname per endpoint, got \"*.b.example.com\" (the other is "
       "\"*.a.example.com\")"},
      {spec("a", {}), "hostnames: expected at least one hostname, got an empty array"},
      {with([](auto& s) { s.hostnames.reset(); }),
       "hostnames: expected an array of hostnames, got nothing (the key is required)"},
      {spec("a", {"a.example.com"}, {}), "upstreams: expected at least one \"host:port\", got an empty array"},
      {with([](auto& s) { s.upstreams.reset(); }),
       "upstreams: expected an array of \"host:port\", got nothing (the key is required)"},
      {spec("a", {"a.example.com"}, {"app:0"}),
       "upstreams[0]: expected \"host:port\", got \"app:0\" (the port must be 1 to 65535)"},
      {with([](auto& s) { s.ip_allowlist = {"10.0.0.0/8", "10.0.0.1/8"}; }),
       "ip_allowlist[1]: 10.0.0.1/8: host bits set; did you mean 10.0.0.0/8?"},
      {with([](auto& s) { s.ip_allowlist = {"any"}; }),
       "ip_allowlist[0]: expected a CIDR such as \"10.0.0.0/8\" or \"2001:db8::/32\", got \"any\" (not an IP "
       "address)"},
  };
  for (const auto& row : rows) {
    INFO(row.problem);
    CHECK(problems_of(row.spec) == std::vector<std::string>{row.problem});
  }
}

TEST_CASE("every problem of an endpoint is reported at once, in field order", "[unit][domain]") {
  EndpointSpec s = spec("A", {"a..b", "ok.example.com", "bad_name"}, {"app", "10.0.0.1:80"});
  s.ip_allowlist = {"10.0.0.1/8"};
  const EndpointCheck check = validate(s);
  CHECK(texts(check.problems) ==
        std::vector<std::string>{
            "id: expected an id of 1 to 63 characters a-z, 0-9 and \"-\" (not first or last), got \"A\"",
            "hostnames[0]: expected a hostname such as \"app.example.com\" or \"*.example.com\", got \"a..b\" "
            "(empty label)",
            "hostnames[2]: expected a hostname such as \"app.example.com\" or \"*.example.com\", got \"bad_name\" "
            "(character \"_\" is not allowed in a hostname)",
            "upstreams[0]: expected \"host:port\", got \"app\"",
            "ip_allowlist[0]: 10.0.0.1/8: host bits set; did you mean 10.0.0.0/8?",
        });
  // What passed is kept, with where each hostname came from.
  CHECK(check.endpoint.hostnames == std::vector<std::string>{"ok.example.com"});
  CHECK(check.hostname_items == std::vector<std::size_t>{1});
}

TEST_CASE("across endpoints, ids are unique and a hostname belongs to one endpoint", "[unit][domain]") {
  const auto together = [](std::vector<EndpointSpec> specs) {
    std::vector<EndpointCheck> checks;
    for (const auto& s : specs) checks.push_back(validate(s));
    std::vector<std::string> out;
    for (const auto& p : validate_together(checks)) out.push_back(list_path(p.place) + ": " + p.message);
    return out;
  };
  CHECK(together({spec("web", {"app.example.com"}), spec("api", {"api.example.com"})}).empty());
  CHECK(together({spec("a", {"a.example.com"}), spec("a", {"b.example.com"})}) ==
        std::vector<std::string>{"endpoint[1].id: expected a unique endpoint id, got \"a\" (also endpoint[0].id)"});
  CHECK(together({spec("web", {"app.example.com"}), spec("api", {"api.example.com", "APP.example.com."})}) ==
        std::vector<std::string>{"endpoint[1].hostnames[1]: \"app.example.com\" belongs to endpoint \"web\" and to "
                                 "endpoint \"api\" (endpoint[0].hostnames[0]); a hostname may belong to only one "
                                 "endpoint"});
  CHECK(together({spec("a", {"a.example.com", "A.example.com"})}) ==
        std::vector<std::string>{"endpoint[0].hostnames[1]: \"a.example.com\" is listed twice in endpoint \"a\" "
                                 "(also endpoint[0].hostnames[0])"});
  // An invalid hostname before the duplicate: the problem keeps the duplicate's own index.
  CHECK(together({spec("web", {"app.example.com"}), spec("", {"a..b", "app.example.com"})}) ==
        std::vector<std::string>{"endpoint[1].hostnames[1]: \"app.example.com\" belongs to endpoint \"web\" and to "
                                 "endpoint endpoint[1] (endpoint[0].hostnames[0]); a hostname may belong to only "
                                 "one endpoint"});
  // An invalid id is not compared; the wildcard is a name like the others.
  CHECK(together({spec("A", {"*.example.com"}), spec("A", {"*.example.com"})}) ==
        std::vector<std::string>{"endpoint[1].hostnames[0]: \"*.example.com\" is listed twice in endpoint \"A\" "
                                 "(also endpoint[0].hostnames[0])"});
}

TEST_CASE("a reader may cite other places in its own terms", "[unit][domain]") {
  std::vector<EndpointCheck> checks{validate(spec("a", {"a.example.com"})), validate(spec("a", {"b.example.com"}))};
  const auto problems = validate_together(checks, [](const Place& p) { return "[[endpoint]] #" +
                                                                              std::to_string(p.endpoint + 1); });
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "expected a unique endpoint id, got \"a\" (also [[endpoint]] #1)");
}
