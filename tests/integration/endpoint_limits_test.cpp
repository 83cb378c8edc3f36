// Hostile endpoints refused by the running binary: upstreams Portcullis must never connect to (the
// deny list, its own admin and DNS listeners), names that take other people's domains or the
// platform zone's own records, ids reused soon after deletion, endpoint limits, "renew now" in a
// loop, and a name that resolves to a denied address when the data plane connects.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace json = boost::json;

std::string endpoint_body(const std::string& id, const std::vector<std::string>& hostnames,
                          const std::string& upstream) {
  json::array names;
  for (const auto& h : hostnames) names.emplace_back(h);
  return json::serialize(json::object{
      {"id", id}, {"hostnames", names}, {"upstreams", json::array{upstream.c_str()}}, {"managed_https", false}});
}

// The problem's detail and every error, as one text to search.
std::string problem_text(const CurlResult& r) {
  INFO("status " << r.status << " body: " << r.body.substr(0, 600));
  auto doc = json::parse(r.body).as_object();
  std::string out(doc.at("detail").as_string());
  if (doc.contains("errors")) {
    for (const auto& e : doc.at("errors").as_array()) {
      out += fmt::format(" | {}: {}", e.at("field").as_string().c_str(), e.at("detail").as_string().c_str());
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the admin API refuses denied upstreams, public-suffix wildcards, platform names, reused ids and endpoints "
          "past the limits",
          "[integration][admin][security]") {
  UpstreamServer upstream;
  const std::uint16_t dns_port = free_port();
  FixtureOptions options;
  options.admin = true;
  options.log_level = "info";
  options.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  options.limits = {{"max_hostnames_per_endpoint", "2"}, {"max_endpoints", "3"}};
  options.extra_toml = fmt::format("[dns]\nzone = \"edge.example.net\"\nlisten = [\"127.0.0.1:{}\"]\n"
                                   "resolver = \"127.0.0.1:{}\"\n[monitor]\nenabled = false\n",
                                   dns_port, free_port());
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  auto create = [&](const std::string& id, const std::vector<std::string>& hostnames, const std::string& up) {
    return px.admin("POST", "/api/v1/endpoints", token, endpoint_body(id, hostnames, up));
  };
  auto refused = [&](const CurlResult& r, int status, const std::string& mentions) {
    INFO("status " << r.status << " body: " << r.body);
    CHECK(r.status == status);
    if (r.status == status) CHECK_THAT(problem_text(r), Catch::Contains(mentions));
  };

  SECTION("upstreams") {
    refused(create("meta", {"meta.example.com"}, "169.254.169.254:80"), 422,
            "upstreams[0]: expected an upstream Portcullis may connect to, got \"169.254.169.254:80\" (denied by "
            "169.254.0.0/16 of upstreams.deny)");
    refused(create("v6meta", {"v6meta.example.com"}, "[fd00:ec2::254]:80"), 422, "fd00:ec2::254/128");
    refused(create("admin", {"admin.example.com"}, fmt::format("127.0.0.1:{}", px.admin_port())), 422,
            fmt::format("denied by the admin listener 127.0.0.1:{}", px.admin_port()));
    refused(create("dns", {"dns.example.com"}, fmt::format("127.0.0.1:{}", dns_port)), 422,
            fmt::format("denied by the DNS listener 127.0.0.1:{}", dns_port));
    // Private ranges stay allowed: a platform's apps live there.
    CHECK(create("private", {"private.example.com"}, "10.0.0.8:8080").status == 201);
  }
  SECTION("names") {
    refused(create("wide", {"*.co.uk"}, upstream.address()), 422, "\"co.uk\" is a public suffix");
    refused(create("pages", {"*.github.io"}, upstream.address()), 422, "public suffix");
    refused(create("tld", {"com"}, upstream.address()), 422, "a public suffix");
    refused(create("zone", {"edge.example.net"}, upstream.address()), 422, "the platform zone itself");
    refused(create("zonewild", {"*.edge.example.net"}, upstream.address()), 422, "the platform zone's wildcard");
    refused(create("nameserver", {"ns1.edge.example.net"}, upstream.address()), 422, "a name server");
    refused(create("steal", {"app.edge.example.net"}, upstream.address()), 422, "platform name of endpoint \"app\"");
    refused(create("steal", {"acme.app.edge.example.net"}, upstream.address()), 422,
            "platform name of endpoint \"app\"");
    refused(create("many", {"a.example.com", "b.example.com", "c.example.com"}, upstream.address()), 422,
            "at most 2 hostnames (limits.max_hostnames_per_endpoint)");
    // A plain name inside the zone that collides with nothing is allowed.
    CHECK(create("inzone", {"shop.edge.example.net"}, upstream.address()).status == 201);
  }
  SECTION("a deleted id is not given out again, and the endpoint count is capped") {
    REQUIRE(create("shop", {"shop.example.com"}, upstream.address()).status == 201);
    REQUIRE(px.admin("DELETE", "/api/v1/endpoints/shop", token).status == 204);
    refused(create("shop", {"shop.example.com"}, upstream.address()), 409, "can be used again from");
    refused(create("adopt", {"shop.edge.example.net"}, upstream.address()), 422, "deleted less than 30 days ago");
    REQUIRE(create("one", {"one.example.com"}, upstream.address()).status == 201);
    REQUIRE(create("two", {"two.example.com"}, upstream.address()).status == 201);
    refused(create("three", {"three.example.com"}, upstream.address()), 422, "limits.max_endpoints");
  }
  SECTION("renew now twice within a minute") {
    CHECK(px.admin("POST", "/api/v1/endpoints/app/renew", token).status == 409);  // no managed certificate
    auto again = px.admin("POST", "/api/v1/endpoints/app/renew", token);
    refused(again, 429, "ask again in");
    const auto retry = again.header("retry-after");
    REQUIRE(retry);
    const int seconds = std::stoi(*retry);
    CHECK(seconds >= 1);
    CHECK(seconds <= 60);
  }
}

TEST_CASE("an upstream name that resolves to a denied address is never connected to: 502", "[integration][security]") {
  UpstreamServer upstream;
  FixtureOptions options;
  options.log_level = "info";
  // "localhost" resolves to 127.0.0.1 (/etc/hosts), which this deny list refuses.
  options.endpoints = {{"app", {"app.example.com"}, {fmt::format("localhost:{}", upstream.port())}}};
  options.extra_toml = "[upstreams]\ndeny = [\"127.0.0.1/32\", \"::1/128\"]\n";
  PortcullisFixture px(options);

  auto denied = px.curl("app.example.com", "/");
  CHECK(denied.status == 502);
  CHECK(upstream.connection_count() == 0);
  CHECK(px.log().find("upstream address denied upstream=\"localhost:") != std::string::npos);
  CHECK(px.log().find("address=127.0.0.1 rule=\"127.0.0.1/32 of upstreams.deny\"") != std::string::npos);

  // The same name, allowed again by a reload: the check is made at each connect, not once.
  options.extra_toml = "[upstreams]\ndeny = []\n";
  px.rewrite_config(options);
  REQUIRE(px.reload() == ReloadOutcome::applied);
  CHECK(px.curl("app.example.com", "/").status == 200);
  CHECK(upstream.connection_count() >= 1);
}
