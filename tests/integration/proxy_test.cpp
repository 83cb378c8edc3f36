// The data plane seen from outside: the real binary, driven by curl, openssl s_client and an
// in-process TLS client, in front of an in-process upstream that records what reaches it.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace beast = boost::beast;
namespace asio = boost::asio;
using boost::beast::http::verb;

FixtureOptions standard_options(const StandardCerts& certs, const UpstreamServer& upstream) {
  FixtureOptions o;
  o.default_cert = certs.default_cert;
  o.fallback_cert = certs.fallback;
  o.certificates = {certs.app, certs.wildcard, certs.api};
  o.endpoints = {
      {"app", {"app.example.com"}, {upstream.address()}},
      {"api", {"api.example.com"}, {upstream.address()}},
      {"wild", {"*.wild.example.com"}, {upstream.address()}},
  };
  return o;
}

boost::json::object json_body(const CurlResult& r) {
  INFO("body: " << r.body.substr(0, 400));
  auto v = boost::json::parse(r.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

bool has_target(const UpstreamServer& upstream, std::string_view needle) {
  auto heads = upstream.heads();
  return std::any_of(heads.begin(), heads.end(),
                     [&](const std::string& t) { return t.find(needle) != std::string::npos; });
}

// "a, b,  c" -> "c"
std::string last_list_item(std::string_view list) {
  auto comma = list.rfind(',');
  auto item = comma == std::string_view::npos ? list : list.substr(comma + 1);
  while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
  while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
  return std::string(item);
}

std::size_t peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

}  // namespace

// --- certificates per SNI ------------------------------------------------------------------------

TEST_CASE("openssl s_client sees the certificate chosen for each SNI", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  CHECK(px.served_serial("app.example.com") == certs.app.serial);
  CHECK(px.served_serial("APP.Example.COM") == certs.app.serial);       // case-insensitive
  CHECK(px.served_serial("foo.wild.example.com") == certs.wildcard.serial);
  CHECK(px.served_serial("a.b.wild.example.com") == certs.default_cert.serial);  // a wildcard covers one label
  CHECK(px.served_serial("elb-1234.edge.example.net") == certs.fallback.serial);
  CHECK(px.served_serial("unknown.example.org") == certs.default_cert.serial);
  CHECK(px.served_serial("") == certs.default_cert.serial);              // no SNI at all
}

TEST_CASE("curl verifies the served certificate against the test CA by name", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  for (const std::string host : {"app.example.com", "foo.wild.example.com", "api.example.com"}) {
    INFO(host);
    auto r = px.curl(host, "/verified", {"--cacert", certs.ca.cert().string()});
    CHECK(r.exit_code == 0);
    CHECK(r.status == 200);
    INFO(r.err);
  }
}

TEST_CASE("a self-signed default certificate is served when none is configured", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.default_cert.reset();
  PortcullisFixture px(options);

  auto serial = px.served_serial("unknown.example.org");
  REQUIRE(serial);
  CHECK(!serial->empty());
  CHECK(*serial != certs.app.serial);
  CHECK(*serial != certs.fallback.serial);
  CHECK(px.served_serial("app.example.com") == certs.app.serial);
}

TEST_CASE("the https listener negotiates ALPN http/1.1 and honours tls.min_version", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;

  SECTION("min_version 1.2: TLS 1.2 and 1.3 are accepted, ALPN picks http/1.1") {
    PortcullisFixture px(standard_options(certs, upstream));
    auto o = px.client_options("app.example.com");
    o.alpn = {"h2", "http/1.1"};
    TlsClient client(px.https_port(), o);
    REQUIRE(!client.connect());
    CHECK(client.alpn_selected() == "http/1.1");
    const auto target = "127.0.0.1:" + std::to_string(px.https_port());
    CHECK(run_command({"openssl", "s_client", "-connect", target, "-servername", "app.example.com", "-tls1_2"}, 15s)
              .exit_code == 0);
    CHECK(run_command({"openssl", "s_client", "-connect", target, "-servername", "app.example.com", "-tls1_3"}, 15s)
              .exit_code == 0);
    // TLS 1.1 is below every allowed version (the client is allowed to try it at security level 0).
    CHECK(run_command({"openssl", "s_client", "-connect", target, "-servername", "app.example.com", "-tls1_1",
                       "-cipher", "DEFAULT@SECLEVEL=0"},
                      15s)
              .exit_code != 0);
  }
  SECTION("min_version 1.3: a TLS 1.2 client is refused") {
    auto options = standard_options(certs, upstream);
    options.min_tls_version = "1.3";
    PortcullisFixture px(options);
    const auto target = "127.0.0.1:" + std::to_string(px.https_port());
    CHECK(run_command({"openssl", "s_client", "-connect", target, "-servername", "app.example.com", "-tls1_2"}, 15s)
              .exit_code != 0);
    CHECK(run_command({"openssl", "s_client", "-connect", target, "-servername", "app.example.com", "-tls1_3"}, 15s)
              .exit_code == 0);
  }
}

TEST_CASE("TLS sessions resume on new connections whichever worker takes them", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.workers = 4;
  PortcullisFixture px(options);
  const auto target = "127.0.0.1:" + std::to_string(px.https_port());
  const auto session = (px.dir() / "tls-session.pem").string();

  auto first = run_command({"openssl", "s_client", "-connect", target, "-servername", "app.example.com", "-tls1_2",
                            "-sess_out", session},
                           15s);
  REQUIRE(first.exit_code == 0);
  int reused = 0;
  for (int i = 0; i < 8; ++i) {
    auto again = run_command({"openssl", "s_client", "-connect", target, "-servername", "app.example.com",
                              "-tls1_2", "-sess_in", session},
                             15s);
    if (again.out.find("Reused,") != std::string::npos) ++reused;
  }
  CHECK(reused == 8);
}

// --- proxying ------------------------------------------------------------------------------------

TEST_CASE("a request is proxied to the upstream with its body and headers and forwarding headers",
          "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  auto r = px.curl("app.example.com", "/submit/form?x=1&y=two",
                   {"-X", "POST", "--data-binary", "hello body", "-H", "Content-Type: text/plain", "-H",
                    "X-Test: yes", "-H", "X-Forwarded-For: 10.9.9.9"});
  INFO(r.err << r.headers);
  REQUIRE(r.status == 200);
  auto requests = upstream.requests();
  REQUIRE(requests.size() == 1);
  const auto& seen = requests.front();
  CHECK(seen.method == "POST");
  CHECK(seen.target == "/submit/form?x=1&y=two");
  CHECK(seen.body == "hello body");
  CHECK(seen.get("X-Test") == "yes");
  CHECK(seen.get("Content-Type") == "text/plain");
  CHECK(seen.get("Host").value_or("").rfind("app.example.com", 0) == 0);

  // X-Forwarded-*: the client as the edge saw it. A client-sent X-Forwarded-For may be kept in
  // front of it, but the proxy's own entry is last.
  const auto xff = seen.all("X-Forwarded-For");
  REQUIRE(!xff.empty());
  CHECK(last_list_item(xff.back()) == "127.0.0.1");
  CHECK(seen.get("X-Forwarded-Proto") == "https");
  CHECK(seen.get("X-Forwarded-Host").value_or("").rfind("app.example.com", 0) == 0);
  // RFC 7239
  const auto forwarded = seen.get("Forwarded").value_or("");
  INFO("Forwarded: " << forwarded);
  CHECK(forwarded.find("for=127.0.0.1") != std::string::npos);
  CHECK(forwarded.find("proto=https") != std::string::npos);
  // host= is the Host header as sent (curl adds the port), quoted when it holds a ':' (RFC 7239 §4).
  CHECK((forwarded.find("host=app.example.com") != std::string::npos ||
         forwarded.find("host=\"app.example.com:") != std::string::npos));

  // The upstream's answer comes back whole.
  auto echo = json_body(r);
  CHECK(echo["target"].as_string() == "/submit/form?x=1&y=two");
  CHECK(echo["body"].as_string() == "hello body");
  CHECK(r.header("X-Upstream") == std::to_string(upstream.port()));
}

TEST_CASE("hop-by-hop headers are removed in both directions", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  auto r = px.curl("app.example.com", "/hop",
                   {"-H", "Connection: keep-alive, X-Secret-Hop", "-H", "X-Secret-Hop: 1", "-H",
                    "Keep-Alive: timeout=5", "-H", "TE: trailers", "-H", "Proxy-Authorization: Basic Zm9vOmJhcg==",
                    "-H", "Proxy-Connection: keep-alive", "-H", "Upgrade: h2c", "-H", "X-End-To-End: kept"});
  INFO(r.err << r.headers);
  REQUIRE(r.status == 200);
  auto requests = upstream.requests();
  REQUIRE(requests.size() == 1);
  const auto& seen = requests.front();
  CHECK(seen.get("X-End-To-End") == "kept");
  for (const char* name : {"X-Secret-Hop", "Keep-Alive", "TE", "Proxy-Authorization", "Proxy-Connection", "Upgrade"}) {
    INFO("request header " << name);
    CHECK(!seen.get(name));
  }
  // The proxy's own Connection header, if any, names no client token.
  CHECK(seen.get("Connection").value_or("").find("X-Secret-Hop") == std::string::npos);

  // The upstream answered with "Connection: keep-alive, X-Upstream-Hop", "X-Upstream-Hop" and "Keep-Alive".
  CHECK(r.header("X-Upstream"));
  CHECK(!r.header("X-Upstream-Hop"));
  CHECK(!r.header("Keep-Alive"));
  CHECK(r.header("Connection").value_or("").find("X-Upstream-Hop") == std::string::npos);
}

TEST_CASE("a 20 MB body is streamed to the upstream and back intact", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));
  constexpr std::size_t size = 20 * 1024 * 1024;
  const auto payload = pattern_bytes(size);
  const auto expected = sha256_hex(payload);
  const auto upload_file = px.dir() / "upload.bin";
  write_file(upload_file, payload);
  const auto rss_before = peak_rss_kib(px.process().pid());

  auto up = px.curl("app.example.com", "/upload",
                    {"-X", "POST", "--data-binary", "@" + upload_file.string(), "-H",
                     "Content-Type: application/octet-stream"});
  INFO(up.err);
  REQUIRE(up.status == 200);
  auto echo = json_body(up);
  CHECK(echo["body_size"].to_number<std::uint64_t>() == size);
  CHECK(echo["body_sha256"].as_string() == expected);

  auto down = px.curl("app.example.com", "/download?bytes=" + std::to_string(size));
  INFO(down.err);
  REQUIRE(down.status == 200);
  CHECK(down.body.size() == size);
  CHECK(sha256_hex(down.body) == expected);

  // Streaming, not buffering: 40 MB went through, the proxy's peak memory grew by far less than one body.
  const auto rss_after = peak_rss_kib(px.process().pid());
  INFO("peak RSS before " << rss_before << " KiB, after " << rss_after << " KiB");
  CHECK(rss_after - rss_before < 12 * 1024);
}

TEST_CASE("connections are kept alive to the client and to the upstream", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  TlsClient client(px.https_port(), px.client_options("app.example.com"));
  REQUIRE(!client.connect());
  constexpr int n = 10;
  for (int i = 0; i < n; ++i) {
    auto req = make_request(verb::get, "/keepalive/" + std::to_string(i), "app.example.com");
    StringResponse res;
    INFO("request " << i);
    REQUIRE(!client.request(req, res));
    CHECK(res.result_int() == 200);
    CHECK(res.keep_alive());
  }
  CHECK(upstream.request_count() == n);
  CHECK(upstream.connection_count() < n);
}

TEST_CASE("a pooled upstream connection the upstream closed is replaced without an error", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  TlsClient client(px.https_port(), px.client_options("app.example.com"));
  REQUIRE(!client.connect());
  // Each /answer-then-close response says keep-alive, so the proxy pools the connection, and the
  // upstream closes it right after. The next request finds that connection in the pool: a GET
  // or HEAD is sent again on a fresh connection (the upstream ended the old one unanswered); a
  // POST is never sent twice, so its connection is checked before use.
  const std::vector<std::pair<verb, std::string>> sequence = {
      {verb::get, "/answer-then-close"}, {verb::get, "/after-close/1"},
      {verb::get, "/answer-then-close"}, {verb::head, "/after-close/2"},
      {verb::get, "/answer-then-close"}, {verb::get, "/after-close/3"},
  };
  for (const auto& [method, target] : sequence) {
    auto req = make_request(method, target, "app.example.com");
    StringResponse res;
    INFO(target);
    REQUIRE(!client.request(req, res));
    CHECK(res.result_int() == 200);
    CHECK(res.keep_alive());
  }
  // Every request reached the upstream exactly once, and each one after a close needed a new
  // connection.
  CHECK(upstream.request_count() == sequence.size());
  CHECK(upstream.connection_count() == 1 + 3);
}

TEST_CASE("requests are spread over an endpoint's upstreams and a dead one is skipped", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer first, second;
  const auto dead = "127.0.0.1:" + std::to_string(free_port());
  auto options = standard_options(certs, first);
  options.endpoints = {
      {"app", {"app.example.com"}, {first.address(), second.address()}},
      {"api", {"api.example.com"}, {dead, first.address()}},
  };
  PortcullisFixture px(options);

  for (int i = 0; i < 12; ++i) {
    TlsClient client(px.https_port(), px.client_options("app.example.com"));
    REQUIRE(!client.connect());
    for (int j = 0; j < 2; ++j) {
      auto req = make_request(verb::get, "/rr", "app.example.com");
      StringResponse res;
      REQUIRE(!client.request(req, res));
      REQUIRE(res.result_int() == 200);
    }
  }
  INFO("first " << first.request_count() << ", second " << second.request_count());
  CHECK(first.request_count() > 0);
  CHECK(second.request_count() > 0);
  CHECK(first.request_count() + second.request_count() == 24);

  // One of two upstreams refuses connections: every request still gets an answer from the other.
  first.clear();
  int ok = 0;
  for (int i = 0; i < 6; ++i) ok += px.curl("api.example.com", "/failover").status == 200;
  CHECK(ok == 6);
  CHECK(first.request_count() == 6);
}

// --- status codes --------------------------------------------------------------------------------

TEST_CASE("a request whose Host names another endpoint than its SNI gets 421", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  auto r = px.curl("app.example.com", "/misdirected", {"-H", "Host: api.example.com"});
  CHECK(r.status == 421);
  CHECK(upstream.head_count() == 0);
  // Same endpoint, different spelling: not misdirected.
  auto same = px.curl("app.example.com", "/same", {"-H", "Host: APP.example.com"});
  CHECK(same.status == 200);
}

TEST_CASE("a request for an unknown host gets 404", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  auto r = px.curl("unknown.example.org", "/nothing");
  CHECK(r.status == 404);
  CHECK(upstream.head_count() == 0);
}

TEST_CASE("no upstream answering gives 502 with a short body", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.endpoints.push_back({"dead", {"dead.example.com"}, {"127.0.0.1:" + std::to_string(free_port())}});
  options.limits["upstream_connect_timeout"] = "\"2s\"";
  PortcullisFixture px(options);

  const auto start = Clock::now();
  auto r = px.curl("dead.example.com", "/anything");
  CHECK(r.status == 502);
  CHECK(!r.body.empty());
  CHECK(r.body.size() < 512);
  CHECK(Clock::now() - start < 10s);
  // The proxy itself is fine.
  CHECK(px.curl("app.example.com", "/alive").status == 200);
}

TEST_CASE("an upstream slower than upstream_timeout gives 504", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.limits["upstream_timeout"] = "\"1s\"";
  PortcullisFixture px(options);

  const auto start = Clock::now();
  auto r = px.curl("app.example.com", "/slow?ms=8000");
  const auto elapsed = Clock::now() - start;
  CHECK(r.status == 504);
  CHECK(r.body.size() < 512);
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 6s);
  CHECK(px.curl("app.example.com", "/slow?ms=10").status == 200);
}

// --- plain HTTP listener -------------------------------------------------------------------------

TEST_CASE("the plain HTTP listener redirects every path to https with 308", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  for (const std::string path : {"/", "/some/path?q=1&r=2", "/.well-known/other"}) {
    INFO(path);
    auto r = px.curl_http("app.example.com", path);
    CHECK(r.status == 308);
    const auto location = r.header("Location").value_or("");
    INFO("Location: " << location);
    CHECK(location.rfind("https://app.example.com", 0) == 0);
    CHECK(location.size() >= path.size());
    CHECK(location.compare(location.size() - path.size(), path.size(), path) == 0);
  }
  auto post = px.curl_http("unknown.example.org", "/form", {"-X", "POST", "--data-binary", "x=1"});
  CHECK(post.status == 308);
  CHECK(upstream.head_count() == 0);
}

TEST_CASE("an ACME challenge path on the plain listener is 404 while the board is empty", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  auto r = px.curl_http("app.example.com", "/.well-known/acme-challenge/x");
  CHECK(r.status == 404);
  CHECK(upstream.head_count() == 0);
}

// --- framing attacks -----------------------------------------------------------------------------

TEST_CASE("ambiguous framing gets 400 and the connection closed and is never forwarded", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.limits["max_header_bytes"] = "8192";
  PortcullisFixture px(options);

  struct Attack {
    const char* name;
    std::string bytes;
    bool head_may_arrive;  // the head is valid; only the body is broken (a streaming proxy may
                           // have started the upstream request before it sees the bad chunk)
  };
  const std::string host = "Host: app.example.com\r\n";
  const std::vector<Attack> attacks = {
      {"Content-Length with Transfer-Encoding",
       "POST /attack-cl-te HTTP/1.1\r\n" + host +
           "Content-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
       false},
      {"two differing Content-Lengths",
       "POST /attack-cl-cl HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", false},
      {"a bad chunk size",
       "POST /attack-chunk HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", true},
      {"a header larger than max_header_bytes",
       "GET /attack-big HTTP/1.1\r\n" + host + "X-Big: " + std::string(16 * 1024, 'a') + "\r\n\r\n", false},
      {"whitespace between a field name and its colon (RFC 9112 §5.1)",
       "POST /attack-ws HTTP/1.1\r\n" + host + "Content-Length : 5\r\n\r\nhello", false},
      {"a transfer coding other than chunked last (RFC 9112 §6.3)",
       "POST /attack-te HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
       false},
  };

  for (const auto& attack : attacks) {
    INFO(attack.name);
    TlsClient client(px.https_port(), px.client_options("app.example.com"));
    REQUIRE(!client.connect());
    REQUIRE(!client.write_raw(attack.bytes));
    StringResponse res;
    auto ec = client.read(res);
    INFO("read: " << ec.message());
    REQUIRE(!ec);
    if (std::string_view(attack.name).find("max_header_bytes") != std::string_view::npos) {
      // The issue asks for 400; 431 (RFC 6585 §5) is the more precise answer. Either is accepted.
      CHECK((res.result_int() == 400 || res.result_int() == 431));
    } else {
      CHECK(res.result_int() == 400);
    }
    CHECK(client.wait_closed());
  }

  // A good request on a fresh connection: once it has arrived, anything forwarded before it has too.
  auto req = make_request(verb::get, "/barrier", "app.example.com");
  TlsClient client(px.https_port(), px.client_options("app.example.com"));
  REQUIRE(!client.connect());
  StringResponse res;
  REQUIRE(!client.request(req, res));
  CHECK(res.result_int() == 200);

  const auto requests = upstream.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests.front().target == "/barrier");
  CHECK(!has_target(upstream, "/smuggled"));
  for (const auto& attack : attacks) {
    if (attack.head_may_arrive) continue;
    const auto target = attack.bytes.substr(5, attack.bytes.find(' ', 5) - 5);
    INFO(attack.name << " reached the upstream as " << target);
    CHECK(!has_target(upstream, target));
  }
}

TEST_CASE("a flood of malformed requests is logged a few lines a second with the count of the rest",
          "[integration][proxy]") {
  constexpr int flood = 100;
  constexpr std::size_t burst = 10;  // WorkerLogLimits::burst, per second and worker
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.workers = 1;
  PortcullisFixture px(options);
  // Framing the parser accepts and the proxy refuses (RFC 9112 §6.3): logged as "rejected request".
  const std::string bad =
      "POST /flood HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n";
  auto send_bad = [&] {
    TlsClient client(px.https_port(), px.client_options("app.example.com"));
    REQUIRE(!client.connect());
    REQUIRE(!client.write_raw(bad));
    StringResponse res;
    REQUIRE(!client.read(res));
    CHECK(res.result_int() == 400);
  };

  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < flood; ++i) send_bad();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  const auto logged = count_occurrences(px.log(), "rejected request peer=");
  INFO(flood << " rejected in " << seconds.count() << " s, " << logged << " logged");
  CHECK(logged >= 1);
  CHECK(logged <= burst * static_cast<std::size_t>(seconds.count() + 2));
  // Once a second has passed, the next line says how many were left out.
  REQUIRE(wait_until(
      [&] {
        send_bad();
        const auto log = px.log();
        const auto at = log.find(" suppressed=");
        return at != std::string::npos && log.rfind("rejected request peer=", at) > log.rfind('\n', at);
      },
      5s, 100ms));
}

TEST_CASE("stalled clients are cut off by the deadlines of the limits section", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.limits["handshake_timeout"] = "\"1s\"";
  options.limits["header_timeout"] = "\"1s\"";
  options.limits["idle_timeout"] = "\"1s\"";
  PortcullisFixture px(options);

  SECTION("no ClientHello: closed after handshake_timeout") {
    const auto start = Clock::now();
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    socket.connect({asio::ip::make_address("127.0.0.1"), px.https_port()});
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(8s);
    char byte;
    boost::system::error_code ec;
    stream.async_read_some(asio::buffer(&byte, 1), [&](auto e, auto) { ec = e; });
    ioc.run();
    CHECK(ec);
    CHECK(ec != beast::error::timeout);
    const auto elapsed = Clock::now() - start;
    CHECK(elapsed >= 800ms);  // the deadline, not something else, closed it
    CHECK(elapsed < 5s);
  }
  SECTION("a request header that never ends: closed after header_timeout") {
    TlsClient client(px.https_port(), px.client_options("app.example.com"));
    REQUIRE(!client.connect());
    REQUIRE(!client.write_raw("GET /stalled HTTP/1.1\r\nHost: app.example.com\r\nX-Slow: "));
    const auto start = Clock::now();
    CHECK(client.wait_closed(8s));
    const auto elapsed = Clock::now() - start;
    CHECK(elapsed >= 800ms);  // the deadline, not something else, closed it
    CHECK(elapsed < 5s);
    CHECK(upstream.head_count() == 0);
  }
  SECTION("an idle keep-alive connection: closed after idle_timeout") {
    TlsClient client(px.https_port(), px.client_options("app.example.com"));
    REQUIRE(!client.connect());
    auto req = make_request(verb::get, "/then-idle", "app.example.com");
    StringResponse res;
    REQUIRE(!client.request(req, res));
    CHECK(res.result_int() == 200);
    const auto start = Clock::now();
    CHECK(client.wait_closed(8s));
    const auto elapsed = Clock::now() - start;
    CHECK(elapsed >= 800ms);  // the deadline, not something else, closed it
    CHECK(elapsed < 5s);
  }
}

TEST_CASE("no more than max_connections client connections are served at once", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.limits["max_connections"] = "4";
  PortcullisFixture px(options);

  std::vector<std::unique_ptr<TlsClient>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<TlsClient>(px.https_port(), px.client_options("app.example.com")));
    INFO("connection " << i);
    REQUIRE(!held.back()->connect());
  }
  // The fifth is refused or left waiting (config.hpp: "accept pauses beyond it"); either way no
  // handshake within the client's deadline.
  {
    auto o = px.client_options("app.example.com");
    o.timeout = 2s;
    TlsClient fifth(px.https_port(), o);
    CHECK(fifth.connect());
  }
  // One slot freed: a new client is served.
  held.front()->close();
  held.erase(held.begin());
  CHECK(wait_until(
      [&] {
        auto o = px.client_options("app.example.com");
        o.timeout = 2s;
        TlsClient next(px.https_port(), o);
        if (next.connect()) return false;
        auto req = make_request(verb::get, "/after-slot-freed", "app.example.com");
        StringResponse res;
        return !next.request(req, res) && res.result_int() == 200;
      },
      10s, 50ms));
  // The held connections still work.
  auto req = make_request(verb::get, "/held", "app.example.com");
  StringResponse res;
  REQUIRE(!held.back()->request(req, res));
  CHECK(res.result_int() == 200);
}

// --- IP allowlist --------------------------------------------------------------------------------

TEST_CASE("an endpoint's IP allowlist refuses other clients before the TLS handshake", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.endpoints.push_back({"private", {"private.example.com"}, {upstream.address()}, "external", {"127.0.0.2/32"}});
  PortcullisFixture px(options);

  // From 127.0.0.1: no handshake, no response at all.
  auto refused = px.curl("private.example.com", "/private-refused");
  INFO(refused.err);
  CHECK(refused.exit_code != 0);
  CHECK(refused.status == 0);
  {
    TlsClient client(px.https_port(), px.client_options("private.example.com"));
    CHECK(client.connect());
  }

  // From 127.0.0.2: served.
  auto allowed = px.curl("private.example.com", "/private-allowed", {"--interface", "127.0.0.2"});
  INFO(allowed.err);
  CHECK(allowed.status == 200);

  // The allowlist is per endpoint: an open endpoint on the same listener still serves 127.0.0.1.
  CHECK(px.curl("app.example.com", "/open").status == 200);

  // Neither another SNI nor no SNI at all carries a request to the private endpoint by its Host.
  for (const std::string sni : {"app.example.com", ""}) {
    INFO("SNI '" << sni << "'");
    TlsClient client(px.https_port(), px.client_options(sni));
    if (client.connect()) continue;  // refused at the handshake: fine
    auto req = make_request(verb::get, "/private-by-host", "private.example.com");
    StringResponse res;
    if (!client.request(req, res)) CHECK(res.result_int() != 200);
  }

  // Only the allowed request reached the upstream.
  CHECK(!has_target(upstream, "/private-refused"));
  CHECK(!has_target(upstream, "/private-by-host"));
  auto requests = upstream.requests();
  auto it = std::find_if(requests.begin(), requests.end(),
                         [](const RecordedRequest& r) { return r.target == "/private-allowed"; });
  REQUIRE(it != requests.end());
  CHECK(it->get("X-Forwarded-For").value_or("").find("127.0.0.2") != std::string::npos);
}

TEST_CASE("IPv6 allowlists are enforced on an IPv6 listener", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.https_host = "::1";
  options.endpoints = {
      {"app", {"app.example.com"}, {upstream.address()}, "external", {"::1/128"}},
      {"api", {"api.example.com"}, {upstream.address()}, "external", {"2001:db8::/32", "127.0.0.0/8"}},
  };
  PortcullisFixture px(options);

  {
    TlsClient client(px.https_port(), px.client_options("app.example.com"));
    REQUIRE(!client.connect());
    auto req = make_request(verb::get, "/v6-allowed", "app.example.com");
    StringResponse res;
    REQUIRE(!client.request(req, res));
    CHECK(res.result_int() == 200);
  }
  {
    TlsClient client(px.https_port(), px.client_options("api.example.com"));
    CHECK(client.connect());
  }
  CHECK(has_target(upstream, "/v6-allowed"));
  CHECK(upstream.request_count() == 1);
}

TEST_CASE("the plain HTTP listener holds allowlists: no redirect and no challenge answer for a client outside one",
          "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.endpoints.push_back({"private", {"private.example.com"}, {upstream.address()}, "external", {"127.0.0.2/32"}});
  PortcullisFixture px(options);
  const std::string challenge = "/.well-known/acme-challenge/tok";

  // An open endpoint on the listener: 127.0.0.1 gets past accept, then the private name's
  // allowlist refuses it on every path.
  for (const std::string& path : {std::string("/x"), challenge}) {
    INFO(path);
    auto refused = px.curl_http("private.example.com", path);
    CHECK(refused.status == 403);
    CHECK(refused.body == "forbidden\n");
    CHECK(!refused.header("Location"));
  }
  // From inside the allowlist: redirected, and the challenge path is looked up (empty board: 404).
  auto allowed = px.curl_http("private.example.com", "/x", {"--interface", "127.0.0.2"});
  INFO(allowed.err);
  CHECK(allowed.status == 308);
  CHECK(allowed.header("Location").value_or("").rfind("https://private.example.com", 0) == 0);
  CHECK(px.curl_http("private.example.com", challenge, {"--interface", "127.0.0.2"}).status == 404);
  // The open endpoint still redirects everybody.
  CHECK(px.curl_http("app.example.com", "/x").status == 308);

  // Only allowlisted endpoints left: a client none of them admits is closed at accept, with no
  // response at all, whatever name it asks for.
  auto next = px.options();
  next.endpoints = {{"private", {"private.example.com"}, {upstream.address()}, "external", {"127.0.0.2/32"}}};
  px.rewrite_config(next);
  REQUIRE(px.reload() == ReloadOutcome::applied);
  for (const std::string host : {"private.example.com", "app.example.com"}) {
    INFO(host);
    auto closed = px.curl_http(host, "/x");
    CHECK(closed.exit_code != 0);
    CHECK(closed.status == 0);
  }
  CHECK(px.log().find("connection refused listener=http peer=127.0.0.1 reason=allowlist") != std::string::npos);
  CHECK(px.curl_http("private.example.com", "/x", {"--interface", "127.0.0.2"}).status == 308);
  CHECK(upstream.head_count() == 0);
}

TEST_CASE("an internal endpoint is served only on an internal listener", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.internal_listener = true;
  options.endpoints.push_back({"inside", {"internal.example.com"}, {upstream.address()}, "internal"});
  PortcullisFixture px(options);

  auto external = px.curl("internal.example.com", "/from-outside");
  CHECK((external.status == 421 || external.status == 404));
  CHECK(px.served_serial("internal.example.com") != certs.api.serial);

  TlsClient client(px.internal_port(), px.client_options("internal.example.com"));
  REQUIRE(!client.connect());
  CHECK(client.peer_serial() == certs.api.serial);
  auto req = make_request(verb::get, "/from-inside", "internal.example.com");
  StringResponse res;
  REQUIRE(!client.request(req, res));
  CHECK(res.result_int() == 200);
  CHECK(!has_target(upstream, "/from-outside"));
  CHECK(has_target(upstream, "/from-inside"));
}

// --- WebSocket -----------------------------------------------------------------------------------

TEST_CASE("a WebSocket upgrade is tunnelled to the upstream", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);
  beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
  auto& tcp = beast::get_lowest_layer(ws);
  boost::system::error_code ec;
  // Runs until the one pending operation completes (the websocket stream keeps timers of its own,
  // so the io_context never runs out of work by itself).
  bool done = false;
  auto run = [&] {
    ioc.restart();
    while (!done && ioc.run_one()) {
    }
    done = false;
  };
  tcp.expires_after(5s);
  tcp.async_connect({asio::ip::make_address("127.0.0.1"), px.https_port()}, [&](auto e) { ec = e; done = true; });
  run();
  REQUIRE(!ec);
  SSL_set_tlsext_host_name(ws.next_layer().native_handle(), "app.example.com");
  tcp.expires_after(5s);
  ws.next_layer().async_handshake(asio::ssl::stream_base::client, [&](auto e) { ec = e; done = true; });
  run();
  REQUIRE(!ec);
  // From here on the websocket stream owns the deadlines (Beast: a tcp_stream under a websocket
  // stream must not have its own).
  tcp.expires_never();
  ws.set_option(beast::websocket::stream_base::timeout{5s, 5s, false});
  ws.async_handshake("app.example.com", "/ws", [&](auto e) { ec = e; done = true; });
  run();
  INFO("websocket handshake: " << ec.message());
  REQUIRE(!ec);

  for (const auto& message : std::vector<std::string>{"hello", pattern_bytes(100 * 1024)}) {
    ws.binary(message.size() > 5);
    ws.async_write(asio::buffer(message), [&](auto e, auto) { ec = e; done = true; });
    run();
    INFO("websocket write: " << ec.message());
    REQUIRE(!ec);
    beast::flat_buffer buffer;
    ws.async_read(buffer, [&](auto e, auto) { ec = e; done = true; });
    run();
    INFO("websocket read: " << ec.message());
    REQUIRE(!ec);
    CHECK(beast::buffers_to_string(buffer.data()) == message);
  }
  ws.async_close(beast::websocket::close_code::normal, [&](auto e) { ec = e; done = true; });
  run();
  CHECK(upstream.websocket_messages() == 2);
  CHECK(has_target(upstream, "/ws"));
}
