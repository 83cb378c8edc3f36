// Hostile request lines and heads sent as raw bytes to the running binary: the request target
// (RFC 9112 §3.2), the Host check, the forwarding fields a client may not assert, transfer codings
// and protocol upgrades. Each attack asserts the edge's answer and what the upstream received.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::beast::http::verb;

FixtureOptions request_path_options(const StandardCerts& certs, const UpstreamServer& upstream) {
  FixtureOptions o;
  o.default_cert = certs.default_cert;
  o.fallback_cert = certs.fallback;
  o.certificates = {certs.app, certs.api};
  o.internal_listener = true;
  o.endpoints = {
      {"app", {"app.example.com"}, {upstream.address()}},
      {"private", {"private.example.com"}, {upstream.address()}, "external", {"10.0.0.0/8"}},
      {"internal", {"internal.example.com"}, {upstream.address()}, "internal"},
  };
  return o;
}

// One request as raw bytes on a fresh TLS connection with SNI app.example.com; the response.
StringResponse tls_exchange(PortcullisFixture& px, const std::string& bytes) {
  TlsClient client(px.https_port(), px.client_options("app.example.com"));
  REQUIRE(!client.connect());
  REQUIRE(!client.write_raw(bytes));
  StringResponse res;
  const auto ec = client.read(res);
  INFO("read: " << ec.message());
  REQUIRE(!ec);
  return res;
}

// The same over plain TCP to the http listener.
StringResponse plain_exchange(std::uint16_t port, const std::string& bytes) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  boost::system::error_code ec;
  auto run = [&] {
    ioc.restart();
    ioc.run();
  };
  stream.expires_after(5s);
  stream.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](auto e) { ec = e; });
  run();
  REQUIRE(!ec);
  stream.expires_after(5s);
  asio::async_write(stream, asio::buffer(bytes), [&](auto e, std::size_t) { ec = e; });
  run();
  REQUIRE(!ec);
  beast::flat_buffer buffer;
  StringResponse res;
  stream.expires_after(5s);
  boost::beast::http::async_read(stream, buffer, res, [&](auto e, std::size_t) { ec = e; });
  run();
  INFO("read: " << ec.message());
  REQUIRE(!ec);
  return res;
}

bool upstream_saw(const UpstreamServer& upstream, std::string_view needle) {
  const auto heads = upstream.heads();
  return std::any_of(heads.begin(), heads.end(),
                     [&](const std::string& t) { return t.find(needle) != std::string::npos; });
}

// Once a good request on a fresh connection has arrived, anything sent before it has too.
void barrier(PortcullisFixture& px, UpstreamServer& upstream) {
  const auto res = tls_exchange(px, "GET /barrier HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
  REQUIRE(res.result_int() == 200);
  REQUIRE(upstream_saw(upstream, "/barrier"));
}

struct Attack {
  const char* name;
  std::string bytes;
  unsigned status;
  const char* marker;  // a path only this attack uses: it must never reach the upstream
};

}  // namespace

TEST_CASE("hostile request targets, Hosts, codings and upgrades get their status and never reach the upstream",
          "[integration][proxy][request-path]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(request_path_options(certs, upstream));
  const std::string host = "Host: app.example.com\r\n";
  const std::vector<Attack> attacks = {
      {"absolute-form naming an allowlisted endpoint, Host an open one",
       "GET http://private.example.com/abs-private HTTP/1.1\r\n" + host + "\r\n", 400, "/abs-private"},
      {"absolute-form naming an internal endpoint, Host an external one",
       "GET http://internal.example.com/abs-internal HTTP/1.1\r\n" + host + "\r\n", 400, "/abs-internal"},
      {"absolute-form and Host naming another endpoint than SNI",
       "GET http://private.example.com/abs-sni HTTP/1.1\r\nHost: private.example.com\r\n\r\n", 421, "/abs-sni"},
      {"absolute-form and Host naming an internal endpoint on the external listener",
       "GET http://internal.example.com/abs-int2 HTTP/1.1\r\nHost: internal.example.com\r\n\r\n", 404, "/abs-int2"},
      {"absolute-form with userinfo", "GET http://x@app.example.com/abs-user HTTP/1.1\r\n" + host + "\r\n", 400,
       "/abs-user"},
      {"absolute-form with another scheme", "GET ftp://app.example.com/abs-ftp HTTP/1.1\r\n" + host + "\r\n", 400,
       "/abs-ftp"},
      {"CONNECT", "CONNECT app.example.com:443 HTTP/1.1\r\n" + host + "\r\n", 405, "app.example.com:443"},
      {"authority-form with GET", "GET app.example.com:8443 HTTP/1.1\r\n" + host + "\r\n", 400, "app.example.com:8443"},
      {"asterisk-form with GET", "GET * HTTP/1.1\r\n" + host + "\r\n", 400, "*"},
      {"Upgrade: h2c", "GET /up-h2c HTTP/1.1\r\n" + host +
           "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
       400, "/up-h2c"},
      {"Upgrade to another protocol", "GET /up-tls HTTP/1.1\r\n" + host + "Connection: upgrade\r\nUpgrade: TLS/1.2\r\n\r\n",
       400, "/up-tls"},
      {"Host breaking out of Forwarded",
       "GET /host-quote HTTP/1.1\r\nHost: app.example.com:1\",for=6.6.6.6\r\n\r\n", 400, "/host-quote"},
      {"Host with port 0", "GET /host-port0 HTTP/1.1\r\nHost: app.example.com:0\r\n\r\n", 400, "/host-port0"},
      {"Host with port 65536", "GET /host-port65536 HTTP/1.1\r\nHost: app.example.com:65536\r\n\r\n", 400,
       "/host-port65536"},
      {"Host with a port in letters", "GET /host-letters HTTP/1.1\r\nHost: app.example.com:https\r\n\r\n", 400,
       "/host-letters"},
      {"Host with a comma", "GET /host-comma HTTP/1.1\r\nHost: app.example.com,for=6.6.6.6\r\n\r\n", 400,
       "/host-comma"},
      {"Transfer-Encoding: gzip, chunked",
       "POST /te-gzip HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501,
       "/te-gzip"},
      {"Transfer-Encoding: chunked, identity",
       "POST /te-identity HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
       400, "/te-identity"},
      {"Content-Length with Transfer-Encoding",
       "POST /te-cl HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "/te-cl"},
      {"Transfer-Encoding in HTTP/1.0",
       "POST /te-10 HTTP/1.0\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400, "/te-10"},
  };
  for (const auto& attack : attacks) {
    INFO(attack.name);
    const auto res = tls_exchange(px, attack.bytes);
    CHECK(res.result_int() == attack.status);
    if (attack.status == 405) CHECK(res[boost::beast::http::field::allow].find("GET") != std::string_view::npos);
  }
  barrier(px, upstream);
  for (const auto& attack : attacks) {
    INFO(attack.name << " reached the upstream");
    CHECK(!upstream_saw(upstream, attack.marker));
  }
  // No absolute-form target ever reaches the upstream.
  CHECK(!upstream_saw(upstream, "http://"));
  // The first refusal is logged with its reason (later ones may fall under the log budget).
  CHECK(px.log().find("reason=\"Host does not match the request target\"") != std::string::npos);
}

TEST_CASE("an absolute-form target matching Host is forwarded in origin-form, and OPTIONS * as is",
          "[integration][proxy][request-path]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(request_path_options(certs, upstream));

  auto res = tls_exchange(px, "GET https://APP.example.com/abs/ok?x=1 HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
  REQUIRE(res.result_int() == 200);
  res = tls_exchange(px, "GET http://app.example.com HTTP/1.0\r\n\r\n");  // HTTP/1.0: the authority is the host
  REQUIRE(res.result_int() == 200);
  res = tls_exchange(px, "OPTIONS * HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
  REQUIRE(res.result_int() == 200);

  const auto requests = upstream.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].target == "/abs/ok?x=1");
  CHECK(requests[0].get("Host") == "app.example.com");
  CHECK(requests[1].target == "/");
  CHECK(requests[1].get("Host") == "app.example.com");
  CHECK(requests[1].get("Forwarded").value_or("").find("host=\"app.example.com\"") != std::string::npos);
  CHECK(requests[2].method == "OPTIONS");
  CHECK(requests[2].target == "*");
}

TEST_CASE("forwarding fields a client sends are replaced or removed, and Host reaches them validated",
          "[integration][proxy][request-path]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(request_path_options(certs, upstream));

  const auto res = tls_exchange(px,
                                "GET /spoof HTTP/1.1\r\nHost: APP.example.com:443\r\n"
                                "X-Real-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nX-Forwarded-Port: 6666\r\n"
                                "X-Forwarded-Proto: http\r\nX-Forwarded-For: 6.6.6.6\r\nX_Forwarded_For: 6.6.6.6\r\n"
                                "X-Forwarded-Host: evil.example\r\nForwarded: for=6.6.6.6;host=evil.example\r\n"
                                "X-Client-IP: 6.6.6.6\r\nX-Original-URL: /admin\r\n\r\n");
  REQUIRE(res.result_int() == 200);
  const auto requests = upstream.requests();
  REQUIRE(requests.size() == 1);
  const auto& seen = requests.front();
  for (const auto& [name, value] : seen.headers) {
    INFO(name << ": " << value);
    CHECK(value.find("6.6.6.6") == std::string::npos);
    CHECK(value.find("evil") == std::string::npos);
    CHECK(value != "6666");
  }
  CHECK(seen.get("X-Real-IP") == "127.0.0.1");
  CHECK(seen.all("X-Forwarded-For") == std::vector<std::string>{"127.0.0.1"});
  CHECK(seen.get("X-Forwarded-Proto") == "https");
  CHECK(seen.get("X-Forwarded-Host") == "app.example.com:443");
  CHECK(seen.get("Host") == "app.example.com:443");
  CHECK(seen.get("Forwarded") == "for=127.0.0.1;host=\"app.example.com:443\";proto=https");
  for (const char* gone : {"True-Client-IP", "X-Forwarded-Port", "X_Forwarded_For", "X-Client-IP", "X-Original-URL"}) {
    INFO(gone);
    CHECK(!seen.get(gone));
  }
}

TEST_CASE("the plain listener checks the target and Host with the same rules before it redirects",
          "[integration][proxy][request-path]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(request_path_options(certs, upstream));
  const auto port = px.http_port();

  auto res = plain_exchange(port, "GET /x HTTP/1.1\r\nHost: app.example.com:1\",for=6.6.6.6\r\n\r\n");
  CHECK(res.result_int() == 400);
  res = plain_exchange(port, "GET /x HTTP/1.1\r\nHost: app.example.com:0\r\n\r\n");
  CHECK(res.result_int() == 400);
  res = plain_exchange(port, "GET http://evil.example/x HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
  CHECK(res.result_int() == 400);
  res = plain_exchange(port, "CONNECT app.example.com:443 HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
  CHECK(res.result_int() == 405);
  res = plain_exchange(port, "GET * HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
  CHECK(res.result_int() == 400);
  res = plain_exchange(port, "GET http://App.Example.com/a?b HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
  CHECK(res.result_int() == 308);
  CHECK(res[boost::beast::http::field::location] == "https://app.example.com:" + std::to_string(px.https_port()) +
                                                       "/a?b");
  // The plain listener relays nothing, so an Upgrade there is not refused: it still redirects.
  res = plain_exchange(port, "GET /u HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
  CHECK(res.result_int() == 308);
  CHECK(upstream.head_count() == 0);
}
