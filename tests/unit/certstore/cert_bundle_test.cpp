#include "certstore/cert_bundle.hpp"

#include <catch2/catch.hpp>

#include "certstore/pem.hpp"
#include "tests/support/test_certs.hpp"

using namespace portcullis;
using namespace portcullis::base;
using namespace portcullis::certstore;
using portcullis::testing::IssueOptions;
using portcullis::testing::KeyType;
using portcullis::testing::TestCa;
using portcullis::testing::Validity;

namespace {

const TestCa& root() {
  static TestCa ca = TestCa::create("Bundle Test Root");
  return ca;
}
const TestCa& inter() {
  static TestCa ca = root().intermediate("Bundle Test Intermediate");
  return ca;
}

}  // namespace

TEST_CASE("a bundle exposes names, serial, issuer and validity of its leaf", "[unit][certstore]") {
  IssueOptions options;
  options.names = {"App.Example.COM", "www.example.com.", "*.api.example.com"};
  options.serial_hex = "0abc1001";
  auto validity = Validity::days(30);
  options.validity = validity;
  auto cert = inter().issue(options);
  auto bundle = CertBundle::from_pem(cert.chain_pem, cert.key_pem, CertSource::transitional, "upload");
  REQUIRE(bundle);
  const CertBundle& b = **bundle;
  CHECK(b.names() == std::vector<std::string>{"*.api.example.com", "app.example.com", "www.example.com"});
  CHECK(b.serial_hex() == "0ABC1001");
  CHECK(cert.serial_hex == "0ABC1001");
  CHECK(b.issuer_cn() == "Bundle Test Intermediate");
  CHECK(b.source() == CertSource::transitional);
  CHECK(b.intermediates().size() == 1);
  CHECK(b.chain_pem() == cert.chain_pem);
  using std::chrono::seconds;
  CHECK(std::chrono::floor<seconds>(b.not_after()) == std::chrono::floor<seconds>(validity.not_after));
  CHECK(std::chrono::floor<seconds>(b.not_before()) == std::chrono::floor<seconds>(validity.not_before));
  CHECK_FALSE(b.expired(Clock::now()));
  CHECK(b.expired(validity.not_after));
  CHECK(to_string(CertSource::default_cert) == "default");
}

TEST_CASE("the common name counts only when there is no subjectAltName", "[unit][certstore]") {
  SECTION("no SAN: the CN is the name") {
    IssueOptions options;
    options.names = {"Legacy.Example.com"};
    options.with_san = false;
    auto bundle = inter().issue(options).bundle();
    CHECK(bundle->names() == std::vector<std::string>{"legacy.example.com"});
  }
  SECTION("with a SAN: the CN is ignored") {
    IssueOptions options;
    options.names = {"san.example.com"};
    options.common_name = "cn.example.com";
    auto bundle = inter().issue(options).bundle();
    CHECK(bundle->names() == std::vector<std::string>{"san.example.com"});
    CHECK_FALSE(bundle->covers("cn.example.com"));
  }
}

TEST_CASE("a key that belongs to another certificate is refused", "[unit][certstore]") {
  auto a = inter().issue({"a.example.com"});
  auto b = inter().issue({"b.example.com"});
  auto bundle = CertBundle::from_pem(a.chain_pem, b.key_pem, CertSource::transitional, "cert.pem");
  REQUIRE_FALSE(bundle);
  CHECK(bundle.error().message() == "cert.pem: private key does not match the certificate");
}

TEST_CASE("bundle errors name their origin", "[unit][certstore]") {
  auto a = inter().issue({"a.example.com"});
  SECTION("chain") {
    auto bundle = CertBundle::from_pem("", a.key_pem, CertSource::transitional, "cert.pem");
    REQUIRE_FALSE(bundle);
    CHECK(bundle.error().message() == "cert.pem: no certificate in input");
  }
  SECTION("key") {
    auto bundle = CertBundle::from_pem(a.chain_pem, SecretBytes(""), CertSource::transitional, "cert.pem");
    REQUIRE_FALSE(bundle);
    CHECK(bundle.error().message() == "cert.pem: private key: no private key in input");
  }
}

TEST_CASE("an RSA leaf makes a bundle like an ECDSA one", "[unit][certstore]") {
  IssueOptions options;
  options.names = {"rsa.example.com"};
  options.key_type = KeyType::rsa2048;
  auto bundle = inter().issue(options).bundle();
  CHECK(EVP_PKEY_get_base_id(bundle->key()) == EVP_PKEY_RSA);
  CHECK(bundle->covers("rsa.example.com"));
}

TEST_CASE("wildcards cover exactly one label", "[unit][certstore]") {
  auto bundle = inter().issue({"*.example.com", "example.org"}).bundle();
  CHECK(bundle->covers("a.example.com"));
  CHECK(bundle->covers("A.EXAMPLE.COM."));
  CHECK(bundle->covers("*.example.com"));
  CHECK_FALSE(bundle->covers("example.com"));
  CHECK_FALSE(bundle->covers("a.b.example.com"));
  CHECK_FALSE(bundle->covers(".example.com"));
  CHECK_FALSE(bundle->covers("aexample.com"));
  CHECK(bundle->covers("example.org"));
  CHECK_FALSE(bundle->covers("www.example.org"));
  CHECK_FALSE(bundle->covers(""));
}

TEST_CASE("validate accepts a good chain and names what is wrong otherwise", "[unit][certstore]") {
  auto now = Clock::now();
  SECTION("good") {
    auto bundle = inter().issue({"app.example.com", "*.example.com"}).bundle();
    CHECK(bundle->validate(now, {"app.example.com", "x.example.com", "*.example.com"}));
  }
  SECTION("expired") {
    auto bundle = inter().issue({"expired.example.com"}, Validity::expired()).bundle();
    auto st = bundle->validate(now, {});
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message(), Catch::StartsWith("certificate expired at 20"));
  }
  SECTION("not yet valid") {
    auto bundle = inter().issue({"later.example.com"}, Validity::not_yet_valid()).bundle();
    auto st = bundle->validate(now, {});
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message(), Catch::StartsWith("certificate is not valid before"));
  }
  SECTION("names not covered are all listed") {
    auto bundle = inter().issue({"app.example.com"}).bundle();
    auto st = bundle->validate(now, {"app.example.com", "WWW.example.com", "api.example.com"});
    REQUIRE_FALSE(st);
    CHECK(st.error().message() ==
          "names not covered by the certificate: www.example.com, api.example.com (it covers: app.example.com)");
  }
  SECTION("intermediates in the wrong order") {
    auto deeper = inter().intermediate("Bundle Test Issuing CA");
    auto leaf = deeper.issue({"deep.example.com"});
    // leaf, deeper, inter is right; swap to leaf, inter, deeper.
    std::string chain = leaf.leaf_pem + inter().cert_pem() + deeper.cert_pem();
    auto bundle = CertBundle::from_pem(chain, leaf.key_pem, CertSource::transitional, "upload");
    REQUIRE(bundle);
    auto st = (*bundle)->validate(now, {"deep.example.com"});
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message(),
               Catch::StartsWith("chain order: certificate 1 (CN=deep.example.com) is not signed by the certificate 2 "
                                 "(CN=Bundle Test Intermediate)"));
    // The right order passes.
    auto good = CertBundle::from_pem(leaf.chain_pem, leaf.key_pem, CertSource::transitional, "upload");
    REQUIRE(good);
    CHECK((*good)->intermediates().size() == 2);
    CHECK((*good)->validate(now, {"deep.example.com"}));
  }
  SECTION("an unrelated intermediate with the same name is refused") {
    auto impostor = TestCa::create("Bundle Test Root").intermediate("Bundle Test Intermediate");
    auto leaf = inter().issue({"app.example.com"});
    auto bundle = CertBundle::from_pem(leaf.leaf_pem + impostor.cert_pem(), leaf.key_pem, CertSource::transitional,
                                       "upload");
    REQUIRE(bundle);
    auto st = (*bundle)->validate(now, {});
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message(), Catch::StartsWith("chain order:"));
  }
  SECTION("several problems at once") {
    auto bundle = inter().issue({"old.example.com"}, Validity::expired()).bundle();
    auto st = bundle->validate(now, {"new.example.com"});
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message(), Catch::Contains("expired") && Catch::Contains("; names not covered"));
  }
}

TEST_CASE("one PEM text holding the chain and the key makes a bundle, blocks in any order", "[unit][certstore]") {
  auto cert = inter().issue({"combined.example.com"});
  const std::string key(cert.key_pem.reveal());
  SECTION("chain then key") {
    auto bundle = CertBundle::from_combined_pem(SecretBytes(cert.chain_pem + key), CertSource::transitional, "d/a.pem");
    REQUIRE(bundle);
    CHECK((*bundle)->names() == std::vector<std::string>{"combined.example.com"});
    CHECK((*bundle)->intermediates().size() == 1);
    CHECK((*bundle)->serial_hex() == cert.serial_hex);
  }
  SECTION("key first") {
    auto bundle = CertBundle::from_combined_pem(SecretBytes(key + cert.chain_pem), CertSource::transitional, "d/a.pem");
    REQUIRE(bundle);
    CHECK((*bundle)->intermediates().size() == 1);
  }
  SECTION("no key") {
    auto bundle = CertBundle::from_combined_pem(SecretBytes(cert.chain_pem), CertSource::transitional, "d/a.pem");
    REQUIRE_FALSE(bundle);
    CHECK(bundle.error().message() == "d/a.pem: no private key in input");
  }
  SECTION("no certificate") {
    auto bundle = CertBundle::from_combined_pem(SecretBytes(key), CertSource::transitional, "d/a.pem");
    REQUIRE_FALSE(bundle);
    CHECK(bundle.error().message() == "d/a.pem: no certificate in input");
  }
  SECTION("two keys") {
    auto bundle =
        CertBundle::from_combined_pem(SecretBytes(key + cert.chain_pem + key), CertSource::transitional, "d/a.pem");
    REQUIRE_FALSE(bundle);
    CHECK(bundle.error().message().starts_with("d/a.pem: block 4 (line "));
    CHECK(bundle.error().message().ends_with("more than one private key (the first is block 1)"));
  }
  SECTION("a key of another certificate") {
    auto other = inter().issue({"other.example.com"});
    auto bundle = CertBundle::from_combined_pem(SecretBytes(cert.chain_pem + std::string(other.key_pem.reveal())),
                                                CertSource::transitional, "d/a.pem");
    REQUIRE_FALSE(bundle);
    CHECK(bundle.error().message() == "d/a.pem: private key does not match the certificate");
  }
  SECTION("a truncated file") {
    std::string text = cert.chain_pem + key;
    text.resize(text.size() - 40);
    auto bundle = CertBundle::from_combined_pem(SecretBytes(text), CertSource::transitional, "d/a.pem");
    REQUIRE_FALSE(bundle);
    CHECK(bundle.error().message().find("has no END line") != std::string::npos);
    CHECK(bundle.error().message().find("-----") == std::string::npos);
  }
}
