#include "acme/protocol.hpp"

#include <catch2/catch.hpp>

#include "acme/acme_client.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::acme;
using namespace std::chrono_literals;

Clock::time_point utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return std::chrono::sys_days(std::chrono::year(y) / std::chrono::month(m) / std::chrono::day(d)) +
         std::chrono::hours(hh) + std::chrono::minutes(mm) + std::chrono::seconds(ss);
}

// RFC 8555 §6.7.1.
constexpr std::string_view rfc8555_subproblems = R"({
  "type": "urn:ietf:params:acme:error:malformed",
  "detail": "Some of the identifiers requested were rejected",
  "subproblems": [
    {"type": "urn:ietf:params:acme:error:malformed",
     "detail": "Invalid underscore in DNS name \"_example.org\"",
     "identifier": {"type": "dns", "value": "_example.org"}},
    {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
     "detail": "This CA will not issue for \"example.net\"",
     "identifier": {"type": "dns", "value": "example.net"}}
  ]
})";

}  // namespace

TEST_CASE("a problem document keeps type, detail, status and subproblems", "[unit][acme]") {
  auto problem = parse_problem(400, rfc8555_subproblems);
  CHECK(problem.status == 400);
  CHECK(problem.type == "urn:ietf:params:acme:error:malformed");
  CHECK(problem.detail == "Some of the identifiers requested were rejected");
  REQUIRE(problem.subproblems.size() == 2);
  CHECK(problem.subproblems[0].identifier == "_example.org");
  CHECK(problem.subproblems[1].type == "urn:ietf:params:acme:error:rejectedIdentifier");
  CHECK(problem.subproblems[1].detail == "This CA will not issue for \"example.net\"");

  SECTION("and becomes an acme Error that quotes the CA") {
    auto error = problem_error("new-order", "https://ca/new-order", problem);
    CHECK(error.code() == Errc::acme);
    CHECK(error.message() ==
          "acme: new-order https://ca/new-order: 400 urn:ietf:params:acme:error:malformed "
          "\"Some of the identifiers requested were rejected\"; "
          "_example.org: urn:ietf:params:acme:error:malformed \"Invalid underscore in DNS name \"_example.org\"\"; "
          "example.net: urn:ietf:params:acme:error:rejectedIdentifier \"This CA will not issue for \"example.net\"\"");
    REQUIRE(error.problem());
    CHECK(error.problem()->subproblems.size() == 2);
  }
}

TEST_CASE("a rate-limit problem reads like the style guide's example", "[unit][acme]") {
  auto problem = parse_problem(429, R"({"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many certificates"})");
  CHECK(problem_error("new-order", "https://ca/new-order", problem).message() ==
        "acme: new-order https://ca/new-order: 429 urn:ietf:params:acme:error:rateLimited \"too many certificates\"");
}

TEST_CASE("a body that is not a problem document is quoted, truncated", "[unit][acme]") {
  auto problem = parse_problem(502, "<html>\nBad Gateway</html>" + std::string(500, 'x'));
  CHECK(problem.status == 502);
  CHECK(problem.type.empty());
  CHECK(problem.detail.size() == 200);
  CHECK(problem.detail.rfind("<html> Bad Gateway", 0) == 0);
}

TEST_CASE("Retry-After is read as seconds or as an HTTP-date", "[unit][acme]") {
  const auto now = utc(2015, 10, 21, 7, 28, 0);
  CHECK(parse_retry_after("120", now) == 120s);
  CHECK(parse_retry_after(" 0 ", now) == 0s);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30s);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0s);  // already past
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("-5", now));
}

TEST_CASE("Link headers yield the alternate chain URLs", "[unit][acme]") {
  std::vector<std::string> values{
      R"(<https://ca/dir>;rel="index", <https://ca/cert/1/1>;rel="alternate")",
      R"(<https://ca/cert/1/2>; rel=alternate)",
      R"(<https://ca/issuer>; title="a, b"; rel="up alternate")"};
  CHECK(parse_link_header(values, "alternate") ==
        std::vector<std::string>{"https://ca/cert/1/1", "https://ca/cert/1/2", "https://ca/issuer"});
  CHECK(parse_link_header(values, "index") == std::vector<std::string>{"https://ca/dir"});
  CHECK(parse_link_header(values, "up") == std::vector<std::string>{"https://ca/issuer"});
  CHECK(parse_link_header({}, "alternate").empty());
}

TEST_CASE("RFC 3339 timestamps parse with fractions and offsets", "[unit][acme]") {
  CHECK(parse_rfc3339("2025-01-02T03:04:05Z") == utc(2025, 1, 2, 3, 4, 5));
  CHECK(parse_rfc3339("2025-01-02T03:04:05.5Z") == utc(2025, 1, 2, 3, 4, 5) + 500ms);
  CHECK(parse_rfc3339("2025-01-02T05:04:05+02:00") == utc(2025, 1, 2, 3, 4, 5));
  CHECK_FALSE(parse_rfc3339("2025-01-02"));
  CHECK_FALSE(parse_rfc3339("2025-01-02T03:04:05"));
}

TEST_CASE("a directory lists profiles, ARI and the EAB requirement", "[unit][acme]") {
  auto dir = parse_directory(R"({
    "newNonce": "https://ca/nonce", "newAccount": "https://ca/acct", "newOrder": "https://ca/order",
    "revokeCert": "https://ca/revoke", "keyChange": "https://ca/key", "renewalInfo": "https://ca/ari",
    "meta": {"termsOfService": "https://ca/tos", "externalAccountRequired": true,
             "profiles": {"classic": "The default", "shortlived": "6-day certificates"}}})");
  REQUIRE(dir);
  CHECK(dir->renewal_info == "https://ca/ari");
  CHECK(dir->external_account_required);
  CHECK(dir->profiles.size() == 2);
  CHECK(dir->profiles.at("shortlived") == "6-day certificates");

  SECTION("a directory without ARI and profiles (Pebble 2.4) is fine") {
    auto plain = parse_directory(
        R"({"newNonce":"https://ca/n","newAccount":"https://ca/a","newOrder":"https://ca/o","revokeCert":"https://ca/r"})");
    REQUIRE(plain);
    CHECK(plain->renewal_info.empty());
    CHECK(plain->profiles.empty());
  }
  SECTION("a directory without newOrder is refused") {
    CHECK_FALSE(parse_directory(R"({"newNonce":"https://ca/n","newAccount":"https://ca/a"})"));
  }
}

TEST_CASE("orders and authorizations parse with their errors", "[unit][acme]") {
  auto order = parse_order(R"({
    "status": "invalid", "identifiers": [{"type":"dns","value":"a.example"},{"type":"dns","value":"b.example"}],
    "authorizations": ["https://ca/authz/1", "https://ca/authz/2"], "finalize": "https://ca/finalize/1",
    "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "profile": "shortlived",
    "error": {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "no"}})");
  REQUIRE(order);
  CHECK(order->names == std::vector<std::string>{"a.example", "b.example"});
  CHECK(order->authorizations.size() == 2);
  CHECK(order->replaces == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  CHECK(order->profile == "shortlived");
  REQUIRE(order->error);
  CHECK(order->error->type == "urn:ietf:params:acme:error:unauthorized");

  auto authz = parse_authorization(R"({
    "status": "pending", "identifier": {"type":"dns","value":"example.org"}, "wildcard": true,
    "challenges": [{"type":"http-01","url":"https://ca/chall/1","status":"pending","token":"t1"},
                   {"type":"dns-01","url":"https://ca/chall/2","status":"invalid","token":"t2",
                    "error":{"type":"urn:ietf:params:acme:error:dns","detail":"NXDOMAIN"}}]})");
  REQUIRE(authz);
  CHECK(authz->wildcard);
  CHECK(authz->identifier == "example.org");
  REQUIRE(authz->challenge("dns-01"));
  CHECK(authz->challenge("dns-01")->error->detail == "NXDOMAIN");
  CHECK(authz->challenge("http-01")->token == "t1");
  CHECK(authz->challenge("tls-alpn-01") == nullptr);
}

TEST_CASE("renewalInfo gives the suggested window", "[unit][acme]") {
  auto info = parse_renewal_info(R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},
                                     "explanationURL":"https://ca/why"})");
  REQUIRE(info);
  CHECK(info->window_start == utc(2025, 1, 2, 4));
  CHECK(info->window_end == utc(2025, 1, 3, 4));
  CHECK(info->explanation_url == "https://ca/why");
  CHECK_FALSE(parse_renewal_info(R"({"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-02T04:00:00Z"}})"));
  CHECK_FALSE(parse_renewal_info(R"({})"));
}

TEST_CASE("the ARI certificate id matches RFC 9773's example", "[unit][acme]") {
  // RFC 9773 §4.1: AKI keyIdentifier 69:88:5B:...:C8:D4, serial 0x87654321.
  const unsigned char key_id[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                  0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
  base::PkeyPtr key(EVP_EC_gen("P-256"));
  base::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), 0x87654321);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  akid->keyid = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(akid->keyid, key_id, sizeof key_id);
  X509_add1_ext_i2d(cert.get(), NID_authority_key_identifier, akid, 0, 0);
  AUTHORITY_KEYID_free(akid);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  // Round-trip through DER so the extension cache reflects what a parsed certificate has.
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  const unsigned char* p = der;
  base::X509Ptr parsed(d2i_X509(nullptr, &p, len));
  OPENSSL_free(der);
  REQUIRE(parsed);

  auto id = ari_certificate_id(parsed.get());
  REQUIRE(id);
  CHECK(*id == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

TEST_CASE("a CSR carries every name as a SAN and is signed by the certificate key", "[unit][acme]") {
  base::PkeyPtr key(EVP_EC_gen("P-256"));
  auto der = make_csr_der(key.get(), {"a.example.com", "b.example.com"});
  REQUIRE(der);
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  base::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size())));
  REQUIRE(req);
  CHECK(X509_REQ_verify(req.get(), key.get()) == 1);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  REQUIRE(exts);
  auto* sans = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  REQUIRE(sans);
  std::vector<std::string> names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    auto* gn = sk_GENERAL_NAME_value(sans, i);
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                       ASN1_STRING_length(gn->d.dNSName));
  }
  GENERAL_NAMES_free(sans);
  CHECK(names == std::vector<std::string>{"a.example.com", "b.example.com"});
}
