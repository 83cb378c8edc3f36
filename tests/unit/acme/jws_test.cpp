#include "acme/jws.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <openssl/hmac.h>

namespace {

using namespace portcullis;
using namespace portcullis::acme;
namespace json = boost::json;

base::PkeyPtr make_p256() { return base::PkeyPtr(EVP_EC_gen("P-256")); }

json::object decode_object(std::string_view b64) {
  auto raw = base64url_decode(b64);
  REQUIRE(raw);
  return json::parse(*raw).as_object();
}

// RFC 7638 §3.1.
const char* rfc7638_n =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
    "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n"
    "91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
const char* rfc7638_thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

}  // namespace

TEST_CASE("base64url encodes the RFC 4648 vectors without padding", "[unit][acme]") {
  CHECK(base64url_encode("") == "");
  CHECK(base64url_encode("f") == "Zg");
  CHECK(base64url_encode("fo") == "Zm8");
  CHECK(base64url_encode("foo") == "Zm9v");
  CHECK(base64url_encode("foob") == "Zm9vYg");
  CHECK(base64url_encode("fooba") == "Zm9vYmE");
  CHECK(base64url_encode("foobar") == "Zm9vYmFy");
  CHECK(base64url_encode(std::string("\xfb\xff\xbf", 3)) == "-_-_");
}

TEST_CASE("base64url decodes with or without padding and rejects the standard alphabet", "[unit][acme]") {
  CHECK(base64url_decode("Zm9vYmE").value() == "fooba");
  CHECK(base64url_decode("Zm9vYmE=").value() == "fooba");
  CHECK(base64url_decode("-_-_").value() == std::string("\xfb\xff\xbf", 3));
  auto bad = base64url_decode("ab+c");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Errc::invalid_input);
  CHECK(bad.error().message() == "base64url: invalid character '+' at 2");
  CHECK_FALSE(base64url_decode("abcde"));
}

TEST_CASE("jwk thumbprint matches the RSA example of RFC 7638", "[unit][acme]") {
  json::object jwk{{"kty", "RSA"}, {"n", rfc7638_n}, {"e", "AQAB"}, {"alg", "RS256"}, {"kid", "2011-04-29"}};
  auto thumbprint = jwk_thumbprint(jwk);
  REQUIRE(thumbprint);
  CHECK(*thumbprint == rfc7638_thumbprint);

  SECTION("and the same key rebuilt from the JWK gives the same JWK and thumbprint") {
    auto key = public_key_from_jwk(jwk);
    REQUIRE(key);
    auto round_trip = public_jwk(key->get());
    REQUIRE(round_trip);
    CHECK(json::serialize(*round_trip) == json::serialize(json::object{{"e", "AQAB"}, {"kty", "RSA"}, {"n", rfc7638_n}}));
    CHECK(jwk_thumbprint(key->get()).value() == rfc7638_thumbprint);
  }
}

TEST_CASE("an EC P-256 jwk has 32-byte coordinates in canonical member order", "[unit][acme]") {
  auto key = make_p256();
  auto jwk = public_jwk(key.get());
  REQUIRE(jwk);
  auto text = json::serialize(*jwk);
  CHECK(text.rfind("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", 0) == 0);
  CHECK(base64url_decode(jwk->at("x").as_string()).value().size() == 32);
  CHECK(base64url_decode(jwk->at("y").as_string()).value().size() == 32);
  CHECK(jws_algorithm(key.get()).value() == "ES256");
}

TEST_CASE("an ES256 signature is 64 raw bytes that verify with the public key", "[unit][acme]") {
  auto key = make_p256();
  auto signature = sign(key.get(), "header.payload");
  REQUIRE(signature);
  CHECK(signature->size() == 64);
  auto public_key = public_key_from_jwk(public_jwk(key.get()).value());
  REQUIRE(public_key);
  CHECK(verify(public_key->get(), "header.payload", *signature));
  CHECK_FALSE(verify(public_key->get(), "header.payload2", *signature));
}

TEST_CASE("a signed request is a flattened JWS with kid or jwk, nonce and url", "[unit][acme]") {
  auto key = make_p256();
  auto public_key = public_key_from_jwk(public_jwk(key.get()).value()).value();

  SECTION("with the account URL as kid and a JSON payload") {
    auto jws = sign_request({key.get(), "https://ca/acct/1"}, "https://ca/new-order", "nonce-1",
                            std::string(R"({"identifiers":[]})"));
    REQUIRE(jws);
    auto header = decode_object(jws->at("protected").as_string());
    CHECK(header.at("alg").as_string() == "ES256");
    CHECK(header.at("kid").as_string() == "https://ca/acct/1");
    CHECK(header.at("nonce").as_string() == "nonce-1");
    CHECK(header.at("url").as_string() == "https://ca/new-order");
    CHECK_FALSE(header.contains("jwk"));
    CHECK(base64url_decode(jws->at("payload").as_string()).value() == R"({"identifiers":[]})");
    std::string input = std::string(jws->at("protected").as_string()) + "." + std::string(jws->at("payload").as_string());
    CHECK(verify(public_key.get(), input, base64url_decode(jws->at("signature").as_string()).value()));
  }
  SECTION("with the jwk embedded for new-account") {
    auto jws = sign_request({key.get(), ""}, "https://ca/new-acct", "n", std::string("{}"));
    REQUIRE(jws);
    auto header = decode_object(jws->at("protected").as_string());
    CHECK(header.at("jwk").as_object() == public_jwk(key.get()).value());
    CHECK_FALSE(header.contains("kid"));
  }
  SECTION("as POST-as-GET with an empty payload") {
    auto jws = sign_request({key.get(), "https://ca/acct/1"}, "https://ca/order/1", "n", std::nullopt);
    REQUIRE(jws);
    CHECK(jws->at("payload").as_string() == "");
  }
}

TEST_CASE("key authorization and the DNS-01 TXT value follow RFC 8555 §8.1 and §8.4", "[unit][acme]") {
  auto authz = key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", rfc7638_thumbprint);
  CHECK(authz == "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  CHECK(dns01_txt_value(authz) == "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8");
}

TEST_CASE("external account binding is an HS256 JWS over the account JWK", "[unit][acme]") {
  auto key = make_p256();
  const std::string mac_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
  auto eab = external_account_binding(key.get(), "kid-1", mac_key, "https://ca/new-acct");
  REQUIRE(eab);
  auto header = decode_object(eab->at("protected").as_string());
  CHECK(header.at("alg").as_string() == "HS256");
  CHECK(header.at("kid").as_string() == "kid-1");
  CHECK(header.at("url").as_string() == "https://ca/new-acct");
  CHECK_FALSE(header.contains("nonce"));  // RFC 8555 §7.3.4: no nonce in the inner JWS
  CHECK(json::parse(base64url_decode(eab->at("payload").as_string()).value()).as_object() ==
        public_jwk(key.get()).value());

  std::string input = std::string(eab->at("protected").as_string()) + "." + std::string(eab->at("payload").as_string());
  auto raw_key = base64url_decode(mac_key).value();
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  HMAC(EVP_sha256(), raw_key.data(), static_cast<int>(raw_key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  CHECK(eab->at("signature").as_string() ==
        base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len)));

  SECTION("a MAC key outside the base64url alphabet is a configuration error") {
    auto bad = external_account_binding(key.get(), "kid-1", "not+base64url", "https://ca/new-acct");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code() == Errc::config);
  }
}
