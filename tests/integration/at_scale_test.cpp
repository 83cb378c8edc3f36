// At scale against the real binary: connections that trickle request headers, TLS connections that
// read a large response slowly, and a DNS-over-TCP flood from one address, all at once, while a
// normal HTTPS client and a normal DNS client measure their latency. The [slow] run holds 10,000
// trickling and 1,000 slow-reading connections for 60 s (`make test-slow`); the [integration]
// variant the same for 10 s at a tenth of the count. The figures are printed and recorded in
// docs/security.md.
#include <cstdio>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/support/load_generator.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/raw_connection.hpp"

namespace {

using namespace portcullis::testing;

// What every run must show, whatever its size.
void check_report(const LoadPlan& plan, const LoadReport& r, std::uint64_t rss_bound_kib) {
  std::printf("%s", r.summary().c_str());
  INFO(r.summary());
  // Every slow connection was closed by the server by its deadline; none outlived it.
  CHECK(r.trickle.late == 0);
  CHECK(r.slow_readers.late == 0);
  CHECK(r.dns_flood.late == 0);
  CHECK(r.trickle.closed_by_deadline >= plan.trickle);
  CHECK(r.slow_readers.closed_by_deadline >= plan.slow_readers);
  // The hostile connections were held at the sizes planned (none refused: under every cap).
  CHECK(r.trickle.max_held >= plan.trickle * 9 / 10);
  CHECK(r.slow_readers.max_held >= plan.slow_readers * 9 / 10);
  // One address's DNS flood: past its cap, closed at accept. (max_held counts the client's side,
  // connections the server has closed but the client has not yet read the end of.)
  CHECK(r.dns_flood.closed_early > 0);
  CHECK(r.dns_flood.closed_by_deadline > 0);
  // Normal clients are served throughout, fast.
  CHECK(r.normal_https.failures == 0);
  CHECK(r.normal_https.samples > 0);
  CHECK(r.normal_https.p99_ms < 50);
  CHECK(r.normal_dns.failures == 0);
  CHECK(r.normal_dns.p99_ms < 50);
  // Bounded: descriptors by the connections held, memory by a fixed bound; all back at the end.
  CHECK(r.max_fds <= plan.trickle + 2 * plan.slow_readers + 64 + 256);
  CHECK(r.max_rss_kib < rss_bound_kib);
  CHECK(r.end_fds < 100);
}

void run_at_scale(LoadPlan plan, std::uint64_t rss_bound_kib) {
  REQUIRE(raise_own_file_limit() >= plan.trickle + 2 * plan.slow_readers + plan.dns_flood + 512);
  StandardCerts certs;
  StreamingUpstream upstream;
  FixtureOptions o;
  o.log_level = "warn";
  o.default_cert = certs.default_cert;
  o.certificates = {certs.app};
  o.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  const auto ms = [](Millis d) { return fmt::format("\"{}ms\"", d.count()); };
  o.limits = {{"header_timeout", ms(plan.header_timeout)}, {"idle_timeout", ms(plan.idle_timeout)}};
  plan.dns_port = free_port();
  o.extra_toml = fmt::format(
      "[dns]\nzone = \"edge.example.net\"\nlisten = [\"127.0.0.1:{}\"]\ntcp_idle_timeout = {}\n"
      "[dns.addresses]\nexternal = [\"127.0.0.1\"]\n",
      plan.dns_port, ms(plan.dns_idle_timeout));
  PortcullisFixture px(o);
  plan.http_port = px.http_port();
  plan.https_port = px.https_port();
  REQUIRE(wait_until([&] { return can_connect("127.0.0.1", plan.dns_port, 200ms); }, 10s));
  const auto report = run_load(plan, px.process().pid());
  check_report(plan, report, rss_bound_kib);
  CHECK(px.process().running());
}

}  // namespace

TEST_CASE("at scale for 10 s: trickling headers, slow readers and a DNS TCP flood leave normal clients fast",
          "[integration][limits][scale]") {
  LoadPlan plan;
  plan.duration = 10s;
  plan.trickle = 1'000;
  plan.slow_readers = 100;
  plan.dns_flood = 200;
  plan.slack = 3s;
  plan.header_timeout = plan.idle_timeout = plan.dns_idle_timeout = 3s;
  run_at_scale(plan, 256 * 1024);
}

TEST_CASE("at scale for 60 s: 10,000 trickling, 1,000 slow readers and a DNS TCP flood leave normal clients fast",
          "[slow][limits][scale]") {
  LoadPlan plan;
  plan.duration = 60s;
  plan.ramp = 5s;
  // One client thread drives 11,500 connections: it notices a close later than the server makes it.
  plan.slack = 5s;
  plan.trickle_interval = 3s;
  plan.trickle = 10'000;
  plan.slow_readers = 1'000;
  plan.dns_flood = 500;
  plan.header_timeout = plan.idle_timeout = plan.dns_idle_timeout = 10s;
  run_at_scale(plan, 1024 * 1024);
}
