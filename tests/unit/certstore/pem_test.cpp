#include "certstore/pem.hpp"

#include <algorithm>

#include <catch2/catch.hpp>
#include <openssl/pem.h>

#include "tests/support/test_certs.hpp"

using namespace portcullis;
using namespace portcullis::base;
using namespace portcullis::certstore;
using portcullis::testing::TestCa;

namespace {

// Replaces the first occurrence of `from` in `text`.
std::string replace_once(std::string text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Line number (1-based) where `needle` starts in `text`.
std::size_t line_of(const std::string& text, std::string_view needle, std::size_t nth = 1) {
  std::size_t at = std::string::npos;
  for (std::size_t i = 0; i < nth; ++i) at = text.find(needle, at == std::string::npos ? 0 : at + 1);
  REQUIRE(at != std::string::npos);
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n')) + 1;
}

const TestCa& root() {
  static TestCa ca = TestCa::create("Pem Test Root");
  return ca;
}

}  // namespace

TEST_CASE("a chain of two certificates parses in order", "[unit][certstore]") {
  auto inter = root().intermediate("Pem Test Intermediate");
  auto leaf = inter.issue({"app.example.com"});
  auto chain = pem::parse_chain(leaf.chain_pem);
  REQUIRE(chain);
  REQUIRE(chain->size() == 2);
  CHECK(pem::to_pem((*chain)[0].get()) == leaf.leaf_pem);
  CHECK(pem::to_pem((*chain)[1].get()) == inter.cert_pem());
}

TEST_CASE("explanatory text before and between blocks is accepted, CRLF too", "[unit][certstore]") {
  auto leaf = root().issue({"app.example.com"});
  std::string text = "subject=CN = app.example.com\n" + leaf.leaf_pem + "Bag Attributes\n" + root().cert_pem();
  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto chain = pem::parse_chain(crlf);
  REQUIRE(chain);
  CHECK(chain->size() == 2);
}

TEST_CASE("empty input has no certificate and no key", "[unit][certstore]") {
  SECTION("empty") {
    auto chain = pem::parse_chain("");
    REQUIRE_FALSE(chain);
    CHECK(chain.error().message() == "no certificate in input");
    CHECK(chain.error().code() == Errc::invalid_input);
  }
  SECTION("only whitespace and prose") {
    auto chain = pem::parse_chain("  \n\nhello\n");
    REQUIRE_FALSE(chain);
    CHECK(chain.error().message() == "no certificate in input");
  }
  SECTION("key") {
    auto key = pem::parse_private_key(SecretBytes(""));
    REQUIRE_FALSE(key);
    CHECK(key.error().message() == "no private key in input");
  }
}

TEST_CASE("a corrupted block names its index, its line and OpenSSL's reason", "[unit][certstore]") {
  auto leaf = root().issue({"app.example.com"});
  std::string text = leaf.leaf_pem + root().cert_pem();
  // Break the base64 of the second block.
  std::size_t second = text.find("-----BEGIN CERTIFICATE-----", 1);
  std::size_t body = text.find('\n', second) + 1;
  text.replace(body + 10, 4, "!!!!");
  auto chain = pem::parse_chain(text);
  REQUIRE_FALSE(chain);
  std::string expected = "block 2 (line " + std::to_string(line_of(text, "-----BEGIN", 2)) + "): not a certificate: ";
  CHECK_THAT(chain.error().message(), Catch::StartsWith(expected));
  // OpenSSL's own words follow the prefix.
  CHECK(chain.error().message().size() > expected.size());
}

TEST_CASE("a block whose content is not DER of a certificate is refused", "[unit][certstore]") {
  std::string text = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
  auto chain = pem::parse_chain(text);
  REQUIRE_FALSE(chain);
  CHECK_THAT(chain.error().message(), Catch::StartsWith("block 1 (line 1): not a certificate: "));
}

TEST_CASE("a block of the wrong type is refused with its type", "[unit][certstore]") {
  auto leaf = root().issue({"app.example.com"});
  std::string text = leaf.leaf_pem + replace_once(replace_once(root().cert_pem(), "BEGIN CERTIFICATE", "BEGIN CERTIFICATE REQUEST"),
                                                  "END CERTIFICATE", "END CERTIFICATE REQUEST");
  auto chain = pem::parse_chain(text);
  REQUIRE_FALSE(chain);
  CHECK_THAT(chain.error().message(), Catch::Contains("block 2 (line") &&
                                          Catch::Contains("not a certificate: found a CERTIFICATE REQUEST block"));
}

TEST_CASE("a private key in the chain file is refused without quoting it", "[unit][certstore]") {
  auto leaf = root().issue({"app.example.com"});
  std::string key(leaf.key_pem.reveal());
  std::string text = leaf.leaf_pem + key;
  auto chain = pem::parse_chain(text);
  REQUIRE_FALSE(chain);
  CHECK_THAT(chain.error().message(),
             Catch::StartsWith("block 2 (line " + std::to_string(line_of(text, "-----BEGIN", 2)) +
                               "): unexpected PRIVATE KEY block in a certificate chain"));
  // Not a single line of the key's base64 reaches the message.
  std::string body_line = key.substr(key.find('\n') + 1, 40);
  CHECK(chain.error().message().find(body_line) == std::string::npos);
}

TEST_CASE("framing errors are reported with their line", "[unit][certstore]") {
  auto leaf = root().issue({"app.example.com"});
  SECTION("trailing garbage after the last block") {
    auto chain = pem::parse_chain(leaf.leaf_pem + "\n\ngarbage\n");
    REQUIRE_FALSE(chain);
    CHECK(chain.error().message() ==
          "line " + std::to_string(line_of(leaf.leaf_pem + "\n\ngarbage\n", "garbage")) +
              ": unexpected text after the last PEM block");
  }
  SECTION("a truncated block") {
    std::string cut = leaf.leaf_pem.substr(0, leaf.leaf_pem.size() / 2);
    auto chain = pem::parse_chain(cut);
    REQUIRE_FALSE(chain);
    CHECK_THAT(chain.error().message(), Catch::StartsWith("block 1 (line 1): BEGIN CERTIFICATE has no END line"));
  }
  SECTION("END of another type") {
    auto chain = pem::parse_chain(replace_once(leaf.leaf_pem, "END CERTIFICATE", "END PUBLIC KEY"));
    REQUIRE_FALSE(chain);
    CHECK_THAT(chain.error().message(), Catch::StartsWith("block 1 (line 1): BEGIN CERTIFICATE ends with END PUBLIC KEY"));
  }
  SECTION("END without BEGIN") {
    auto chain = pem::parse_chain("-----END CERTIFICATE-----\n");
    REQUIRE_FALSE(chain);
    CHECK(chain.error().message() == "line 1: END CERTIFICATE without a BEGIN line");
  }
}

TEST_CASE("private keys parse in PKCS#8, SEC1 and PKCS#1 forms", "[unit][certstore]") {
  SECTION("PKCS#8 P-256") {
    auto key = pem::generate_p256();
    REQUIRE(key);
    auto parsed = pem::parse_private_key(pem::to_pem(key->get()));
    REQUIRE(parsed);
    CHECK(EVP_PKEY_eq(parsed->get(), key->get()) == 1);
  }
  SECTION("RSA") {
    auto key = pem::generate_rsa(2048);
    REQUIRE(key);
    auto parsed = pem::parse_private_key(pem::to_pem(key->get()));
    REQUIRE(parsed);
    CHECK(EVP_PKEY_get_bits(parsed->get()) == 2048);
  }
  SECTION("legacy EC PRIVATE KEY after EC PARAMETERS, as openssl ecparam -genkey writes it") {
    auto key = pem::generate_p256();
    REQUIRE(key);
    BioPtr bio(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_PrivateKey_traditional(bio.get(), key->get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    std::string text = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" +
                       std::string(data, static_cast<std::size_t>(len));
    REQUIRE(text.find("BEGIN EC PRIVATE KEY") != std::string::npos);
    auto parsed = pem::parse_private_key(SecretBytes(text));
    REQUIRE(parsed);
    CHECK(EVP_PKEY_eq(parsed->get(), key->get()) == 1);
  }
}

TEST_CASE("an encrypted private key is refused with a clear message", "[unit][certstore]") {
  auto key = pem::generate_p256();
  REQUIRE(key);
  BioPtr bio(BIO_new(BIO_s_mem()));
  static const char pass[] = "correct horse";
  SECTION("PKCS#8 ENCRYPTED PRIVATE KEY") {
    REQUIRE(PEM_write_bio_PKCS8PrivateKey(bio.get(), key->get(), EVP_aes_256_cbc(), pass, sizeof pass - 1, nullptr,
                                          nullptr) == 1);
  }
  SECTION("legacy Proc-Type: 4,ENCRYPTED") {
    REQUIRE(PEM_write_bio_PrivateKey_traditional(bio.get(), key->get(), EVP_aes_256_cbc(),
                                                 reinterpret_cast<const unsigned char*>(pass), sizeof pass - 1, nullptr,
                                                 nullptr) == 1);
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  auto parsed = pem::parse_private_key(SecretBytes(std::string(data, static_cast<std::size_t>(len))));
  REQUIRE_FALSE(parsed);
  CHECK_THAT(parsed.error().message(), Catch::Contains("block 1 (line 1): the private key is encrypted"));
}

TEST_CASE("a key file with a certificate or two keys is refused", "[unit][certstore]") {
  auto leaf = root().issue({"app.example.com"});
  SECTION("certificate instead of a key") {
    auto parsed = pem::parse_private_key(SecretBytes(leaf.leaf_pem));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message() == "block 1 (line 1): found a CERTIFICATE block where a private key was expected");
  }
  SECTION("two keys") {
    auto other = root().issue({"other.example.com"});
    std::string both = std::string(leaf.key_pem.reveal()) + std::string(other.key_pem.reveal());
    auto parsed = pem::parse_private_key(SecretBytes(both));
    REQUIRE_FALSE(parsed);
    CHECK_THAT(parsed.error().message(), Catch::StartsWith("block 2 (line") &&
                                             Catch::EndsWith("more than one private key (the first is block 1)"));
  }
  SECTION("a corrupted key names OpenSSL's reason, not the key") {
    std::string key(leaf.key_pem.reveal());
    std::size_t body = key.find('\n') + 1;
    std::string corrupted = key;
    corrupted.replace(body + 8, 8, "AAAAAAAA");
    auto parsed = pem::parse_private_key(SecretBytes(corrupted));
    REQUIRE_FALSE(parsed);
    CHECK_THAT(parsed.error().message(), Catch::StartsWith("block 1 (line 1): not a usable private key: "));
    CHECK(parsed.error().message().find(key.substr(body, 20)) == std::string::npos);
  }
}

TEST_CASE("a self-signed certificate carries the names it was made for", "[unit][certstore]") {
  auto key = pem::generate_p256();
  REQUIRE(key);
  auto cert = pem::self_signed(key->get(), {"portcullis.invalid", "alt.invalid"}, 30);
  REQUIRE(cert);
  CHECK(X509_check_private_key(cert->get(), key->get()) == 1);
  CHECK(X509_check_host(cert->get(), "alt.invalid", 0, 0, nullptr) == 1);
  CHECK(X509_verify(cert->get(), key->get()) == 1);
  CHECK_FALSE(pem::self_signed(key->get(), {}, 30));
}
