// Connection and descriptor exhaustion against the real binary: the per-address caps of the
// proxy's listeners, the admin listener and DNS over TCP (the extra connections are closed at
// accept, another address is unaffected), DNS over TCP's idle timeout and query cap (RFC 7766),
// the admin token checked before a request body is read, the accept loops' pause when the
// process runs out of descriptors, and the descriptor limit raised at start.
#include <sys/resource.h>

#include <unistd.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/load_generator.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;

// A held connection shows no close within this; a refused one closes well within `refused_close`.
constexpr Millis held_probe = 300ms;
constexpr Millis refused_close = 3s;

// The value of a metric line (name with its labels, exactly as written), or -1.
double metric(const std::string& text, const std::string& series) {
  const std::regex line("(^|\n)" + std::regex_replace(series, std::regex(R"([{}"\[\]])"), R"(\$&)") + R"( (\S+))");
  std::smatch m;
  return std::regex_search(text, m, line) ? std::stod(m[2]) : -1;
}

// Opens `n` connections from `from` to port; each must stay open.
std::vector<RawConnection> hold(std::uint16_t port, const std::string& from, int n) {
  std::vector<RawConnection> held;
  for (int i = 0; i < n; ++i) {
    auto c = RawConnection::open("127.0.0.1", port, from);
    REQUIRE(c);
    held.push_back(std::move(*c));
  }
  for (auto& c : held) REQUIRE_FALSE(c.closed_within(held_probe));
  return held;
}

// A connection from `from` that the server closes at once (connect succeeds: the kernel accepts).
bool closed_at_accept(std::uint16_t port, const std::string& from) {
  auto c = RawConnection::open("127.0.0.1", port, from);
  return c && c->closed_within(refused_close);
}

// Sends a query and waits for a framed answer with the same id.
bool answered(RawConnection& c, std::uint16_t id) {
  const std::size_t before = c.received().size();
  if (!c.send(framed_soa_query(id))) return false;
  const std::string id_bytes{static_cast<char>(id >> 8), static_cast<char>(id & 0xFF)};
  if (!c.received_within(id_bytes, 2s)) return false;
  return c.received().find(id_bytes, before) != std::string::npos;
}

}  // namespace

TEST_CASE("connections past limits.max_connections_per_ip from one address are closed at accept, another "
          "address is served",
          "[integration][limits]") {
  StandardCerts certs;
  UpstreamServer upstream;
  FixtureOptions o;
  o.default_cert = certs.default_cert;
  o.certificates = {certs.app};
  o.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  o.limits = {{"max_connections_per_ip", "4"}};
  o.admin = true;
  PortcullisFixture px(o);

  // The limit is counted over the https and http listeners together, across both workers.
  auto held = hold(px.https_port(), "127.0.0.2", 3);
  auto plain = hold(px.http_port(), "127.0.0.2", 1);
  CHECK(closed_at_accept(px.https_port(), "127.0.0.2"));
  CHECK(closed_at_accept(px.http_port(), "127.0.0.2"));

  // Another address is unaffected: a full request through TLS.
  auto opts = px.client_options("app.example.com");
  opts.bind_address = "127.0.0.3";
  TlsClient client(px.https_port(), opts);
  REQUIRE_FALSE(client.connect());
  auto req = make_request(http::verb::get, "/", "app.example.com");
  StringResponse res;
  REQUIRE_FALSE(client.request(req, res));
  CHECK(res.result_int() == 200);

  // A connection that ends gives its place back.
  held.pop_back();
  REQUIRE(wait_until(
      [&] {
        auto c = RawConnection::open("127.0.0.1", px.https_port(), "127.0.0.2");
        if (!c || c->closed_within(held_probe)) return false;
        held.push_back(std::move(*c));
        return true;
      },
      5s, 100ms));

  auto scrape = px.admin("GET", "/metrics", px.admin_token());
  CHECK(metric(scrape.body, R"(portcullis_connections_refused_total{reason="per_ip"})") >= 2);
  CHECK(count_occurrences(px.log(), "reason=max_connections_per_ip limit=4") >= 1);
  // RLIMIT_NOFILE raised to the hard limit at start, and logged.
  rlimit own{};
  ::getrlimit(RLIMIT_NOFILE, &own);
  CHECK(count_occurrences(px.log(), fmt::format("open file limit soft={} hard={}", own.rlim_max, own.rlim_max)) == 1);
}

TEST_CASE("the admin listener closes connections past admin.max_connections_per_ip at accept", "[integration][limits]") {
  FixtureOptions o;
  o.admin = true;
  // The fixture writes [admin] last, so this line lands in it.
  o.extra_toml = "max_connections_per_ip = 3";
  PortcullisFixture px(o);
  auto held = hold(px.admin_port(), "127.0.0.2", 3);
  CHECK(closed_at_accept(px.admin_port(), "127.0.0.2"));
  // Another address still reaches the API.
  auto other = RawConnection::open("127.0.0.1", px.admin_port(), "127.0.0.3");
  REQUIRE(other);
  REQUIRE(other->send(fmt::format("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                                  px.admin_port())));
  CHECK(other->received_within("HTTP/1.1 200", 5s));
  CHECK(count_occurrences(px.log(), "reason=max_connections_per_ip") >= 1);
}

TEST_CASE("an unauthenticated admin POST with a huge body is answered 401 before the body is read",
          "[integration][limits]") {
  FixtureOptions o;
  o.admin = true;
  PortcullisFixture px(o);
  auto c = RawConnection::open("127.0.0.1", px.admin_port());
  REQUIRE(c);
  // A gigabyte announced, a few bytes sent: the answer cannot wait for the body.
  const auto started = Clock::now();
  REQUIRE(c->send(fmt::format("POST /api/v1/endpoints HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n"
                              "Content-Length: 1000000000\r\n\r\n{{\"id\":",
                              px.admin_port())));
  REQUIRE(c->received_within("\r\n\r\n", 2s));
  const auto elapsed = Clock::now() - started;
  CHECK(c->received().starts_with("HTTP/1.1 401"));
  CHECK(c->received().find("WWW-Authenticate: Bearer") != std::string::npos);
  CHECK(elapsed < 1s);
  // It is not read on: the server closes the connection (after a bounded linger).
  CHECK(c->closed_within(5s));

  // With the token, the same head is read on (the body limit answers then: 413, not 401).
  auto d = RawConnection::open("127.0.0.1", px.admin_port());
  REQUIRE(d);
  REQUIRE(d->send(fmt::format("POST /api/v1/endpoints HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", px.admin_port()) +
                  "Authorization: Bearer " + px.admin_token() +
                  "\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"));
  REQUIRE(d->received_within("\r\n\r\n", 5s));
  CHECK(d->received().starts_with("HTTP/1.1 413"));
}

TEST_CASE("DNS over TCP: a cap per address, an idle timeout and a cap on queries per connection",
          "[integration][limits][dns]") {
  const std::uint16_t dns_port = free_port();
  FixtureOptions o;
  o.endpoints.push_back(EndpointSpec("elb-1", {"app.example.com"}, {"127.0.0.1:9"}));
  o.extra_toml = fmt::format(
      "[dns]\nzone = \"edge.example.net\"\nlisten = [\"127.0.0.1:{}\"]\ntcp_idle_timeout = \"1s\"\n"
      "tcp_max_queries = 3\ntcp_max_connections_per_ip = 2\n[dns.addresses]\nexternal = [\"127.0.0.1\"]\n",
      dns_port);
  PortcullisFixture px(o);
  REQUIRE(wait_until([&] { return can_connect("127.0.0.1", dns_port, 200ms); }, 10s));

  SECTION("the third connection from one address is closed at accept, another address is answered") {
    auto first = RawConnection::open("127.0.0.1", dns_port, "127.0.0.2");
    auto second = RawConnection::open("127.0.0.1", dns_port, "127.0.0.2");
    REQUIRE((first && second));
    REQUIRE(answered(*first, 1));
    REQUIRE(answered(*second, 2));
    CHECK(closed_at_accept(dns_port, "127.0.0.2"));
    auto other = RawConnection::open("127.0.0.1", dns_port, "127.0.0.3");
    REQUIRE(other);
    CHECK(answered(*other, 3));
    CHECK(count_occurrences(px.log(), "tcp connection refused peer=127.0.0.2 reason=max_connections_per_ip") >= 1);
  }
  SECTION("a connection without a query is closed after tcp_idle_timeout") {
    auto c = RawConnection::open("127.0.0.1", dns_port);
    REQUIRE(c);
    const auto started = Clock::now();
    REQUIRE(c->closed_within(5s));
    const auto elapsed = Clock::now() - started;
    CHECK(elapsed >= 900ms);
    CHECK(elapsed < 3s);
    // A query trickled byte by byte counts as one wait: it does not reset the deadline.
    auto t = RawConnection::open("127.0.0.1", dns_port);
    REQUIRE(t);
    const auto query = framed_soa_query(7);
    const auto trickle_started = Clock::now();
    REQUIRE(t->send(query.substr(0, 3)));
    CHECK(t->closed_within(5s));
    CHECK(Clock::now() - trickle_started < 3s);
  }
  SECTION("after tcp_max_queries answers the server closes the connection") {
    auto c = RawConnection::open("127.0.0.1", dns_port);
    REQUIRE(c);
    for (std::uint16_t id = 10; id < 13; ++id) REQUIRE(answered(*c, id));
    CHECK(c->closed_within(2s));
  }
}

TEST_CASE("out of descriptors, the proxy pauses accepting instead of spinning and recovers",
          "[integration][limits]") {
  StandardCerts certs;
  UpstreamServer upstream;
  FixtureOptions o;
  o.default_cert = certs.default_cert;
  o.certificates = {certs.app};
  o.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  o.log_level = "info";
  PortcullisFixture px(o);
  // The running binary's descriptor limit lowered from outside (prlimit(1) on its PID): it has
  // raised its own at start, so the limit is set after that.
  const auto limited = run_command(
      {"prlimit", "--pid", std::to_string(px.process().pid()), "--nofile=128:128"}, 5s);
  REQUIRE(limited.exit_code == 0);

  // Far more connections than descriptors, from several addresses (none reaches its cap).
  std::vector<RawConnection> flood;
  for (int i = 0; i < 400; ++i) {
    if (auto c = RawConnection::open("127.0.0.1", px.https_port(), fmt::format("127.0.0.{}", 2 + i % 8), 500ms)) {
      flood.push_back(std::move(*c));
    }
  }
  REQUIRE(wait_until([&] { return count_occurrences(px.log(), "paused_ms=100") >= 1; }, 5s));
  // No spin: over a second at the limit the process uses a fraction of a core.
  const auto cpu = [&] {
    const auto stat = read_file(fmt::format("/proc/{}/stat", px.process().pid()));
    const auto fields = stat.substr(stat.rfind(')') + 2);
    std::istringstream in(fields);
    std::string skip;
    for (int i = 0; i < 11; ++i) in >> skip;  // state .. cmajflt
    long utime = 0, stime = 0;
    in >> utime >> stime;
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  };
  const double before = cpu();
  const auto window_start = Clock::now();
  REQUIRE_FALSE(wait_until([&] { return !px.process().running(); }, 1s, 100ms));
  const double used = cpu() - before;
  const double wall = std::chrono::duration<double>(Clock::now() - window_start).count();
  INFO("cpu seconds " << used << " over " << wall << " s");
  CHECK(used < 0.3 * wall);
  // Rate-limited lines: not one per failed accept.
  CHECK(count_occurrences(px.log(), "accept failed") <= 100);

  flood.clear();
  // Served again once the flood has gone.
  REQUIRE(wait_until(
      [&] {
        TlsClient client(px.https_port(), px.client_options("app.example.com"));
        if (client.connect()) return false;
        auto req = make_request(http::verb::get, "/", "app.example.com");
        StringResponse res;
        return !client.request(req, res) && res.result_int() == 200;
      },
      10s, 100ms));
}
