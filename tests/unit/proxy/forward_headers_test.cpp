#include "proxy/forward_headers.hpp"

#include <optional>
#include <string>
#include <tuple>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

using namespace portcullis::proxy;
namespace http = boost::beast::http;

namespace {

// What Beast's serializer writes for the head of `msg` (the reference for our own serialisation).
template <bool isRequest>
std::string beast_head(http::message<isRequest, http::buffer_body>& msg) {
  http::serializer<isRequest, http::buffer_body> sr{msg};
  sr.split(true);
  std::string out;
  boost::beast::error_code ec;
  while (!sr.is_header_done()) {
    sr.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
      out += boost::beast::buffers_to_string(buffers);
      sr.consume(boost::asio::buffer_size(buffers));
    });
    REQUIRE(!ec);
  }
  return out;
}

http::request<http::buffer_body> browser_request() {
  http::request<http::buffer_body> req{http::verb::get, "/path/to?q=1", 11};
  req.set(http::field::host, "app.example.com");
  req.set(http::field::user_agent, "test/1.0");
  req.set(http::field::accept, "text/html");
  req.set(http::field::connection, "keep-alive, X-Drop");
  req.set("X-Drop", "hop-by-hop by Connection");
  req.set("X-Forwarded-For", "203.0.113.9");  // a client's claim: replaced, never passed on
  req.set(http::field::forwarded, "for=203.0.113.9");
  req.set(http::field::expect, "100-continue");
  req.insert("X-Repeated", "one");
  req.insert("X-Repeated", "two");
  return req;
}

}  // namespace

TEST_CASE("a forwarded request head is serialised exactly as Beast's serializer writes it", "[unit][proxy]") {
  auto req = browser_request();
  prepare_forward_request(req, ForwardFacts{"192.0.2.7", false, true, "app.example.com"});
  std::string ours;
  append_request_head(ours, req);
  REQUIRE(ours == beast_head(req));
  REQUIRE(ours.starts_with("GET /path/to?q=1 HTTP/1.1\r\n"));
  REQUIRE(ours.ends_with("\r\n\r\n"));

  SECTION("HTTP/1.0 and another method") {
    http::request<http::buffer_body> old{http::verb::delete_, "/x", 10};
    old.set(http::field::host, "a.test");
    std::string head;
    append_request_head(head, old);
    REQUIRE(head == beast_head(old));
    REQUIRE(head.starts_with("DELETE /x HTTP/1.0\r\n"));
  }
}

TEST_CASE("a response head is serialised exactly as Beast's serializer writes it", "[unit][proxy]") {
  SECTION("the standard reason") {
    http::response<http::buffer_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain");
    res.set(http::field::content_length, "100");
    std::string ours;
    append_response_head(ours, res);
    REQUIRE(ours == beast_head(res));
    REQUIRE(ours.starts_with("HTTP/1.1 200 OK\r\n"));
  }
  SECTION("the upstream's own reason phrase is kept") {
    http::response<http::buffer_body> res{http::status::not_found, 10};
    res.reason("Nowhere To Be Found");
    std::string ours;
    append_response_head(ours, res);
    REQUIRE(ours == beast_head(res));
    REQUIRE(ours.starts_with("HTTP/1.0 404 Nowhere To Be Found\r\n"));
  }
  SECTION("an unknown status code") {
    http::response<http::buffer_body> res;
    res.result(599);
    res.version(11);
    std::string ours;
    append_response_head(ours, res);
    REQUIRE(ours == beast_head(res));
    REQUIRE(ours.starts_with("HTTP/1.1 599 "));
  }
}

TEST_CASE("the forwarded request replaces the client's forwarding claims and drops hop-by-hop fields", "[unit][proxy]") {
  auto req = browser_request();
  prepare_forward_request(req, ForwardFacts{"2001:db8::7", true, true, "app.example.com"});
  REQUIRE(req["X-Forwarded-For"] == "2001:db8::7");
  REQUIRE(req["X-Forwarded-Proto"] == "https");
  REQUIRE(req["X-Forwarded-Host"] == "app.example.com");
  REQUIRE(req[http::field::forwarded] == "for=\"[2001:db8::7]\";host=\"app.example.com\";proto=https");
  REQUIRE(req.count("X-Forwarded-For") == 1);
  REQUIRE(req.count(http::field::forwarded) == 1);
  REQUIRE(req.find("X-Drop") == req.end());
  REQUIRE(req.find(http::field::connection) == req.end());
  REQUIRE(req.find(http::field::expect) == req.end());
  REQUIRE(req.count("X-Repeated") == 2);
  REQUIRE(req.version() == 11);
  REQUIRE(req["X-Real-IP"] == "2001:db8::7");
}

TEST_CASE("every field a client could assert as a proxy is removed or replaced, in any spelling",
          "[unit][proxy][forward]") {
  http::request<http::buffer_body> req{http::verb::get, "/", 11};
  req.set(http::field::host, "App.Example.com:8443");
  const char* spoofed[] = {"X-Real-IP",          "x-real-ip",       "X_Real_IP",          "True-Client-IP",
                           "X-Forwarded-Port",   "X-Forwarded-Proto", "X_Forwarded_For",  "X-Forwarded-Host",
                           "X-Forwarded-Server", "X-Client-IP",     "Client-IP",          "X-Cluster-Client-IP",
                           "X-Forwarded-Scheme", "X-Scheme",        "Front-End-Https",    "X-Original-URL",
                           "X-Rewrite-URL",      "HTTP2-Settings",  "Forwarded",          "X-Forwarded-Ssl"};
  for (const char* name : spoofed) req.insert(name, "6.6.6.6");
  req.set("X-Kept", "yes");
  prepare_forward_request(req, ForwardFacts{"192.0.2.7", false, false, "app.example.com:8443"});
  for (const auto& field : req) {
    INFO(field.name_string() << ": " << field.value());
    CHECK(field.value().find("6.6.6.6") == std::string_view::npos);
  }
  CHECK(req["X-Kept"] == "yes");
  CHECK(req["X-Real-IP"] == "192.0.2.7");
  CHECK(req["X-Forwarded-For"] == "192.0.2.7");
  CHECK(req["X-Forwarded-Proto"] == "http");
  CHECK(req["X-Forwarded-Host"] == "app.example.com:8443");
  CHECK(req[http::field::host] == "app.example.com:8443");
  CHECK(req[http::field::forwarded] == "for=192.0.2.7;host=\"app.example.com:8443\";proto=http");
  CHECK(req.find("X-Forwarded-Port") == req.end());
  CHECK(req.find("True-Client-IP") == req.end());
  CHECK(client_asserted_field("x_forwarded_for"));
  CHECK(!client_asserted_field("X-Forwarded-Fo"));
  CHECK(!client_asserted_field("X-Request-Id"));
}

TEST_CASE("framing problems are named and a clean head has none", "[unit][proxy]") {
  http::fields f;
  REQUIRE(!framing_problem(f));
  f.insert(http::field::content_length, "5");
  REQUIRE(!framing_problem(f));
  f.insert(http::field::transfer_encoding, "chunked");
  REQUIRE(framing_problem(f));
  CHECK(framing_problem(f)->status == http::status::bad_request);

  http::fields twice;
  twice.insert(http::field::content_length, "5");
  twice.insert(http::field::content_length, "6");
  REQUIRE(framing_problem(twice));

  struct Row {
    const char* te;
    std::optional<http::status> status;
  };
  const Row rows[] = {
      {"chunked", std::nullopt},
      {"Chunked", std::nullopt},
      {" chunked ,", std::nullopt},  // RFC 9110 §5.6.1: empty list items are ignored
      {"chunked, gzip", http::status::bad_request},
      {"chunked, identity", http::status::bad_request},
      {"gzip", http::status::bad_request},
      {"gzip, chunked", http::status::not_implemented},
      {"identity, chunked", http::status::not_implemented},
      {"chunked, chunked", http::status::not_implemented},
      {"", http::status::bad_request},
  };
  for (const auto& row : rows) {
    INFO("Transfer-Encoding: " << row.te);
    http::fields te;
    te.insert(http::field::transfer_encoding, row.te);
    const auto problem = framing_problem(te);
    REQUIRE(problem.has_value() == row.status.has_value());
    if (problem) CHECK(problem->status == *row.status);
  }
}

TEST_CASE("a request head is refused for Transfer-Encoding in HTTP/1.0 and for upgrades other than WebSocket",
          "[unit][proxy][forward]") {
  auto make = [](http::verb method, unsigned version, std::string_view upgrade, std::string_view connection) {
    http::request<http::empty_body> req{method, "/", version};
    req.set(http::field::host, "app.example.com");
    if (!upgrade.empty()) req.set(http::field::upgrade, upgrade);
    if (!connection.empty()) req.set(http::field::connection, connection);
    return req;
  };
  CHECK(!request_head_problem(make(http::verb::get, 11, "websocket", "Upgrade"), true));
  CHECK(!request_head_problem(make(http::verb::get, 11, "WebSocket", "keep-alive, upgrade"), true));
  CHECK(asks_upgrade(make(http::verb::get, 11, "websocket", "Upgrade")));
  // Upgrade without the Connection token asks for nothing: dropped as hop-by-hop, not refused.
  CHECK(!request_head_problem(make(http::verb::get, 11, "h2c", ""), true));
  CHECK(!asks_upgrade(make(http::verb::get, 11, "h2c", "")));
  for (auto [upgrade, method, version] : {std::tuple{"h2c", http::verb::get, 11u}, {"TLS/1.2", http::verb::get, 11u},
                                          {"websocket, h2c", http::verb::get, 11u}, {"websocket", http::verb::post, 11u},
                                          {"websocket", http::verb::get, 10u}, {"h2", http::verb::options, 11u}}) {
    INFO("Upgrade: " << upgrade);
    const auto problem = request_head_problem(make(method, version, upgrade, "Upgrade, HTTP2-Settings"), true);
    REQUIRE(problem);
    CHECK(problem->status == http::status::bad_request);
    // The plain listener relays nothing: an Upgrade there is ignored.
    CHECK(!request_head_problem(make(method, version, upgrade, "Upgrade"), false));
  }
  auto old = make(http::verb::post, 10, "", "");
  old.set(http::field::transfer_encoding, "chunked");
  REQUIRE(request_head_problem(old, true));
  CHECK(request_head_problem(old, true)->status == http::status::bad_request);
}

TEST_CASE("Connection tokens are matched case-insensitively as whole tokens", "[unit][proxy]") {
  REQUIRE(has_token("keep-alive, Upgrade", "upgrade"));
  REQUIRE(has_token(" close ", "close"));
  REQUIRE(!has_token("upgrade-insecure", "upgrade"));
  REQUIRE(!has_token("", "close"));
}
