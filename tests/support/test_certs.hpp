// Test certificates made in-process: a root CA, intermediates under it, and leaves with chosen
// names, serial, validity (including already expired) and key type. For tests only: failures
// throw std::runtime_error (Catch2 reports them) instead of returning Result.
//
//   auto root = TestCa::create("Test Root");
//   auto inter = root.intermediate("Test Intermediate");
//   TestCert app = inter.issue({"app.example.com"});
//   TestCert old = inter.issue({.names = {"expired.example.com"}, .validity = Validity::expired()});
//   auto bundle = app.bundle(certstore::CertSource::managed);   // CertBundlePtr, chain = leaf + intermediate
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ossl.hpp"
#include "base/secret_bytes.hpp"
#include "certstore/cert_bundle.hpp"

namespace portcullis::testing {

// Certificate times are wall-clock (certstore::Clock); spelled out because process.hpp's
// testing::Clock is the steady clock.
// The weak ones (rsa1024, dsa, secp521r1, secp256k1) are refused by the certificate policy
// (certstore/cert_policy) and exist to prove it.
enum class KeyType { p256, rsa2048, p384, ed25519, rsa1024, dsa, secp521r1, secp256k1 };
// The digest an issuer signs with (ignored for an Ed25519 issuer, which has none).
enum class Digest { sha256, sha1, md5 };

struct Validity {
  certstore::Clock::time_point not_before;
  certstore::Clock::time_point not_after;

  // From an hour ago (clock skew) to `days` from now.
  static Validity days(int days);
  // Ended `days_ago` days ago (and began 90 days before that).
  static Validity expired(int days_ago = 1);
  // Starts `days_ahead` days from now.
  static Validity not_yet_valid(int days_ahead = 1);
};

struct IssueOptions {
  std::vector<std::string> names;  // subjectAltName DNS entries; the first is the CN by default
  std::string common_name;         // overrides the CN (empty: the first name)
  bool with_san = true;            // false: CN only, no subjectAltName (legacy certificates)
  std::optional<std::string> serial_hex;  // e.g. "1001"; default: 64 random bits
  Validity validity = Validity::days(90);
  KeyType key_type = KeyType::p256;
  Digest digest = Digest::sha256;  // what the issuer signs this leaf with
};

// A leaf as a server would be configured with it.
struct TestCert {
  std::string leaf_pem;
  std::string chain_pem;  // leaf first, then every intermediate up to (not including) the root
  base::SecretBytes key_pem;    // PKCS#8, unencrypted
  std::string serial_hex; // upper-case hex, as CertBundle reports it

  // Parses chain + key into a bundle; throws if CertBundle refuses it.
  certstore::CertBundlePtr bundle(certstore::CertSource source = certstore::CertSource::managed) const;
  // Writes the chain (0644) and the key (0600) atomically.
  void write_files(const std::filesystem::path& cert_file, const std::filesystem::path& key_file) const;
};

class TestCa {
 public:
  // A self-signed root, valid for ten years unless told otherwise.
  static TestCa create(const std::string& common_name, Validity validity = Validity::days(3650),
                       KeyType key_type = KeyType::p256, Digest digest = Digest::sha256);

  // A CA signed by this one. Leaves it issues carry it (and any CA between it and the root) in
  // their chain.
  TestCa intermediate(const std::string& common_name, Validity validity = Validity::days(1825),
                      KeyType key_type = KeyType::p256, Digest digest = Digest::sha256) const;

  TestCert issue(const IssueOptions& options) const;
  TestCert issue(std::vector<std::string> names, Validity validity = Validity::days(90)) const;

  const std::string& cert_pem() const noexcept { return cert_pem_; }  // this CA's own certificate
  // The root's certificate: what a client trusts (e.g. `curl --cacert`).
  const std::string& root_pem() const noexcept { return root_pem_; }
  X509* cert() const noexcept { return cert_.get(); }
  EVP_PKEY* key() const noexcept { return key_.get(); }

 private:
  TestCa() = default;
  std::shared_ptr<X509> cert_;
  std::shared_ptr<EVP_PKEY> key_;
  std::string cert_pem_;
  std::string root_pem_;
  std::string chain_above_;  // intermediates from this CA (included) up to the root (excluded)
};

}  // namespace portcullis::testing
