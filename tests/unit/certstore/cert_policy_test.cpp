#include "certstore/cert_policy.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "certstore/cert_snapshot.hpp"
#include "certstore/pem.hpp"
#include "tests/support/test_certs.hpp"

using namespace portcullis;
using namespace portcullis::certstore;
using portcullis::testing::Digest;
using portcullis::testing::IssueOptions;
using portcullis::testing::KeyType;
using portcullis::testing::TestCa;
using portcullis::testing::TestCert;
using portcullis::testing::Validity;

namespace {

const TestCa& root() {
  static TestCa ca = TestCa::create("Policy Test Root");
  return ca;
}
const TestCa& inter() {
  static TestCa ca = root().intermediate("Policy Test Intermediate");
  return ca;
}

// The parsed chain of `pem` (leaf first), kept alive with the pointers handed out.
struct Chain {
  std::vector<base::X509Ptr> owned;
  std::vector<X509*> certs;
  explicit Chain(const std::string& pem) {
    auto parsed = pem::parse_chain(pem);
    REQUIRE(parsed);
    owned = std::move(*parsed);
    for (const auto& c : owned) certs.push_back(c.get());
  }
};

// A store trusting the test root only.
base::X509StorePtr test_store() {
  base::X509StorePtr store(X509_STORE_new());
  auto root_cert = pem::parse_chain(root().root_pem());
  REQUIRE(root_cert);
  REQUIRE(X509_STORE_add_cert(store.get(), root_cert->front().get()) == 1);
  return store;
}

TestCert leaf(KeyType key_type, Digest digest = Digest::sha256, const TestCa& ca = inter()) {
  IssueOptions options;
  options.names = {"app.example.com"};
  options.key_type = key_type;
  options.digest = digest;
  return ca.issue(options);
}

bool any_contains(const std::vector<std::string>& items, std::string_view needle) {
  return std::any_of(items.begin(), items.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

std::vector<std::string> reasons(const std::vector<TrustProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.reason);
  return out;
}

}  // namespace

TEST_CASE("the certificate policy accepts RSA-2048, P-256, P-384 and Ed25519 keys signed with SHA-256",
          "[unit][certstore][policy]") {
  for (auto type : {KeyType::p256, KeyType::rsa2048, KeyType::p384, KeyType::ed25519}) {
    Chain chain(leaf(type).chain_pem);
    INFO("key type " << static_cast<int>(type));
    CHECK(key_and_signature_problems(chain.certs).empty());
  }
  // An Ed25519 CA signs without a separate digest: accepted too.
  auto ed_ca = root().intermediate("Ed25519 Intermediate", Validity::days(100), KeyType::ed25519);
  CHECK(key_and_signature_problems(Chain(leaf(KeyType::p256, Digest::sha256, ed_ca).chain_pem).certs).empty());
}

TEST_CASE("the certificate policy refuses DSA, small RSA and other curves, naming the certificate",
          "[unit][certstore][policy]") {
  auto refused = [](KeyType type) { return key_and_signature_problems(Chain(leaf(type).chain_pem).certs); };
  auto dsa = refused(KeyType::dsa);
  REQUIRE(dsa.size() == 1);
  CHECK(dsa[0].starts_with("certificate 1 (CN=app.example.com): DSA key: refused"));
  auto rsa = refused(KeyType::rsa1024);
  REQUIRE(rsa.size() == 1);
  CHECK(rsa[0] == "certificate 1 (CN=app.example.com): RSA key of 1024 bits: at least 2048 are required");
  auto p521 = refused(KeyType::secp521r1);
  REQUIRE(p521.size() == 1);
  CHECK(p521[0].find("EC key on curve secp521r1: only P-256 (prime256v1) and P-384 (secp384r1)") != std::string::npos);
  auto k1 = refused(KeyType::secp256k1);
  REQUIRE(k1.size() == 1);
  CHECK(k1[0].find("curve secp256k1") != std::string::npos);
  // A weak intermediate key is refused as well.
  auto weak_ca = root().intermediate("Weak Intermediate", Validity::days(100), KeyType::rsa1024);
  auto weak = key_and_signature_problems(Chain(leaf(KeyType::p256, Digest::sha256, weak_ca).chain_pem).certs);
  REQUIRE(weak.size() == 1);
  CHECK(weak[0].starts_with("certificate 2 (CN=Weak Intermediate): RSA key of 1024 bits"));
}

TEST_CASE("the certificate policy refuses SHA-1 and MD5 signatures on the leaf and on an intermediate",
          "[unit][certstore][policy]") {
  SECTION("a SHA-1 signed leaf") {
    auto found = key_and_signature_problems(Chain(leaf(KeyType::p256, Digest::sha1).chain_pem).certs);
    REQUIRE(found.size() == 1);
    CHECK(found[0].starts_with("certificate 1 (CN=app.example.com): signed with ecdsa-with-SHA1: "));
    CHECK(found[0].find("SHA-1 and MD5 are refused") != std::string::npos);
  }
  SECTION("an MD5 signed leaf under an RSA CA") {
    auto rsa_ca = root().intermediate("RSA Intermediate", Validity::days(100), KeyType::rsa2048);
    auto found = key_and_signature_problems(Chain(leaf(KeyType::p256, Digest::md5, rsa_ca).chain_pem).certs);
    REQUIRE(found.size() == 1);
    CHECK(found[0].find("signed with md5WithRSAEncryption") != std::string::npos);
  }
  SECTION("a SHA-1 signed intermediate") {
    auto sha1_ca = root().intermediate("SHA-1 Intermediate", Validity::days(100), KeyType::p256, Digest::sha1);
    auto found = key_and_signature_problems(Chain(leaf(KeyType::p256, Digest::sha256, sha1_ca).chain_pem).certs);
    REQUIRE(found.size() == 1);
    CHECK(found[0].starts_with("certificate 2 (CN=SHA-1 Intermediate): signed with ecdsa-with-SHA1"));
  }
  SECTION("a root sent along is not judged by its own signature") {
    auto old_root = TestCa::create("SHA-1 Root", Validity::days(3650), KeyType::p256, Digest::sha1);
    auto cert = old_root.intermediate("Modern Intermediate").issue({"app.example.com"});
    CHECK(key_and_signature_problems(Chain(cert.chain_pem + old_root.root_pem()).certs).empty());
  }
  SECTION("every problem at once") {
    auto found = key_and_signature_problems(Chain(leaf(KeyType::rsa1024, Digest::sha1).chain_pem).certs);
    CHECK(found.size() == 2);
    CHECK(any_contains(found, "RSA key of 1024 bits"));
    CHECK(any_contains(found, "signed with ecdsa-with-SHA1"));
  }
}

TEST_CASE("a chain is verified against the trust store, every reason reported, the anchor ones marked",
          "[unit][certstore][policy]") {
  const auto now = Clock::now();
  auto store = test_store();
  const TestCert good = inter().issue({"app.example.com"});

  SECTION("a chain to a trusted root verifies") {
    CHECK(trust_problems(Chain(good.chain_pem).certs, store.get(), now).empty());
  }
  SECTION("an untrusted chain: OpenSSL's reason, an anchor problem") {
    base::X509StorePtr empty(X509_STORE_new());
    auto found = trust_problems(Chain(good.chain_pem).certs, empty.get(), now);
    REQUIRE(found.size() == 1);
    CHECK(found[0].anchor);
    CHECK(found[0].reason ==
          "the chain does not verify against the trust store: certificate 2 (CN=Policy Test Intermediate): "
          "unable to get local issuer certificate");
    auto self = TestCa::create("app.example.com");
    auto own = trust_problems(Chain(self.root_pem()).certs, store.get(), now);
    REQUIRE(own.size() == 1);
    CHECK(own[0].anchor);
    CHECK(own[0].reason.find("self-signed certificate") != std::string::npos);
  }
  SECTION("an expired intermediate is no anchor problem: never let through") {
    auto old = root().intermediate("Expired Intermediate", Validity::expired());
    auto found = trust_problems(Chain(old.issue({"app.example.com"}).chain_pem).certs, store.get(), now);
    REQUIRE(!found.empty());
    CHECK(!found[0].anchor);
    CHECK(any_contains(reasons(found), "certificate 2 (CN=Expired Intermediate): certificate has expired"));
  }
  SECTION("the leaf's own dates are left to chain_problems") {
    auto expired = inter().issue({.names = {"app.example.com"}, .validity = Validity::expired()});
    CHECK(trust_problems(Chain(expired.chain_pem).certs, store.get(), now).empty());
  }
  SECTION("a chain in the wrong order is named by chain_problems") {
    Chain wrong(good.leaf_pem + root().root_pem() + inter().cert_pem());
    CHECK(any_contains(chain_problems(wrong.certs, now, {"app.example.com"}), "chain order"));
  }
  SECTION("allow_untrusted turns only the anchor problems into warnings") {
    base::X509StorePtr empty(X509_STORE_new());
    auto strict = check_outside_chain(Chain(good.chain_pem).certs, empty.get(), now, false);
    REQUIRE(strict.problems.size() == 1);
    CHECK(strict.problems[0].find("needs allow_untrusted") != std::string::npos);
    CHECK(strict.warnings.empty());
    auto lenient = check_outside_chain(Chain(good.chain_pem).certs, empty.get(), now, true);
    CHECK(lenient.problems.empty());
    REQUIRE(lenient.warnings.size() == 1);
    CHECK(lenient.warnings[0].find("accepted: allow_untrusted is set") != std::string::npos);
    // A weak key stays a problem whatever allow_untrusted says.
    auto weak = check_outside_chain(Chain(leaf(KeyType::rsa1024).chain_pem).certs, empty.get(), now, true);
    CHECK(weak.problems.size() == 1);
    CHECK(weak.warnings.size() == 1);
  }
}

TEST_CASE("a transitional bundle with a weak key is refused with its origin; a managed one is not judged",
          "[unit][certstore][policy]") {
  const TestCert weak = leaf(KeyType::rsa1024, Digest::sha1);
  auto refused = CertBundle::from_pem(weak.chain_pem, weak.key_pem, CertSource::transitional, "certs/weak.crt");
  REQUIRE(!refused);
  CHECK(refused.error().message().starts_with("certs/weak.crt: certificate 1 (CN=app.example.com): RSA key of 1024 bits"));
  CHECK(refused.error().message().find("signed with ecdsa-with-SHA1") != std::string::npos);
  CHECK(CertBundle::from_pem(weak.chain_pem, weak.key_pem, CertSource::managed, "acme"));

  // A deferred parse (large folders, stored rows) meets the same policy on first use.
  auto combined = base::SecretBytes(weak.chain_pem + std::string(weak.key_pem.reveal()));
  auto deferred = CertBundle::from_combined_pem_deferred(combined, CertSource::transitional, "dir/weak.pem");
  REQUIRE(deferred);
  auto st = (*deferred)->materialize();
  REQUIRE(!st);
  CHECK(st.error().message().find("dir/weak.pem: certificate 1 (CN=app.example.com): RSA key of 1024 bits") !=
        std::string::npos);
  CHECK((*deferred)->leaf() == nullptr);
}

TEST_CASE("a stored certificate is indexed only under the hostnames its endpoint owns", "[unit][certstore][policy]") {
  auto wildcard = inter().issue({"*.example.com", "example.com"}).bundle(CertSource::transitional);
  CHECK(wildcard->owned_names({"a.example.com"}) == std::vector<std::string>{"a.example.com"});
  CHECK(wildcard->owned_names({"*.example.com", "a.b.example.com"}) == std::vector<std::string>{"*.example.com"});
  CHECK(wildcard->owned_names({"other.test"}).empty());
  auto exact = inter().issue({"a.example.com"}).bundle(CertSource::transitional);
  CHECK(exact->owned_names({"*.example.com"}).empty());  // an exact name does not cover the wildcard

  auto filed = CertBundle::indexed_as(wildcard, wildcard->owned_names({"a.example.com"}));
  CHECK(filed->names() == wildcard->names());
  CHECK(filed->index_names() == std::vector<std::string>{"a.example.com"});
  CHECK(filed->leaf() == wildcard->leaf());
  CHECK(filed->key() == wildcard->key());

  auto fallback = inter().issue({"default.invalid"}).bundle(CertSource::default_cert);
  auto snapshot = CertSnapshot::Builder().default_cert(fallback).add(filed).build();
  CHECK(snapshot->select("a.example.com") == filed.get());
  CHECK(snapshot->select("b.example.com") == fallback.get());
  CHECK(snapshot->select("example.com") == fallback.get());
  // Swapped out by identity, as the catalog does when the endpoint's hostnames change.
  auto refiled = CertBundle::indexed_as(wildcard, {"b.example.com"});
  auto next = snapshot->with_changes({filed}, {refiled});
  CHECK(next->select("a.example.com") == fallback.get());
  CHECK(next->select("b.example.com") == refiled.get());
}
