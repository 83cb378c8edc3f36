// testssl.sh (Debian `testssl.sh`) against a running https listener: protocols, cipher categories,
// forward secrecy and the known TLS vulnerabilities, as an outside auditor sees them. Part of
// `make test-slow` (about 20 s of scanning). docs/security.md describes what it checks.
#include <catch2/catch.hpp>

#include <set>
#include <sstream>

#include <boost/json.hpp>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;

constexpr Millis scan_deadline = 300s;

// Finding ids of testssl.sh 3.0 that must say "not offered": protocols below TLS 1.2 and every
// cipher category but the AEAD one ("AVERAGE" is its "Obsolete CBC ciphers" line).
const std::set<std::string> must_not_be_offered = {
    "SSLv2",           "SSLv3",           "TLS1",          "TLS1_1",         "cipherlist_NULL",
    "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"};
// Vulnerability checks (-U): each must be rated OK.
const std::set<std::string> vulnerabilities = {
    "heartbleed", "CCS",        "ticketbleed", "ROBOT",   "secure_renego", "secure_client_renego", "CRIME_TLS",
    "BREACH",     "POODLE_SSL", "fallback_SCSV", "SWEET32", "FREAK",       "DROWN",                "LOGJAM",
    "BEAST",      "LUCKY13",    "RC4"};

}  // namespace

TEST_CASE("testssl.sh finds no CBC, nothing below TLS 1.2, forward secrecy only and no known vulnerability",
          "[integration][tls][slow]") {
  if (run_command({"sh", "-c", "command -v testssl"}, 10s).exit_code != 0) FAIL("testssl is not installed (make test-slow installs it)");
  StandardCerts certs;
  UpstreamServer upstream;
  FixtureOptions o;
  o.workers = 1;  // every handshake on one worker: from the second on, the certificate's own context
  o.log_level = "info";
  o.default_cert = certs.default_cert;
  o.certificates = {certs.app};
  o.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  PortcullisFixture px(o);

  const auto report = px.dir() / "testssl.json";
  auto scan = run_command({"testssl", "--quiet", "--color", "0", "--warnings", "batch", "--ip", "127.0.0.1",
                           "--jsonfile", report.string(), "-p", "-s", "-f", "-U",
                           "https://app.example.com:" + std::to_string(px.https_port())},
                          scan_deadline);
  INFO(scan.out.substr(scan.out.size() > 6000 ? scan.out.size() - 6000 : 0));
  REQUIRE_FALSE(scan.timed_out);
  auto findings = boost::json::parse(read_file(report)).as_array();
  REQUIRE(findings.size() > 20);

  std::set<std::string> seen;
  for (const auto& f : findings) {
    const auto& o = f.as_object();
    const std::string id(o.at("id").as_string());
    const std::string severity(o.at("severity").as_string());
    const std::string finding(o.at("finding").as_string());
    INFO(id << " | " << severity << " | " << finding);
    seen.insert(id);
    // LOW and above is a weakness; WARN and INFO are about the scan itself.
    CHECK(severity != "LOW");
    CHECK(severity != "MEDIUM");
    CHECK(severity != "HIGH");
    CHECK(severity != "CRITICAL");
    if (must_not_be_offered.contains(id)) CHECK(finding.rfind("not offered", 0) == 0);
    if (vulnerabilities.contains(id)) CHECK(severity == "OK");
    if (id == "TLS1_2" || id == "TLS1_3") CHECK(finding.rfind("offered", 0) == 0);
    if (id == "PFS") CHECK(severity == "OK");
    if (id == "PFS_ciphers") {
      // Every suite offered has an ephemeral key exchange: ECDHE in TLS 1.2, all of TLS 1.3.
      std::istringstream suites(finding);
      for (std::string suite; suites >> suite;) CHECK((suite.rfind("ECDHE-", 0) == 0 || suite.rfind("TLS_", 0) == 0));
    }
  }
  for (const auto& id : must_not_be_offered) CHECK(seen.contains(id));
  for (const auto& id : vulnerabilities) CHECK(seen.contains(id));
  CHECK(seen.contains("PFS_ciphers"));
}
