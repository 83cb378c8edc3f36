// The admin REST API seen from outside: the real binary with [admin] on a free port, driven by
// curl. Every route without a token, with a wrong one and with the right one; the problem
// documents for bad input; an endpoint created through the API served at once (TLS to its
// upstream), kept across a restart and withdrawn when deleted; the configuration file's
// endpoints read-only; the token in no log line; an endpoint's DNS records checked live (Knot
// behind Unbound).
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/support/knot.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/unbound.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace json = boost::json;

FixtureOptions admin_options(const StandardCerts& certs, const UpstreamServer& upstream) {
  FixtureOptions o;
  o.admin = true;
  o.log_level = "info";
  o.default_cert = certs.default_cert;
  o.certificates = {certs.app, certs.api};
  o.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  return o;
}

json::object json_of(const CurlResult& r) {
  INFO("status " << r.status << " body: " << r.body.substr(0, 600));
  auto v = json::parse(r.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

bool is_problem(const CurlResult& r, int status) {
  auto type = r.header("content-type");
  if (r.status != status || !type || type->find("application/problem+json") != 0) return false;
  auto doc = json::parse(r.body).as_object();
  return doc.at("status").as_int64() == status && doc.contains("type") && doc.contains("title") &&
         doc.contains("detail");
}

// The fields of a problem's errors array, in order.
std::vector<std::string> error_fields(const CurlResult& r) {
  std::vector<std::string> out;
  auto doc = json_of(r);
  if (!doc.contains("errors")) return out;
  for (const auto& e : doc.at("errors").as_array()) out.emplace_back(e.as_object().at("field").as_string());
  return out;
}

std::string api_endpoint_body(const UpstreamServer& upstream, const std::string& id = "") {
  json::object body{{"hostnames", json::array{"api.example.com"}}, {"upstreams", json::array{upstream.address()}},
                    {"managed_https", false}};
  if (!id.empty()) body["id"] = id;
  return json::serialize(body);
}

// Sends `bytes` to 127.0.0.1:`port` and returns all it answers until it closes; each read waits at
// most `read_deadline`.
std::string exchange(std::uint16_t port, std::string_view bytes) {
  constexpr timeval read_deadline{5, 0};
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &read_deadline, sizeof read_deadline);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buf[4096];
    for (std::size_t reads = 0; reads < 1024; ++reads) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("HEAD gets a GET route's header and no body, and /favicon.ico is a 404 without a token",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(admin_options(certs, upstream));
  const std::string token = px.admin_token();

  // Pipelined: if the HEAD answer carried a body, the GET's status line would not follow its header.
  // (Host: the listen address, one of [admin] allowed_hosts' defaults.)
  const std::string host = fmt::format("127.0.0.1:{}", px.admin_port());
  const std::string answer = exchange(px.admin_port(),
                                      "HEAD /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
                                      "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
  INFO(answer);
  const auto head_end = answer.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  const std::string head = answer.substr(0, head_end);
  CHECK(head.starts_with("HTTP/1.1 200"));
  CHECK(answer.substr(head_end + 4).starts_with("HTTP/1.1 200"));
  const auto get_head_end = answer.find("\r\n\r\n", head_end + 4);
  REQUIRE(get_head_end != std::string::npos);
  const std::string get_content = answer.substr(get_head_end + 4);
  CHECK(get_content.starts_with(R"({"status":"ok"})"));
  // The GET's Content-Length, in the HEAD's header.
  CHECK((head + "\r\n").find(fmt::format("Content-Length: {}\r\n", get_content.size())) != std::string::npos);

  // Behind the token like its GET.
  CHECK(px.admin("HEAD", "/api/v1/endpoints", token, {}, {"--head"}).status == 200);
  CHECK(px.admin("HEAD", "/api/v1/endpoints", std::nullopt, {}, {"--head"}).status == 401);
  auto page = px.admin("HEAD", "/", std::nullopt, {}, {"--head"});
  CHECK(page.status == 200);
  CHECK(page.header("content-security-policy").has_value());

  auto icon = px.admin("GET", "/favicon.ico", std::nullopt);
  CHECK(is_problem(icon, 404));
  CHECK(!icon.header("www-authenticate").has_value());
  // Any other unknown path still asks for the token first.
  CHECK(is_problem(px.admin("GET", "/favicon.png", std::nullopt), 401));
}

TEST_CASE("every admin route needs the bearer token but the health checks", "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(admin_options(certs, upstream));
  const std::string token = px.admin_token();
  REQUIRE(token.size() == 43);  // 32 bytes, base64url without padding
  CHECK(file_mode(px.data_dir() / "admin-token") == 0600);

  CHECK(px.admin("GET", "/healthz", std::nullopt).status == 200);
  CHECK(json_of(px.admin("GET", "/readyz", std::nullopt)).at("status") == "ready");

  struct Call {
    std::string method, path, body;
    int ok_status;
  };
  const std::vector<Call> calls = {
      {"GET", "/api/v1/openapi.json", "", 200},
      {"GET", "/api/v1/endpoints", "", 200},
      {"POST", "/api/v1/endpoints", api_endpoint_body(upstream, "api"), 201},
      {"GET", "/api/v1/endpoints/api", "", 200},
      {"PATCH", "/api/v1/endpoints/api", R"({"managed_https": false})", 200},
      {"DELETE", "/api/v1/endpoints/api", "", 204},
  };
  for (const auto& call : calls) {
    INFO(call.method << " " << call.path);
    auto none = px.admin(call.method, call.path, std::nullopt, call.body);
    CHECK(is_problem(none, 401));
    CHECK(none.header("www-authenticate").value_or("").find("Bearer") == 0);
    auto wrong = px.admin(call.method, call.path, token.substr(1) + "x", call.body);
    CHECK(is_problem(wrong, 401));
    CHECK(wrong.header("www-authenticate").value_or("").find("invalid_token") != std::string::npos);
    auto right = px.admin(call.method, call.path, token, call.body);
    CHECK(right.status == call.ok_status);
  }
  SECTION("unknown routes and methods are problems too, behind the token") {
    CHECK(is_problem(px.admin("GET", "/api/v1/nothing", std::nullopt), 401));
    CHECK(is_problem(px.admin("GET", "/api/v1/nothing", token), 404));
    auto put = px.admin("PUT", "/api/v1/endpoints", token);
    CHECK(is_problem(put, 405));
    CHECK(put.header("allow") == std::optional<std::string>("GET, HEAD, POST"));
  }
  const auto log = px.log();
  CHECK(log.find(token) == std::string::npos);
  CHECK(log.find("admin API listening") != std::string::npos);
}

TEST_CASE("the admin API answers bad requests with problem documents naming each field", "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(admin_options(certs, upstream));
  const std::string token = px.admin_token();

  SECTION("bad JSON") {
    auto r = px.admin("POST", "/api/v1/endpoints", token, R"({"hostnames": [)");
    CHECK(is_problem(r, 400));
    CHECK(json_of(r).at("detail").as_string().starts_with("invalid JSON at byte"));
    CHECK(is_problem(px.admin("POST", "/api/v1/endpoints", token, "[1]"), 400));
  }
  SECTION("not JSON at all") {
    CHECK(is_problem(px.admin("POST", "/api/v1/endpoints", token, "", {"-H", "Content-Type: text/plain", "-d", "x"}),
                     415));
  }
  SECTION("unknown fields, each named") {
    auto r = px.admin("POST", "/api/v1/endpoints", token,
                      R"({"hostnames": ["x.example.com"], "upstreams": ["127.0.0.1:1"], "colour": 1, "tls": {}})");
    CHECK(is_problem(r, 422));
    CHECK(error_fields(r) == std::vector<std::string>{"colour", "tls"});
    CHECK(json_of(r).at("errors").as_array()[0].as_object().at("detail").as_string().starts_with("unknown field"));
  }
  SECTION("wrong types and broken rules, every one with its path") {
    auto r = px.admin("POST", "/api/v1/endpoints", token,
                      R"({"id": "Bad_Id", "hostnames": ["ok.example.com", "a..b"], "scope": "public",
                          "upstreams": ["nohost"], "ip_allowlist": ["10.0.0.1/8"], "managed_https": "yes"})");
    CHECK(is_problem(r, 422));
    // The wrong types, then the endpoint rules on what could be read: every problem at once.
    CHECK(error_fields(r) == std::vector<std::string>{"scope", "managed_https", "id", "hostnames[1]", "upstreams[0]",
                                                      "ip_allowlist[0]"});
    auto rules = px.admin("POST", "/api/v1/endpoints", token,
                          R"({"id": "Bad_Id", "hostnames": ["ok.example.com", "a..b"],
                              "upstreams": ["nohost"], "ip_allowlist": ["10.0.0.1/8"]})");
    CHECK(is_problem(rules, 422));
    CHECK(error_fields(rules) == std::vector<std::string>{"id", "hostnames[1]", "upstreams[0]", "ip_allowlist[0]"});
    auto missing = px.admin("POST", "/api/v1/endpoints", token, R"({"hostnames": ["ok.example.com"]})");
    CHECK(error_fields(missing) == std::vector<std::string>{"upstreams"});
  }
  SECTION("a hostname of another endpoint, and an id that exists") {
    auto r = px.admin("POST", "/api/v1/endpoints", token,
                      R"({"hostnames": ["app.example.com"], "upstreams": ["127.0.0.1:1"]})");
    CHECK(is_problem(r, 422));
    CHECK(error_fields(r) == std::vector<std::string>{"hostnames[0]"});
    CHECK(json_of(r).at("errors").as_array()[0].as_object().at("detail").as_string().find("\"app\"") !=
          std::string::npos);
    auto same_id = px.admin("POST", "/api/v1/endpoints", token, api_endpoint_body(upstream, "app"));
    CHECK(is_problem(same_id, 409));
  }
  SECTION("an oversized body is refused before it is read") {
    std::string big = R"({"hostnames": [")" + std::string(2 * 1024 * 1024, 'a') + R"("]})";
    auto r = px.admin("POST", "/api/v1/endpoints", token, big);
    CHECK(is_problem(r, 413));
  }
  SECTION("the configuration file's endpoints are listed read-only and cannot be changed here") {
    auto list = json_of(px.admin("GET", "/api/v1/endpoints", token));
    REQUIRE(list.at("endpoints").as_array().size() == 1);
    CHECK(list.at("endpoints").as_array()[0].as_object().at("read_only") == true);
    auto patch = px.admin("PATCH", "/api/v1/endpoints/app", token, R"({"managed_https": true})");
    CHECK(is_problem(patch, 409));
    CHECK(json_of(patch).at("detail").as_string().find("configuration file") != std::string::npos);
    CHECK(is_problem(px.admin("DELETE", "/api/v1/endpoints/app", token), 409));
    CHECK(is_problem(px.admin("GET", "/api/v1/endpoints/none", token), 404));
  }
}

TEST_CASE("an endpoint created through the admin API is served at once, survives a restart and goes when deleted",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  TempDir data("portcullis-admin-data");
  auto options = admin_options(certs, upstream);
  options.data_dir = data.path();
  std::string id;
  {
    PortcullisFixture px(options);
    const std::string token = px.admin_token();
    CHECK(px.curl("api.example.com", "/before").status == 404);
    auto created = px.admin("POST", "/api/v1/endpoints", token, api_endpoint_body(upstream));
    REQUIRE(created.status == 201);
    auto body = json_of(created);
    id = std::string(body.at("id").as_string());
    CHECK(id.starts_with("ep-"));
    CHECK(id.size() == 11);
    CHECK(created.header("location") == std::optional<std::string>("/api/v1/endpoints/" + id));
    CHECK(body.at("read_only") == false);
    // Served at once: TLS with the api certificate, proxied to the upstream.
    auto served = px.curl("api.example.com", "/after-create", {"--cacert", certs.ca.cert().string()});
    CHECK(served.status == 200);
    CHECK(served.body.find("/after-create") != std::string::npos);
    auto patched = px.admin("PATCH", "/api/v1/endpoints/" + id, token,
                            R"({"hostnames": ["api.example.com", "multi.example.com"]})");
    REQUIRE(patched.status == 200);
    CHECK(json_of(patched).at("hostnames").as_array().size() == 2);
    CHECK(px.curl("multi.example.com", "/patched").status == 200);
    REQUIRE(px.stop() == std::optional<int>(0));
  }
  PortcullisFixture again(options);
  const std::string token = again.admin_token();
  auto listed = json_of(again.admin("GET", "/api/v1/endpoints/" + id, token));
  CHECK(listed.at("hostnames").as_array().size() == 2);
  CHECK(listed.at("read_only") == false);
  auto served = again.curl("api.example.com", "/after-restart", {"--cacert", certs.ca.cert().string()});
  CHECK(served.status == 200);
  CHECK(served.body.find("/after-restart") != std::string::npos);
  CHECK(again.admin("DELETE", "/api/v1/endpoints/" + id, token).status == 204);
  CHECK(again.curl("api.example.com", "/after-delete").status == 404);
  CHECK(is_problem(again.admin("GET", "/api/v1/endpoints/" + id, token), 404));
  CHECK(again.log().find(token) == std::string::npos);
}

TEST_CASE("a reload keeps the endpoints created through the admin API and refuses a file that clashes with them",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = admin_options(certs, upstream);
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  REQUIRE(px.admin("POST", "/api/v1/endpoints", token, api_endpoint_body(upstream, "api")).status == 201);
  REQUIRE(px.reload() == ReloadOutcome::applied);
  CHECK(px.curl("api.example.com", "/after-reload").status == 200);
  auto clash = options;
  clash.endpoints.push_back({"api2", {"api.example.com"}, {upstream.address()}});
  px.rewrite_config(clash);
  CHECK(px.reload() == ReloadOutcome::rejected);
  CHECK(px.log().find("created through the admin API") != std::string::npos);
  CHECK(px.curl("api.example.com", "/still").status == 200);
}

TEST_CASE("the records an endpoint created through the admin API needs, checked live through the resolver",
          "[integration][admin][dns]") {
  KnotFixture knot{{.zones = {{"example.com", {"app 0 CNAME elb-1.edge.example.net."}}}}};
  UnboundFixture unbound{{.zones = {{"example.com", knot.host(), knot.port()}}}};
  INFO("knot log:\n" << knot.log() << "\nunbound log:\n" << unbound.log());
  UpstreamServer upstream;
  FixtureOptions options;
  options.admin = true;
  options.extra_toml =
      fmt::format("[dns]\nzone = \"edge.example.net\"\nlisten = [\"127.0.0.1:{}\"]\nresolver = \"{}:{}\"\n", free_port(),
                  unbound.host(), unbound.port());
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  REQUIRE(px.admin("POST", "/api/v1/endpoints", token,
                   R"({"id": "elb-1", "hostnames": ["app.example.com"], "managed_https": false, "upstreams": [")" +
                       upstream.address() + R"("]})")
              .status == 201);

  auto first = json_of(px.admin("GET", "/api/v1/endpoints/elb-1/dns", token));
  CHECK(first.at("zone") == "edge.example.net");
  CHECK(first.at("ok") == false);
  const auto& records = first.at("records").as_array();
  REQUIRE(records.size() == 2);  // external: the traffic CNAME and the challenge CNAME
  CHECK(records[0].as_object().at("purpose") == "traffic");
  CHECK(records[0].as_object().at("target") == "elb-1.edge.example.net.");
  CHECK(records[0].as_object().at("state") == "ok");
  CHECK(records[1].as_object().at("name") == "_acme-challenge.app.example.com");
  CHECK(records[1].as_object().at("target") == "acme.elb-1.edge.example.net.");
  CHECK(records[1].as_object().at("state") == "missing");

  knot.set_cname("example.com", "_acme-challenge.app.example.com", "acme.elb-1.edge.example.net.");
  unbound.flush();
  auto second = json_of(px.admin("GET", "/api/v1/endpoints/elb-1/dns", token));
  CHECK(second.at("ok") == true);
  CHECK(second.at("records").as_array()[1].as_object().at("state") == "ok");
}
