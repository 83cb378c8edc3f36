#include "admin/router.hpp"

#include <catch2/catch.hpp>

#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "admin/admin_api.hpp"
#include "admin/problem.hpp"
#include "tests/unit/acme/memory_storage.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace portcullis::admin;
using verb = boost::beast::http::verb;

Handler nothing() {
  return [](const Request& req, const RouteParams&) -> asio::awaitable<Response> { co_return Response{}; };
}

}  // namespace

TEST_CASE("the router matches literal and parameter segments and lists the methods of a path", "[unit][admin]") {
  Router router;
  router.add(verb::get, "/api/v1/endpoints", true, nothing());
  router.add(verb::post, "/api/v1/endpoints", true, nothing());
  router.add(verb::get, "/api/v1/endpoints/{id}", true, nothing());
  router.add(verb::delete_, "/api/v1/endpoints/{id}", true, nothing());
  router.add(verb::put, "/api/v1/endpoints/{id}/transitional-certificate", true, nothing());
  router.add(verb::get, "/healthz", false, nothing());

  SECTION("a parameter takes one whole segment") {
    auto m = router.match(verb::get, "/api/v1/endpoints/ep-1");
    REQUIRE(m.route);
    CHECK(m.route->pattern == "/api/v1/endpoints/{id}");
    CHECK(m.params["id"] == "ep-1");
    auto deeper = router.match(verb::put, "/api/v1/endpoints/ep-1/transitional-certificate");
    REQUIRE(deeper.route);
    CHECK(deeper.params["id"] == "ep-1");
  }
  SECTION("the same path with another method: 405 with the methods it has") {
    auto m = router.match(verb::patch, "/api/v1/endpoints");
    CHECK_FALSE(m.route);
    CHECK(allow_header(m.allowed) == "GET, HEAD, POST");
    CHECK(allow_header(router.match(verb::put, "/api/v1/endpoints/x").allowed) == "GET, HEAD, DELETE");
  }
  SECTION("no such path: nothing allowed (404)") {
    for (const char* path : {"/api/v1/endpoints/", "/api/v1/endpoints/x/y", "/api/v1", "/", "", "healthz",
                             "/api/v1/endpoints//transitional-certificate", "/HEALTHZ"}) {
      INFO(path);
      auto m = router.match(verb::get, path);
      CHECK_FALSE(m.route);
      CHECK(m.allowed.empty());
    }
  }
  SECTION("whether a token is needed is the route's") {
    CHECK_FALSE(router.match(verb::get, "/healthz").route->needs_token);
    CHECK(router.match(verb::get, "/api/v1/endpoints").route->needs_token);
  }
}

TEST_CASE("a problem document has type, title, status, detail and, for validation, each field", "[unit][admin]") {
  ProblemDetails p;
  p.status = boost::beast::http::status::not_found;
  p.detail = "no endpoint with id \"x\"";
  auto doc = to_json(p);
  CHECK(doc.at("type") == "about:blank");
  CHECK(doc.at("title") == "Not Found");
  CHECK(doc.at("status") == 404);
  CHECK(doc.at("detail") == "no endpoint with id \"x\"");
  CHECK_FALSE(doc.contains("errors"));
  auto res = problem_response(p, 11, true);
  CHECK(res[boost::beast::http::field::content_type] == "application/problem+json");
  CHECK(json::parse(res.body()).as_object() == doc);

  portcullis::control::ChangeError invalid{portcullis::Errc::invalid_input, "2 problems",
                                           {{"hostnames[1]", "expected a hostname"}, {"upstreams", "required"}}};
  auto v = to_json(from_change_error(invalid));
  CHECK(v.at("status") == 422);
  CHECK(v.at("type") == "urn:portcullis:problem:validation");
  REQUIRE(v.at("errors").as_array().size() == 2);
  CHECK(v.at("errors").as_array()[0] == json::object{{"field", "hostnames[1]"}, {"detail", "expected a hostname"}});

  portcullis::control::ChangeError read_only{portcullis::Errc::conflict, "from the file", {}, true};
  auto r = to_json(from_change_error(read_only));
  CHECK(r.at("status") == 409);
  CHECK(r.at("type") == "urn:portcullis:problem:read-only");
  CHECK(to_json(from_change_error({portcullis::Errc::not_found, "none", {}})).at("status") == 404);
  CHECK(to_json(from_change_error({portcullis::Errc::storage, "disk", {}})).at("status") == 500);
}

TEST_CASE("the OpenAPI document describes exactly the routes the router has", "[unit][admin]") {
  asio::io_context io;
  portcullis::testing::MemoryStorage storage;
  portcullis::base::BlockingPool pool;
  portcullis::control::EndpointService endpoints(storage, pool, io.get_executor());
  portcullis::certstore::CertRegistry registry;
  portcullis::control::CertCatalog catalog(io, storage, pool, registry);
  portcullis::control::TransitionalCertificates transitional(storage, pool, catalog);
  portcullis::certstore::ChallengeBoard challenges;
  portcullis::control::CertificateManager certificates(io, storage, pool, challenges, catalog);
  portcullis::control::CertTimeline timeline(storage, pool);
  AdminApi api({endpoints, transitional, certificates, catalog, timeline, pool, [] { return std::optional<DnsSettings>(); },
                [] { return true; }});

  auto doc = json::parse(openapi_document()).as_object();
  CHECK(doc.at("openapi").as_string().starts_with("3.1"));
  std::set<std::string> documented, routed, open_documented, open_routed;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [key, op] : item.as_object()) {
      if (key == "parameters") continue;
      std::string method(key);
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const std::string route = method + " " + std::string(path);
      documented.insert(route);
      const auto* security = op.as_object().if_contains("security");
      if (security && security->as_array().empty()) open_documented.insert(route);
    }
  }
  for (const auto& r : api.router().routes()) {
    const std::string route = std::string(boost::beast::http::to_string(r.method)) + " " + r.pattern;
    routed.insert(route);
    if (!r.needs_token) open_routed.insert(route);
  }
  CHECK(documented == routed);
  CHECK(open_documented == open_routed);
}
