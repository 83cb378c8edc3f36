// The TLS policy seen from outside, handshake after handshake. A worker serves the first handshake
// for a certificate from the listener's SSL_CTX and later ones from a context of the certificate's
// own (switched in by the certificate callback): both must refuse the same offers and negotiate
// the same suites, and sessions must resume across the switch.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/ssl.h>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
using boost::beast::http::verb;

// Enough handshakes for one name on one worker that the per-certificate context is long in use.
constexpr int handshakes_per_name = 50;
// TLS 1.2 suites the Mozilla intermediate profile excludes: CBC with HMAC (LUCKY13), for the ECDSA
// test certificates. The client allows them at security level 0.
constexpr const char* cbc_only =
    "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:@SECLEVEL=0";

FixtureOptions one_worker(const StandardCerts& certs, const UpstreamServer& upstream, std::string min_version) {
  FixtureOptions o;
  o.workers = 1;  // every handshake on the worker whose per-certificate context is under test
  o.log_level = "info";
  o.default_cert = certs.default_cert;
  o.certificates = {certs.app};
  o.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  o.min_tls_version = std::move(min_version);
  return o;
}

struct Offer {
  std::string name;
  std::string ciphers;
  int min_version = 0, max_version = 0;
};

struct Outcome {
  bool ok = false;
  std::string version, cipher;
};
const Outcome refused{false, "", ""};

Outcome handshake(const PortcullisFixture& px, const Offer& offer) {
  auto o = px.client_options("app.example.com");
  o.ciphers = offer.ciphers;
  o.min_version = offer.min_version;
  o.max_version = offer.max_version;
  TlsClient client(px.https_port(), o);
  Outcome out;
  out.ok = !client.connect();
  if (out.ok) {
    out.version = client.tls_version();
    out.cipher = client.cipher();
  }
  return out;
}

const Offer cbc_offer{"a TLS 1.2 offer of CBC suites only", cbc_only, TLS1_2_VERSION, TLS1_2_VERSION};
const Offer tls11_offer{"a TLS 1.1 offer", "DEFAULT:@SECLEVEL=0", TLS1_1_VERSION, TLS1_1_VERSION};
const Offer tls12_offer{"a TLS 1.2 offer", "", TLS1_2_VERSION, TLS1_2_VERSION};
const Offer tls13_offer{"a TLS 1.3 offer", "", TLS1_3_VERSION, TLS1_3_VERSION};

// The handshakes (1-based) among `handshakes_per_name` whose outcome differs from `expected`. The
// server takes the client's order among the profile's suites: OpenSSL's client puts AES-256-GCM first.
std::vector<std::string> deviations(const PortcullisFixture& px, const std::vector<std::pair<Offer, Outcome>>& plan) {
  std::vector<std::string> wrong;
  for (int i = 1; i <= handshakes_per_name; ++i) {
    for (const auto& [offer, expected] : plan) {
      auto got = handshake(px, offer);
      if (got.ok != expected.ok || (expected.ok && (got.version != expected.version || got.cipher != expected.cipher))) {
        wrong.push_back(fmt::format("handshake {} with {}: {} {} {}", i, offer.name, got.ok ? "accepted" : "refused",
                                    got.version, got.cipher));
      }
    }
  }
  return wrong;
}

}  // namespace

TEST_CASE("every handshake for a name gets the listener's TLS policy, the first as the fiftieth", "[integration][tls]") {
  StandardCerts certs;
  UpstreamServer upstream;

  SECTION("min_version 1.2: CBC suites and TLS 1.1 are refused every time, TLS 1.2 negotiates an AEAD suite") {
    PortcullisFixture px(one_worker(certs, upstream, "1.2"));
    // Interleaved, so the per-certificate context is built while refused offers come and go.
    auto wrong = deviations(px, {{cbc_offer, refused},
                                 {tls11_offer, refused},
                                 {tls12_offer, {true, "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"}},
                                 {tls13_offer, {true, "TLSv1.3", "TLS_AES_256_GCM_SHA384"}}});
    INFO(fmt::format("{}", fmt::join(wrong, "\n")));
    CHECK(wrong.empty());
  }
  SECTION("min_version 1.3: TLS 1.2 is refused every time") {
    PortcullisFixture px(one_worker(certs, upstream, "1.3"));
    auto wrong = deviations(px, {{tls12_offer, refused},
                                 {cbc_offer, refused},
                                 {tls13_offer, {true, "TLSv1.3", "TLS_AES_256_GCM_SHA384"}}});
    INFO(fmt::format("{}", fmt::join(wrong, "\n")));
    CHECK(wrong.empty());
  }
}

TEST_CASE("sessions resume across the switch to a certificate's own TLS context", "[integration][tls]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(one_worker(certs, upstream, "1.2"));

  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    INFO("TLS version 0x" << std::hex << version);
    // The first handshake is served by the listener's context; its ticket is then offered to the
    // later ones, served by the certificate's own context.
    std::shared_ptr<SSL_SESSION> session;
    int resumed = 0;
    for (int i = 1; i <= 10; ++i) {
      auto o = px.client_options("app.example.com");
      o.min_version = o.max_version = version;
      o.resume = session;
      TlsClient client(px.https_port(), o);
      REQUIRE(!client.connect());
      auto req = make_request(verb::get, "/resume", "app.example.com");
      StringResponse res;
      REQUIRE(!client.request(req, res));  // a TLS 1.3 ticket arrives after the handshake
      CHECK(res.result_int() == 200);
      if (i > 1 && client.session_reused()) ++resumed;
      if (!session) session = client.session();
      REQUIRE(session);
    }
    CHECK(resumed == 9);
  }
}
