#include "tests/support/test_certs.hpp"

#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/dsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/atomic_file.hpp"
#include "certstore/pem.hpp"

namespace portcullis::testing {
namespace {

using namespace std::chrono_literals;
using certstore::CertBundlePtr;
using certstore::CertSource;
using base::PkeyPtr;
using base::X509Ptr;
using Clock = certstore::Clock;

[[noreturn]] void die(const std::string& what) {
  throw std::runtime_error("test certificates: " + what + ": " + base::openssl_errors());
}

PkeyPtr make_dsa() {
  base::PkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_name(nullptr, "DSA", nullptr));
  EVP_PKEY* params = nullptr;
  if (!pctx || EVP_PKEY_paramgen_init(pctx.get()) != 1 || EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx.get(), 1024) != 1 ||
      EVP_PKEY_paramgen(pctx.get(), &params) != 1) {
    die("DSA parameters");
  }
  PkeyPtr owned_params(params);
  base::PkeyCtxPtr kctx(EVP_PKEY_CTX_new_from_pkey(nullptr, owned_params.get(), nullptr));
  EVP_PKEY* key = nullptr;
  if (!kctx || EVP_PKEY_keygen_init(kctx.get()) != 1 || EVP_PKEY_keygen(kctx.get(), &key) != 1) die("DSA key");
  return PkeyPtr(key);
}

PkeyPtr make_key(KeyType type) {
  auto checked = [](EVP_PKEY* key, const char* what) {
    if (key == nullptr) die(what);
    return PkeyPtr(key);
  };
  switch (type) {
    case KeyType::p256:
    case KeyType::rsa2048: {
      auto key = type == KeyType::p256 ? certstore::pem::generate_p256() : certstore::pem::generate_rsa(2048);
      if (!key) throw std::runtime_error("test certificates: " + key.error().message());
      return std::move(*key);
    }
    case KeyType::p384: return checked(EVP_EC_gen("P-384"), "P-384 key");
    case KeyType::ed25519: return checked(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), "Ed25519 key");
    case KeyType::rsa1024: return checked(EVP_RSA_gen(1024), "RSA-1024 key");
    case KeyType::dsa: return make_dsa();
    case KeyType::secp521r1: return checked(EVP_EC_gen("P-521"), "P-521 key");
    case KeyType::secp256k1: return checked(EVP_EC_gen("secp256k1"), "secp256k1 key");
  }
  die("key type");
}

const EVP_MD* md_of(Digest digest) {
  switch (digest) {
    case Digest::sha1: return EVP_sha1();
    case Digest::md5: return EVP_md5();
    case Digest::sha256: break;
  }
  return EVP_sha256();
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) die("extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) die("adding extension");
}

void set_serial(X509* cert, const std::optional<std::string>& serial_hex) {
  base::BignumPtr bn(BN_new());
  if (!bn) die("BN_new");
  if (serial_hex) {
    BIGNUM* raw = bn.get();
    if (BN_hex2bn(&raw, serial_hex->c_str()) == 0) die("serial \"" + *serial_hex + "\"");
  } else if (BN_rand(bn.get(), 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1) {
    die("BN_rand");
  }
  if (BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) die("serial");
}

void set_validity(X509* cert, const Validity& v) {
  if (ASN1_TIME_set(X509_getm_notBefore(cert), Clock::to_time_t(v.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), Clock::to_time_t(v.not_after)) == nullptr) {
    die("validity");
  }
}

void set_cn(X509_NAME* name, const std::string& cn) {
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                 -1, 0) != 1) {
    die("CN " + cn);
  }
}

// An unsigned certificate for `key` under `issuer` (nullptr: self-issued); the caller adds its
// own extensions and signs.
X509Ptr make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, const Validity& validity,
                  const std::optional<std::string>& serial_hex) {
  X509Ptr cert(X509_new());
  if (!cert) die("X509_new");
  X509_set_version(cert.get(), X509_VERSION_3);
  set_serial(cert.get(), serial_hex);
  set_validity(cert.get(), validity);
  if (!cn.empty()) set_cn(X509_get_subject_name(cert.get()), cn);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(cert.get()));
  if (X509_set_pubkey(cert.get(), key) != 1) die("public key");
  add_ext(cert.get(), issuer ? issuer : cert.get(), NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_ext(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
  return cert;
}

void sign(X509* cert, EVP_PKEY* issuer_key, Digest digest = Digest::sha256) {
  // EdDSA signs the message itself: no separate digest (RFC 8410 §3).
  const EVP_MD* md = EVP_PKEY_get_base_id(issuer_key) == EVP_PKEY_ED25519 ? nullptr : md_of(digest);
  if (X509_sign(cert, issuer_key, md) <= 0) die("signing");
}

std::shared_ptr<X509> share(X509Ptr cert) { return std::shared_ptr<X509>(cert.release(), X509_free); }
std::shared_ptr<EVP_PKEY> share(PkeyPtr key) { return std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free); }

}  // namespace

Validity Validity::days(int days) {
  auto now = Clock::now();
  return {now - 1h, now + std::chrono::hours(24) * days};
}

Validity Validity::expired(int days_ago) {
  auto end = Clock::now() - std::chrono::hours(24) * days_ago;
  return {end - std::chrono::hours(24) * 90, end};
}

Validity Validity::not_yet_valid(int days_ahead) {
  auto start = Clock::now() + std::chrono::hours(24) * days_ahead;
  return {start, start + std::chrono::hours(24) * 90};
}

CertBundlePtr TestCert::bundle(CertSource source) const {
  auto b = certstore::CertBundle::from_pem(chain_pem, key_pem, source, "test certificate");
  if (!b) throw std::runtime_error(b.error().message());
  return *b;
}

void TestCert::write_files(const std::filesystem::path& cert_file, const std::filesystem::path& key_file) const {
  if (auto st = base::write_file_atomic(cert_file, chain_pem, 0644); !st) {
    throw std::runtime_error(st.error().message());
  }
  if (auto st = base::write_secret_file(key_file, key_pem); !st) throw std::runtime_error(st.error().message());
}

TestCa TestCa::create(const std::string& common_name, Validity validity, KeyType key_type, Digest digest) {
  PkeyPtr key = make_key(key_type);
  X509Ptr cert = make_cert(key.get(), common_name, nullptr, validity, std::nullopt);
  add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  sign(cert.get(), key.get(), digest);
  TestCa ca;
  ca.cert_pem_ = certstore::pem::to_pem(cert.get());
  ca.root_pem_ = ca.cert_pem_;
  ca.cert_ = share(std::move(cert));
  ca.key_ = share(std::move(key));
  return ca;
}

TestCa TestCa::intermediate(const std::string& common_name, Validity validity, KeyType key_type,
                            Digest digest) const {
  PkeyPtr key = make_key(key_type);
  X509Ptr cert = make_cert(key.get(), common_name, cert_.get(), validity, std::nullopt);
  add_ext(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  sign(cert.get(), key_.get(), digest);
  TestCa ca;
  ca.cert_pem_ = certstore::pem::to_pem(cert.get());
  ca.root_pem_ = root_pem_;
  ca.chain_above_ = ca.cert_pem_ + chain_above_;
  ca.cert_ = share(std::move(cert));
  ca.key_ = share(std::move(key));
  return ca;
}

TestCert TestCa::issue(const IssueOptions& options) const {
  if (options.names.empty() && options.common_name.empty()) {
    throw std::runtime_error("test certificates: issue() needs at least one name");
  }
  PkeyPtr key = make_key(options.key_type);
  std::string cn = options.common_name.empty() ? options.names.front() : options.common_name;
  X509Ptr cert = make_cert(key.get(), cn, cert_.get(), options.validity, options.serial_hex);
  add_ext(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), cert_.get(), NID_key_usage,
          options.key_type == KeyType::rsa2048 || options.key_type == KeyType::rsa1024
              ? "critical,digitalSignature,keyEncipherment"
              : "critical,digitalSignature");
  add_ext(cert.get(), cert_.get(), NID_ext_key_usage, "serverAuth");
  if (options.with_san && !options.names.empty()) {
    std::string san;
    for (const auto& name : options.names) san += (san.empty() ? "DNS:" : ",DNS:") + name;
    add_ext(cert.get(), cert_.get(), NID_subject_alt_name, san);
  }
  sign(cert.get(), key_.get(), options.digest);

  TestCert out;
  out.leaf_pem = certstore::pem::to_pem(cert.get());
  out.chain_pem = out.leaf_pem + chain_above_;
  out.key_pem = certstore::pem::to_pem(key.get());
  base::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  char* hex = BN_bn2hex(serial.get());
  out.serial_hex = hex;
  OPENSSL_free(hex);
  return out;
}

TestCert TestCa::issue(std::vector<std::string> names, Validity validity) const {
  IssueOptions options;
  options.names = std::move(names);
  options.validity = validity;
  return issue(options);
}

}  // namespace portcullis::testing
