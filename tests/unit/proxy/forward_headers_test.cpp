#include "proxy/forward_headers.hpp"

#include <string>

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
  prepare_forward_request(req, "192.0.2.7", false, true, false, false);
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
  prepare_forward_request(req, "2001:db8::7", true, true, false, false);
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

  SECTION("the address form gives the same fields") {
    auto other = browser_request();
    prepare_forward_request(other, boost::asio::ip::make_address("2001:db8::7"), true, false, false);
    std::string a, b;
    append_request_head(a, req);
    append_request_head(b, other);
    REQUIRE(a == b);
  }
}

TEST_CASE("framing problems are named and a clean head has none", "[unit][proxy]") {
  http::fields f;
  REQUIRE(!framing_problem(f));
  f.insert(http::field::content_length, "5");
  REQUIRE(!framing_problem(f));
  f.insert(http::field::transfer_encoding, "chunked");
  REQUIRE(framing_problem(f));

  http::fields twice;
  twice.insert(http::field::content_length, "5");
  twice.insert(http::field::content_length, "6");
  REQUIRE(framing_problem(twice));

  http::fields not_last;
  not_last.insert(http::field::transfer_encoding, "chunked, gzip");
  REQUIRE(framing_problem(not_last));
}

TEST_CASE("Connection tokens are matched case-insensitively as whole tokens", "[unit][proxy]") {
  REQUIRE(has_token("keep-alive, Upgrade", "upgrade"));
  REQUIRE(has_token(" close ", "close"));
  REQUIRE(!has_token("upgrade-insecure", "upgrade"));
  REQUIRE(!has_token("", "close"));
}
