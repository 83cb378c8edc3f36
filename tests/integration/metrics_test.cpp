// GET /metrics and the JSON log format against the real binary: a scrape after a Pebble issuance
// and proxied requests passes `promtool check metrics` (Debian package prometheus), its expiry
// gauge is the served certificate's notAfter as openssl reads it, the token is required unless
// [admin] metrics_public; docs/monitoring.md's example rules pass `promtool check rules`; with
// log_format = "json" every line of a run parses with its four fields; no key or token in any of it.
#include <ctime>
#include <iomanip>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/support/pebble.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;

constexpr Millis tool_deadline = 20s;
// A first issuance from a local Pebble takes well under a second; this leaves room for a loaded machine.
constexpr Millis issuance_deadline = 60s;

// The test needs promtool; without it the test fails and says what to install.
void require_promtool() {
  auto r = run_command({"promtool", "--version"}, tool_deadline);
  if (r.exit_code != 0) {
    FAIL("promtool not found (exit " << r.exit_code
                                     << "): install the Debian package prometheus (in the Makefile's TEST_PACKAGES)");
  }
}

// "name{labels}" -> value, for every sample line of a scrape.
std::map<std::string, double> samples_of(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double value_of(const std::map<std::string, double>& samples, const std::string& key) {
  auto it = samples.find(key);
  INFO("sample " << key);
  REQUIRE(it != samples.end());
  return it->second;
}

// notAfter of a PEM certificate as openssl prints it, in Unix seconds.
std::int64_t not_after_of(const std::string& pem) {
  auto r = run_command({"openssl", "x509", "-noout", "-enddate", "-dateopt", "iso_8601"}, tool_deadline, pem);
  INFO("openssl: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // "notAfter=2026-12-08 13:00:00Z"
  std::tm tm{};
  std::istringstream in(r.out.substr(r.out.find('=') + 1));
  in >> std::get_time(&tm, "%Y-%m-%d %H:%M:%S");
  REQUIRE_FALSE(in.fail());
  return static_cast<std::int64_t>(timegm(&tm));
}

// The leaf certificate served for `sni`, as PEM.
std::string served_pem(std::uint16_t port, const std::string& sni) {
  auto r = run_command({"openssl", "s_client", "-connect", fmt::format("127.0.0.1:{}", port), "-servername", sni},
                       tool_deadline);
  const auto begin = r.out.find("-----BEGIN CERTIFICATE-----");
  const auto end = r.out.find("-----END CERTIFICATE-----");
  INFO("openssl s_client: " << r.err);
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  return r.out.substr(begin, end + 25 - begin) + "\n";
}

// The base64 body of a PEM key: what would show if the key leaked anywhere, whatever the framing.
std::string key_material(const std::filesystem::path& key_file) {
  const std::string text = read_file(key_file);
  const auto start = text.find('\n') + 1;
  return text.substr(start, 40);
}

std::string promtool_check_metrics(const std::string& text) {
  auto r = run_command({"promtool", "check", "metrics"}, tool_deadline, text);
  return r.exit_code == 0 ? std::string() : fmt::format("exit {}: {}{}", r.exit_code, r.out, r.err);
}

}  // namespace

TEST_CASE("a scrape after an issuance and proxied requests passes promtool and reports the served expiry",
          "[integration][metrics]") {
  require_promtool();
  StandardCerts certs;
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  FixtureOptions options;
  options.admin = true;
  options.http_port = http_port;
  options.default_cert = certs.default_cert;
  options.certificates = {certs.api};
  EndpointSpec shop("shop", {"shop.example.com"}, {upstream.address()});
  shop.managed_https = true;
  options.endpoints = {shop, EndpointSpec("api", {"api.example.com"}, {upstream.address()})};
  options.extra_toml = fmt::format("[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n", pebble.directory_url(),
                                   pebble.ca_bundle().string());
  PortcullisFixture px(options);
  const std::string token = px.admin_token();

  REQUIRE(wait_until([&] { return px.log().find("certificate issued endpoint=shop ") != std::string::npos; },
                     issuance_deadline, 50ms));
  constexpr int requests = 5;
  for (int i = 0; i < requests; ++i) {
    auto r = px.curl("shop.example.com", "/hello");
    REQUIRE(r.status == 200);
  }
  CHECK(px.curl_http("shop.example.com", "/").status == 308);

  auto scrape = px.admin("GET", "/metrics", token);
  REQUIRE(scrape.status == 200);
  CHECK(scrape.header("content-type") == std::optional<std::string>("text/plain; version=0.0.4; charset=utf-8"));
  INFO(scrape.body);
  CHECK(promtool_check_metrics(scrape.body) == "");

  const auto samples = samples_of(scrape.body);
  const auto served = not_after_of(served_pem(px.https_port(), "shop.example.com"));
  CHECK(value_of(samples, R"(portcullis_certificate_not_after_seconds{endpoint="shop",source="managed",name="shop.example.com"})") ==
        static_cast<double>(served));
  CHECK(value_of(samples, R"(portcullis_certificate_not_after_seconds{endpoint="",source="file",name="api.example.com"})") ==
        static_cast<double>(not_after_of(read_file(certs.api.cert))));
  CHECK(value_of(samples, R"(portcullis_certificate_not_after_seconds{endpoint="",source="default",name="default.invalid"})") ==
        static_cast<double>(not_after_of(read_file(certs.default_cert.cert))));
  const double next_renewal = value_of(samples, R"(portcullis_certificate_next_renewal_seconds{endpoint="shop"})");
  CHECK(next_renewal > static_cast<double>(std::time(nullptr)));
  CHECK(next_renewal < static_cast<double>(served));
  CHECK(value_of(samples, R"(portcullis_renewal_attempts_total{endpoint="shop"})") >= 1);
  CHECK(value_of(samples, R"(portcullis_renewal_failures_total{endpoint="shop"})") == 0);
  // Every alert kind is listed; nothing fires for an endpoint that was issued at once.
  CHECK(value_of(samples, R"(portcullis_alerts_firing{kind="dns_record_missing"})") == 0);
  CHECK(value_of(samples, R"(portcullis_alerts_firing{kind="issuance_failed"})") == 0);
  CHECK(value_of(samples, R"(portcullis_acme_requests_total{type="newOrder",status="201"})") >= 1);
  CHECK(value_of(samples, R"(portcullis_acme_requests_total{type="finalize",status="200"})") >= 1);
  CHECK(value_of(samples, R"(portcullis_acme_requests_total{type="certificate",status="200"})") >= 1);

  CHECK(value_of(samples, "portcullis_tls_handshakes_total") >= requests);
  CHECK(value_of(samples, R"(portcullis_http_responses_total{code_class="2xx"})") >= requests);
  CHECK(value_of(samples, R"(portcullis_http_responses_total{code_class="3xx"})") >= 1);
  CHECK(value_of(samples, "portcullis_http_requests_total") >= requests + 1);
  CHECK(value_of(samples, "portcullis_upstream_errors_total") == 0);
  CHECK(value_of(samples, "portcullis_upstream_response_seconds_count") == requests);
  CHECK(value_of(samples, R"(portcullis_upstream_response_seconds_bucket{le="+Inf"})") == requests);
  CHECK(value_of(samples, "portcullis_upstream_response_seconds_sum") > 0);
  CHECK(samples.contains("portcullis_open_connections"));
  CHECK(value_of(samples, "portcullis_control_loop_lag_seconds_count") >= 1);
  CHECK(value_of(samples, fmt::format(R"(portcullis_build_info{{version="{}"}})", PORTCULLIS_VERSION)) == 1);

  // The token is required, and a wrong one is refused.
  CHECK(px.admin("GET", "/metrics", std::nullopt).status == 401);
  CHECK(px.admin("GET", "/metrics", std::string(token.size(), 'x')).status == 401);

  // Neither the token nor a private key in the scrape or the log.
  CHECK(scrape.body.find(token) == std::string::npos);
  CHECK(px.log().find(token) == std::string::npos);
  for (const auto& key : {certs.api.key, certs.default_cert.key}) {
    const auto material = key_material(key);
    CHECK(scrape.body.find(material) == std::string::npos);
    CHECK(px.log().find(material) == std::string::npos);
  }
}

TEST_CASE("with metrics_public, /metrics answers without the token and nothing else does", "[integration][metrics]") {
  require_promtool();
  FixtureOptions options;
  options.admin = true;
  options.metrics_public = true;
  PortcullisFixture px(options);
  auto scrape = px.admin("GET", "/metrics", std::nullopt);
  REQUIRE(scrape.status == 200);
  CHECK(promtool_check_metrics(scrape.body) == "");
  // No [acme]: the certificate families are there, with the default certificate alone.
  CHECK(scrape.body.find("# TYPE portcullis_renewal_attempts_total counter") != std::string::npos);
  CHECK(scrape.body.find(R"(source="default")") != std::string::npos);
  CHECK(px.admin("GET", "/api/v1/endpoints", std::nullopt).status == 401);
  CHECK(px.admin("GET", "/metrics", px.admin_token()).status == 200);
}

TEST_CASE("the example alert rules in docs/monitoring.md pass promtool", "[integration][metrics]") {
  require_promtool();
  const std::string doc = read_file(source_dir() / "docs" / "monitoring.md");
  const auto heading = doc.find("### Example alert rules");
  REQUIRE(heading != std::string::npos);
  const auto begin = doc.find("```yaml\n", heading);
  REQUIRE(begin != std::string::npos);
  const auto end = doc.find("```\n", begin + 8);
  REQUIRE(end != std::string::npos);
  TempDir dir("portcullis-rules");
  const auto rules = dir.path() / "rules.yml";
  write_file(rules, doc.substr(begin + 8, end - begin - 8));
  auto r = run_command({"promtool", "check", "rules", rules.string()}, tool_deadline);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("SUCCESS: 8 rules found") != std::string::npos);
}

TEST_CASE("with log_format = json every line of a run is a JSON object with time, level, logger and message",
          "[integration][metrics]") {
  StandardCerts certs;
  UpstreamServer upstream;
  FixtureOptions options;
  options.admin = true;
  options.log_format = "json";
  options.log_level = "debug";
  options.certificates = {certs.app};
  options.endpoints = {EndpointSpec("app", {"app.example.com"}, {upstream.address()})};
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  CHECK(px.curl("app.example.com", "/hello").status == 200);
  // A request whose Host is not a name: logged (debug) with what the client sent.
  CHECK(px.curl("app.example.com", "/", {"-H", "Host: bad\"host\\"}).status >= 400);
  CHECK(px.admin("GET", "/api/v1/endpoints", token).status == 200);
  CHECK(px.reload() == ReloadOutcome::applied);
  REQUIRE(px.stop() == std::optional<int>(0));

  const std::string log = px.log();
  std::istringstream lines(log);
  std::string line;
  std::size_t count = 0;
  std::set<std::string> loggers;
  const std::regex rfc3339_ms(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  while (std::getline(lines, line)) {
    INFO("line " << count + 1 << ": " << line);
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(v.is_object());
    const auto& o = v.as_object();
    CHECK(o.size() == 4);
    REQUIRE(o.contains("time"));
    CHECK(std::regex_match(std::string(o.at("time").as_string()), rfc3339_ms));
    CHECK(o.contains("level"));
    CHECK(o.contains("message"));
    loggers.insert(std::string(o.at("logger").as_string()));
    ++count;
  }
  CHECK(count >= 5);
  CHECK(loggers.contains("proxy"));
  CHECK(loggers.contains("admin"));
  CHECK(log.find(R"("message":"config reloaded )") != std::string::npos);
  CHECK(log.find(token) == std::string::npos);
  CHECK(log.find(key_material(certs.app.key)) == std::string::npos);
}
