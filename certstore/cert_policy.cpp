#include "certstore/cert_policy.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace portcullis::certstore {
namespace {

// RSA below this many bits is refused (NIST SP 800-131A: 2048 since 2014; the CA/Browser Forum
// Baseline Requirements §6.1.5 ask the same of every certificate they govern).
constexpr int min_rsa_bits = 2048;

// OpenSSL's names of the accepted curves (P-256, P-384).
constexpr std::array<std::string_view, 2> accepted_curves{"prime256v1", "secp384r1"};

std::string subject_cn(X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  const int idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
  if (idx < 0) return {};
  unsigned char* out = nullptr;
  const int len = ASN1_STRING_to_UTF8(&out, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
  if (len < 0) return {};
  std::string cn(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
  OPENSSL_free(out);
  return cn;
}

// "certificate 2 (CN=Old PaaS Intermediate)": its place in the chain as sent, 1 for the leaf.
std::string describe(X509* cert, std::size_t position) {
  const std::string cn = subject_cn(cert);
  return cn.empty() ? fmt::format("certificate {}", position) : fmt::format("certificate {} (CN={})", position, cn);
}

std::string key_problem(EVP_PKEY* key) {
  if (key == nullptr) return "its public key cannot be read";
  constexpr std::string_view accepted = "RSA of 2048 bits or more, EC P-256 or P-384, or Ed25519";
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS: {
      const int bits = EVP_PKEY_get_bits(key);
      if (bits >= min_rsa_bits) return {};
      return fmt::format("RSA key of {} bits: at least {} are required", bits, min_rsa_bits);
    }
    case EVP_PKEY_EC: {
      char group[80] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) {
        ERR_clear_error();
        return fmt::format("EC key with explicit curve parameters: only {} are accepted", accepted);
      }
      const std::string_view curve(group, len);
      if (std::find(accepted_curves.begin(), accepted_curves.end(), curve) != accepted_curves.end()) return {};
      return fmt::format("EC key on curve {}: only P-256 (prime256v1) and P-384 (secp384r1) are accepted", curve);
    }
    case EVP_PKEY_ED25519:
      return {};
    case EVP_PKEY_DSA:
      return fmt::format("DSA key: refused (accepted: {})", accepted);
    default: {
      const char* type = EVP_PKEY_get0_type_name(key);
      return fmt::format("{} key: refused (accepted: {})", type ? type : "unknown", accepted);
    }
  }
}

std::string signature_problem(X509* cert) {
  int md = NID_undef, pk = NID_undef, bits = 0;
  std::uint32_t flags = 0;
  const bool known = X509_get_signature_info(cert, &md, &pk, &bits, &flags) == 1;
  ERR_clear_error();
  if (known && (md == NID_sha256 || md == NID_sha384 || md == NID_sha512)) return {};
  if (known && md == NID_undef && pk == NID_ED25519) return {};
  const char* name = OBJ_nid2ln(X509_get_signature_nid(cert));
  return fmt::format("signed with {}: only SHA-256, SHA-384, SHA-512 or Ed25519 signatures are accepted (SHA-1 and "
                     "MD5 are refused)",
                     name ? name : "an unknown algorithm");
}

bool self_signed(X509* cert) {
  const bool yes = X509_check_issued(cert, cert) == X509_V_OK;
  ERR_clear_error();
  return yes;
}

// Verification errors that mean only "no root of the store is reached": the chain may be sound.
bool anchor_error(int err) {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return true;
    default:
      return false;
  }
}

struct Collected {
  std::vector<TrustProblem> problems;
};

// Verification goes on past each error so that every reason is reported at once; the result is
// judged from what was collected, never from the return of X509_verify_cert.
int collect(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1) return 1;
  auto* collected = static_cast<Collected*>(X509_STORE_CTX_get_app_data(ctx));
  const int err = X509_STORE_CTX_get_error(ctx);
  const int depth = X509_STORE_CTX_get_error_depth(ctx);
  // The leaf's own dates are chain_problems()'s ("certificate expired at ...").
  if (depth == 0 && (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID)) return 1;
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  const std::string where =
      cert ? describe(cert, static_cast<std::size_t>(depth) + 1) : fmt::format("certificate {}", depth + 1);
  std::string reason =
      fmt::format("the chain does not verify against the trust store: {}: {}", where, X509_verify_cert_error_string(err));
  const bool seen = std::any_of(collected->problems.begin(), collected->problems.end(),
                                [&](const TrustProblem& p) { return p.reason == reason; });
  if (!seen) collected->problems.push_back({std::move(reason), anchor_error(err)});
  return 1;
}

}  // namespace

std::vector<std::string> key_and_signature_problems(const std::vector<X509*>& chain) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    X509* cert = chain[i];
    if (cert == nullptr) continue;
    if (i > 0 && i + 1 == chain.size() && self_signed(cert)) break;  // a root sent along
    if (auto p = key_problem(X509_get0_pubkey(cert)); !p.empty()) {
      problems.push_back(fmt::format("{}: {}", describe(cert, i + 1), p));
    }
    ERR_clear_error();
    if (auto p = signature_problem(cert); !p.empty()) problems.push_back(fmt::format("{}: {}", describe(cert, i + 1), p));
  }
  return problems;
}

Result<base::X509StorePtr> system_trust_store() {
  base::X509StorePtr store(X509_STORE_new());
  if (!store || X509_STORE_set_default_paths(store.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::crypto, "the system trust store cannot be loaded (OpenSSL's default paths)");
  }
  ERR_clear_error();
  return store;
}

std::vector<TrustProblem> trust_problems(const std::vector<X509*>& chain, X509_STORE* trusted, Clock::time_point now) {
  if (chain.empty() || chain.front() == nullptr) return {{"no certificate in input", false}};
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(sk_X509_new_null(),
                                                                      [](STACK_OF(X509)* s) { sk_X509_free(s); });
  base::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!untrusted || !ctx) return {{"out of memory while verifying the chain", false}};
  for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i]);
  if (X509_STORE_CTX_init(ctx.get(), trusted, chain.front(), untrusted.get()) != 1) {
    ERR_clear_error();
    return {{"the chain cannot be verified: OpenSSL could not set up the verification", false}};
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  X509_STORE_CTX_set_time(ctx.get(), 0, Clock::to_time_t(now));
  Collected collected;
  X509_STORE_CTX_set_app_data(ctx.get(), &collected);
  X509_STORE_CTX_set_verify_cb(ctx.get(), collect);
  const int verified = X509_verify_cert(ctx.get());
  if (verified != 1 && collected.problems.empty()) {
    // An error the callback never saw (e.g. an internal failure): reported as OpenSSL says it.
    collected.problems.push_back(
        {fmt::format("the chain does not verify against the trust store: {}",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))),
         false});
  }
  ERR_clear_error();
  return std::move(collected.problems);
}

PolicyVerdict check_outside_chain(const std::vector<X509*>& chain, X509_STORE* trusted, Clock::time_point now,
                                  bool allow_untrusted) {
  PolicyVerdict verdict;
  verdict.problems = key_and_signature_problems(chain);
  for (auto& p : trust_problems(chain, trusted, now)) {
    if (p.anchor && allow_untrusted) {
      verdict.warnings.push_back(p.reason + " (accepted: allow_untrusted is set)");
    } else {
      verdict.problems.push_back(p.anchor ? p.reason + " (a private CA needs allow_untrusted)" : std::move(p.reason));
    }
  }
  return verdict;
}

}  // namespace portcullis::certstore
