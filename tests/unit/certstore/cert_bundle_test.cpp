#include "certstore/cert_bundle.hpp"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

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

// ---- Deferred parsing: the facts at once, the certificate and key on first use ----

namespace {

void check_same_facts(const CertBundle& deferred, const CertBundle& full) {
  CHECK(deferred.names() == full.names());
  CHECK(deferred.serial_hex() == full.serial_hex());
  CHECK(deferred.issuer_cn() == full.issuer_cn());
  CHECK(deferred.not_before() == full.not_before());
  CHECK(deferred.not_after() == full.not_after());
  CHECK(deferred.source() == full.source());
}

}  // namespace

TEST_CASE("a deferred bundle reads the same facts as a full parse and parses the rest on first use",
          "[unit][certstore][deferred]") {
  struct Row {
    const char* what;
    IssueOptions options;
  };
  std::vector<Row> rows;
  {
    IssueOptions o;
    o.names = {"App.Example.COM", "www.example.com.", "*.api.example.com"};
    o.serial_hex = "0abc1001";
    rows.push_back({"SANs, wildcard, an intermediate", o});
  }
  {
    IssueOptions o;
    o.names = {"Legacy.Example.com"};
    o.with_san = false;
    rows.push_back({"CN only", o});
  }
  {
    IssueOptions o;
    o.names = {"rsa.example.com"};
    o.key_type = KeyType::rsa2048;
    o.serial_hex = "00ff";
    rows.push_back({"RSA key", o});
  }
  for (const auto& row : rows) {
    INFO(row.what);
    auto cert = inter().issue(row.options);
    auto full = CertBundle::from_pem(cert.chain_pem, cert.key_pem, CertSource::managed, "full");
    REQUIRE(full);
    auto lazy = CertBundle::from_pem_deferred(cert.chain_pem, cert.key_pem, CertSource::managed, "store:x");
    REQUIRE(lazy);
    CHECK((*lazy)->pending());
    check_same_facts(**lazy, **full);
    CHECK((*lazy)->pending());  // reading facts parses nothing

    REQUIRE((*lazy)->leaf() != nullptr);
    CHECK_FALSE((*lazy)->pending());
    CHECK(X509_cmp((*lazy)->leaf(), (*full)->leaf()) == 0);
    CHECK(EVP_PKEY_eq((*lazy)->key(), (*full)->key()) == 1);
    CHECK((*lazy)->intermediates().size() == 1);
    CHECK((*lazy)->chain_stack() != nullptr);
    CHECK((*lazy)->chain_pem() == (*full)->chain_pem());
    CHECK((*lazy)->materialize());

    // The combined form (a certificate folder's file): chain and key in one text.
    auto combined = CertBundle::from_combined_pem_deferred(SecretBytes(cert.chain_pem + std::string(cert.key_pem.reveal())),
                                                           CertSource::transitional, "dir/a.pem");
    REQUIRE(combined);
    CHECK((*combined)->names() == (*full)->names());
    CHECK((*combined)->materialize());
    CHECK(X509_cmp((*combined)->leaf(), (*full)->leaf()) == 0);
  }
}

TEST_CASE("a deferred bundle refuses at once what it can see without decoding, and the rest on first use",
          "[unit][certstore][deferred]") {
  IssueOptions o;
  o.names = {"app.example.com"};
  auto cert = inter().issue(o);
  auto other = inter().issue(o);

  SECTION("a key that does not match: accepted, then unusable, with the reason") {
    auto lazy = CertBundle::from_pem_deferred(cert.chain_pem, other.key_pem, CertSource::managed, "store:app");
    REQUIRE(lazy);
    CHECK((*lazy)->names() == std::vector<std::string>{"app.example.com"});
    auto st = (*lazy)->materialize();
    REQUIRE_FALSE(st);
    CHECK(st.error().message() == "store:app: private key does not match the certificate");
    CHECK((*lazy)->leaf() == nullptr);
    CHECK((*lazy)->key() == nullptr);
    CHECK_FALSE((*lazy)->pending());
    CHECK((*lazy)->problems(Clock::now(), {}) ==
          std::vector<std::string>{"store:app: private key does not match the certificate"});
  }
  SECTION("an encrypted key, no key, a key in the chain, no certificate: refused at once as from_pem does") {
    const SecretBytes encrypted("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n");
    auto r = CertBundle::from_pem_deferred(cert.chain_pem, encrypted, CertSource::managed, "store:app");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::Contains("store:app: private key: block 1 (line 1): the private key is encrypted"));

    r = CertBundle::from_combined_pem_deferred(SecretBytes(cert.chain_pem), CertSource::transitional, "dir/a.pem");
    REQUIRE_FALSE(r);
    CHECK(r.error().message() == "dir/a.pem: no private key in input");

    r = CertBundle::from_pem_deferred(cert.chain_pem + std::string(cert.key_pem.reveal()), cert.key_pem,
                                      CertSource::managed, "store:app");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::Contains("unexpected PRIVATE KEY block in a certificate chain"));

    r = CertBundle::from_pem_deferred("", cert.key_pem, CertSource::managed, "store:app");
    REQUIRE_FALSE(r);
    CHECK(r.error().message() == "store:app: no certificate in input");
  }
  SECTION("a certificate block that is not a certificate") {
    const std::string junk = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
    auto r = CertBundle::from_pem_deferred(junk, cert.key_pem, CertSource::managed, "store:app");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::Contains("store:app: block 1: not a certificate"));
  }
}

TEST_CASE("a deferred bundle is parsed once when many threads use it first at the same time",
          "[unit][certstore][deferred]") {
  IssueOptions o;
  o.names = {"app.example.com"};
  auto cert = inter().issue(o);
  auto lazy = CertBundle::from_pem_deferred(cert.chain_pem, cert.key_pem, CertSource::managed, "store:app");
  REQUIRE(lazy);
  std::vector<X509*> seen(8, nullptr);
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < seen.size(); ++i) threads.emplace_back([&, i] { seen[i] = (*lazy)->leaf(); });
  }
  REQUIRE(seen.front() != nullptr);
  for (X509* x : seen) CHECK(x == seen.front());
}

TEST_CASE("a bundle indexed by stored facts reads no PEM until its first use", "[unit][certstore][deferred]") {
  IssueOptions o;
  o.names = {"app.example.com", "www.example.com"};
  auto cert = inter().issue(o);
  auto full = CertBundle::from_pem(cert.chain_pem, cert.key_pem, CertSource::managed, "full");
  REQUIRE(full);
  const CertFacts facts = (*full)->facts();

  SECTION("the facts are the bundle's at once, the full parse on first use gives the same certificate") {
    auto lazy = CertBundle::from_facts_deferred(cert.chain_pem, cert.key_pem, facts, CertSource::managed, "store:app");
    REQUIRE(lazy);
    CHECK((*lazy)->pending());
    CHECK((*lazy)->facts() == facts);
    CHECK((*lazy)->covers("www.example.com"));
    CHECK((*lazy)->issuer_cn() == "Bundle Test Intermediate");
    CHECK((*lazy)->pending());
    REQUIRE((*lazy)->materialize());
    CHECK(X509_cmp((*lazy)->leaf(), (*full)->leaf()) == 0);
    CHECK((*lazy)->chain_pem() == (*full)->chain_pem());
  }
  SECTION("a PEM that does not parse is not looked at: the bundle is indexed, then fails on first use") {
    auto lazy = CertBundle::from_facts_deferred("not a certificate", SecretBytes("not a key"), facts,
                                                CertSource::managed, "store:app");
    REQUIRE(lazy);
    CHECK((*lazy)->names() == facts.names);
    CHECK((*lazy)->serial_hex() == facts.serial_hex);
    CHECK((*lazy)->pending());
    auto st = (*lazy)->materialize();
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message(), Catch::StartsWith("store:app: "));
    CHECK((*lazy)->leaf() == nullptr);
    CHECK((*lazy)->key() == nullptr);
  }
  SECTION("facts that name no host are refused at once") {
    CertFacts none = facts;
    none.names.clear();
    auto r = CertBundle::from_facts_deferred(cert.chain_pem, cert.key_pem, none, CertSource::managed, "store:app");
    REQUIRE_FALSE(r);
    CHECK(r.error().message() == "store:app: the certificate names no DNS host (no SAN, no CN)");
  }
}

TEST_CASE("a bundle whose PEM disagrees with the facts it was indexed by fails on first use and serves nothing",
          "[unit][certstore][deferred]") {
  IssueOptions o;
  o.names = {"app.example.com"};
  auto cert = inter().issue(o);
  auto full = CertBundle::from_pem(cert.chain_pem, cert.key_pem, CertSource::managed, "full");
  REQUIRE(full);
  CertFacts facts = (*full)->facts();
  const std::string prefix = "store:app: the certificate does not match the facts it was indexed by: ";
  std::string expected;
  SECTION("names") {
    facts.names = {"other.example.com"};
    expected = "names app.example.com, indexed as other.example.com";
  }
  SECTION("validity") {
    facts.not_after += std::chrono::hours(24);
    expected = fmt::format("notAfter {}, indexed as {}", format_time((*full)->not_after()), format_time(facts.not_after));
  }
  SECTION("serial") {
    facts.serial_hex = "0BAD";
    expected = fmt::format("serial {}, indexed as 0BAD", (*full)->serial_hex());
  }
  SECTION("issuer and notBefore at once") {
    facts.issuer_cn = "Someone Else";
    facts.not_before -= std::chrono::seconds(1);
    expected = fmt::format("notBefore {}, indexed as {}; issuer CN \"Bundle Test Intermediate\", indexed as "
                           "\"Someone Else\"",
                           format_time((*full)->not_before()), format_time(facts.not_before));
  }
  auto lazy = CertBundle::from_facts_deferred(cert.chain_pem, cert.key_pem, facts, CertSource::managed, "store:app");
  REQUIRE(lazy);
  CHECK((*lazy)->names() == facts.names);
  auto st = (*lazy)->materialize();
  REQUIRE_FALSE(st);
  CHECK(st.error().message() == prefix + expected);
  CHECK((*lazy)->leaf() == nullptr);
  CHECK((*lazy)->key() == nullptr);
  CHECK((*lazy)->chain_stack() == nullptr);
  CHECK((*lazy)->chain_pem().empty());
  CHECK((*lazy)->problems(Clock::now(), {}) == std::vector<std::string>{prefix + expected});
}
