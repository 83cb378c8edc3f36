#include "certstore/cert_bundle.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/err.h>

#include "base/hostname.hpp"
#include "certstore/pem.hpp"

namespace portcullis::certstore {
namespace {

std::string asn1_to_utf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  int len = ASN1_STRING_to_UTF8(&out, s);
  if (len < 0) return {};
  std::string text(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
  OPENSSL_free(out);
  return text;
}

std::string common_name(const X509_NAME* name) {
  if (name == nullptr) return {};
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  return asn1_to_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
}

// RFC 6125 §6.4.4: the CN is consulted only when the certificate has no DNS subjectAltName.
std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> names;
  base::GeneralNamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
      if (gn->type != GEN_DNS) continue;
      std::string name = base::normalize_hostname(asn1_to_utf8(gn->d.dNSName));
      if (!name.empty()) names.push_back(std::move(name));
    }
  }
  if (names.empty()) {
    std::string cn = base::normalize_hostname(common_name(X509_get_subject_name(cert)));
    if (!cn.empty()) names.push_back(std::move(cn));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<Clock::time_point> to_time_point(const ASN1_TIME* t, std::string_view what) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return fail(Errc::invalid_input, fmt::format("certificate {} is not a valid time", what));
  }
  return Clock::from_time_t(timegm(&tm));
}

std::string describe(X509* cert, std::size_t position) {
  std::string cn = common_name(X509_get_subject_name(cert));
  return cn.empty() ? fmt::format("certificate {}", position) : fmt::format("certificate {} (CN={})", position, cn);
}

}  // namespace

std::string_view to_string(CertSource source) noexcept {
  switch (source) {
    case CertSource::managed: return "managed";
    case CertSource::transitional: return "transitional";
    case CertSource::fallback: return "fallback";
    case CertSource::default_cert: return "default";
  }
  return "unknown";
}

Result<std::shared_ptr<const CertBundle>> CertBundle::from_pem(std::string_view chain_pem,
                                                              const base::SecretBytes& key_pem, CertSource source,
                                                              std::string_view origin) {
  auto chain = pem::parse_chain(chain_pem);
  if (!chain) return tl::unexpected(chain.error().with_context(origin));
  auto key = pem::parse_private_key(key_pem);
  if (!key) return tl::unexpected(key.error().with_context(std::string(origin) + ": private key"));
  return assemble(std::move(*chain), std::move(*key), source, origin);
}

Result<std::shared_ptr<const CertBundle>> CertBundle::from_combined_pem(const base::SecretBytes& pem_text,
                                                                       CertSource source, std::string_view origin) {
  auto parsed = pem::parse_chain_and_key(pem_text);
  if (!parsed) return tl::unexpected(parsed.error().with_context(origin));
  return assemble(std::move(parsed->chain), std::move(parsed->key), source, origin);
}

Result<std::shared_ptr<const CertBundle>> CertBundle::assemble(std::vector<base::X509Ptr> chain, base::PkeyPtr key,
                                                              CertSource source, std::string_view origin) {
  X509* leaf = chain.front().get();
  ERR_clear_error();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_input, std::string(origin) + ": private key does not match the certificate");
  }

  // make_shared cannot reach the private constructor.
  std::shared_ptr<CertBundle> bundle(new CertBundle());
  bundle->names_ = dns_names(leaf);
  if (bundle->names_.empty()) {
    return fail(Errc::invalid_input, std::string(origin) + ": the certificate names no DNS host (no SAN, no CN)");
  }
  auto nb = to_time_point(X509_get0_notBefore(leaf), "notBefore");
  if (!nb) return tl::unexpected(nb.error().with_context(origin));
  auto na = to_time_point(X509_get0_notAfter(leaf), "notAfter");
  if (!na) return tl::unexpected(na.error().with_context(origin));
  bundle->not_before_ = *nb;
  bundle->not_after_ = *na;

  base::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr));
  if (serial) {
    char* hex = BN_bn2hex(serial.get());  // upper-case already
    if (hex != nullptr) {
      bundle->serial_hex_ = hex;
      OPENSSL_free(hex);
    }
  }
  bundle->issuer_cn_ = common_name(X509_get_issuer_name(leaf));

  for (auto& cert : chain) bundle->chain_pem_ += pem::to_pem(cert.get());
  bundle->leaf_ = std::move(chain.front());
  for (std::size_t i = 1; i < chain.size(); ++i) bundle->intermediates_.push_back(std::move(chain[i]));
  if (!bundle->intermediates_.empty()) {
    bundle->chain_stack_.reset(sk_X509_new_reserve(nullptr, static_cast<int>(bundle->intermediates_.size())));
    if (!bundle->chain_stack_) return fail(Errc::crypto, std::string(origin) + ": out of memory for the chain");
    for (const auto& c : bundle->intermediates_) sk_X509_push(bundle->chain_stack_.get(), c.get());
  }
  bundle->key_ = std::move(key);
  bundle->source_ = source;
  return bundle;
}

Status CertBundle::validate(Clock::time_point now, const std::vector<std::string>& must_cover) const {
  auto found = problems(now, must_cover);
  if (found.empty()) return {};
  return fail(Errc::invalid_input, fmt::format("{}", fmt::join(found, "; ")));
}

std::vector<std::string> CertBundle::problems(Clock::time_point now, const std::vector<std::string>& must_cover) const {
  std::vector<X509*> chain{leaf_.get()};
  for (const auto& c : intermediates_) chain.push_back(c.get());
  return chain_problems(chain, now, must_cover);
}

std::vector<std::string> chain_problems(const std::vector<X509*>& chain, Clock::time_point now,
                                        const std::vector<std::string>& must_cover) {
  // Every problem at once: an operator fixing an upload should not discover them one by one.
  std::vector<std::string> problems;
  if (chain.empty()) return {"no certificate in input"};
  X509* leaf = chain.front();
  auto not_before = to_time_point(X509_get0_notBefore(leaf), "notBefore");
  auto not_after = to_time_point(X509_get0_notAfter(leaf), "notAfter");
  if (!not_before) problems.push_back(not_before.error().message());
  if (!not_after) problems.push_back(not_after.error().message());
  if (not_after && now >= *not_after) {
    problems.push_back(fmt::format("certificate expired at {}", format_time(*not_after)));
  } else if (not_before && now < *not_before) {
    problems.push_back(fmt::format("certificate is not valid before {}", format_time(*not_before)));
  }

  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    X509* subject = chain[i];
    X509* issuer = chain[i + 1];
    // X509_check_issued compares names and key identifiers; only the signature proves it.
    bool issued = X509_check_issued(issuer, subject) == X509_V_OK;
    EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
    bool signed_by = issued && issuer_key != nullptr && X509_verify(subject, issuer_key) == 1;
    ERR_clear_error();
    if (!signed_by) {
      problems.push_back(fmt::format("chain order: {} is not signed by the {} that follows it (expected leaf "
                                     "first, then each issuer in turn)",
                                     describe(subject, i + 1), describe(issuer, i + 2)));
      break;
    }
  }

  const auto names = dns_names(leaf);
  auto covers = [&](const std::string& host) {
    base::LowerHost lowered(host);
    return lowered.ok() && std::any_of(names.begin(), names.end(),
                                       [&](const auto& name) { return base::name_matches(name, lowered.view()); });
  };
  std::vector<std::string> missing;
  for (const auto& name : must_cover) {
    if (!covers(name)) missing.push_back(base::normalize_hostname(name));
  }
  if (!missing.empty()) {
    problems.push_back(fmt::format("names not covered by the certificate: {} (it covers: {})",
                                   fmt::join(missing, ", "), fmt::join(names, ", ")));
  }
  return problems;
}

bool CertBundle::covers(std::string_view host) const {
  base::LowerHost lowered(host);
  if (!lowered.ok()) return false;
  for (const auto& name : names_) {
    if (base::name_matches(name, lowered.view())) return true;
  }
  return false;
}

std::string format_time(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace portcullis::certstore
