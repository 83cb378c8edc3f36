#include "certstore/cert_bundle.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/err.h>

#include "base/hostname.hpp"
#include "base/logging.hpp"
#include "base/quote.hpp"
#include "certstore/cert_policy.hpp"
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
std::vector<std::string> dns_names(const STACK_OF(X509_EXTENSION)* extensions, const X509_NAME* subject) {
  std::vector<std::string> names;
  base::GeneralNamesPtr sans(
      extensions == nullptr
          ? nullptr
          : static_cast<GENERAL_NAMES*>(X509V3_get_d2i(extensions, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
      if (gn->type != GEN_DNS) continue;
      std::string name = base::normalize_hostname(asn1_to_utf8(gn->d.dNSName));
      if (!name.empty()) names.push_back(std::move(name));
    }
  }
  if (names.empty()) {
    std::string cn = base::normalize_hostname(common_name(subject));
    if (!cn.empty()) names.push_back(std::move(cn));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string integer_hex(const ASN1_INTEGER* serial) {
  base::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());  // upper-case already
  if (hex == nullptr) return {};
  std::string out = hex;
  OPENSSL_free(hex);
  return out;
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


// What the SNI index and the lifecycle need from a leaf, read from its DER without decoding the
// public key: d2i_X509 decodes the key (under OpenSSL 3.0 through a decoder context built per
// call, openssl/openssl#15199), which costs about twenty times the rest of the certificate. The
// certificate and its TBSCertificate are walked as generic sequences (RFC 5280 §4.1: version
// [0], serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, then the optional
// [1] [2] [3]); the parts read are decoded with OpenSSL's own types.

struct SequenceFree {
  void operator()(ASN1_SEQUENCE_ANY* s) const noexcept { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); }
};
using SequencePtr = std::unique_ptr<ASN1_SEQUENCE_ANY, SequenceFree>;
struct ValFree {
  void operator()(X509_VAL* v) const noexcept { X509_VAL_free(v); }
};
struct ExtensionsFree {
  void operator()(STACK_OF(X509_EXTENSION)* s) const noexcept { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};

SequencePtr decode_sequence(const ASN1_STRING* encoded) {
  const unsigned char* p = encoded->data;
  return SequencePtr(d2i_ASN1_SEQUENCE_ANY(nullptr, &p, encoded->length));
}

Result<CertFacts> read_leaf_facts(const std::vector<unsigned char>& der) {
  auto bad = [](std::string_view what) {
    ERR_clear_error();
    return fail(Errc::invalid_input, fmt::format("block 1: not a certificate: {}", what));
  };
  const unsigned char* p = der.data();
  SequencePtr cert(d2i_ASN1_SEQUENCE_ANY(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || sk_ASN1_TYPE_num(cert.get()) != 3) return bad("not an X.509 certificate structure");
  const ASN1_TYPE* tbs_type = sk_ASN1_TYPE_value(cert.get(), 0);
  if (tbs_type->type != V_ASN1_SEQUENCE) return bad("no TBSCertificate");
  SequencePtr tbs = decode_sequence(tbs_type->value.sequence);
  if (!tbs) return bad("the TBSCertificate does not decode");
  const int count = sk_ASN1_TYPE_num(tbs.get());
  int at = sk_ASN1_TYPE_value(tbs.get(), 0)->type == V_ASN1_OTHER ? 1 : 0;  // version [0] is optional
  if (count < at + 6) return bad("the TBSCertificate is short");
  auto field = [&](int offset) { return sk_ASN1_TYPE_value(tbs.get(), at + offset); };
  const ASN1_TYPE* serial = field(0);
  const ASN1_TYPE* issuer = field(2);
  const ASN1_TYPE* validity = field(3);
  const ASN1_TYPE* subject = field(4);
  if ((serial->type != V_ASN1_INTEGER && serial->type != V_ASN1_NEG_INTEGER) || issuer->type != V_ASN1_SEQUENCE ||
      validity->type != V_ASN1_SEQUENCE || subject->type != V_ASN1_SEQUENCE) {
    return bad("unexpected TBSCertificate fields");
  }
  CertFacts facts;
  facts.serial_hex = integer_hex(serial->value.integer);

  p = issuer->value.sequence->data;
  base::X509NamePtr issuer_name(d2i_X509_NAME(nullptr, &p, issuer->value.sequence->length));
  p = subject->value.sequence->data;
  base::X509NamePtr subject_name(d2i_X509_NAME(nullptr, &p, subject->value.sequence->length));
  p = validity->value.sequence->data;
  std::unique_ptr<X509_VAL, ValFree> val(d2i_X509_VAL(nullptr, &p, validity->value.sequence->length));
  if (!issuer_name || !subject_name || !val) return bad("the issuer, subject or validity does not decode");
  facts.issuer_cn = common_name(issuer_name.get());
  auto nb = to_time_point(val->notBefore, "notBefore");
  if (!nb) return tl::unexpected(nb.error());
  auto na = to_time_point(val->notAfter, "notAfter");
  if (!na) return tl::unexpected(na.error());
  facts.not_before = *nb;
  facts.not_after = *na;

  std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionsFree> extensions;
  for (int i = at + 6; i < count; ++i) {
    const ASN1_TYPE* t = sk_ASN1_TYPE_value(tbs.get(), i);
    if (t->type != V_ASN1_OTHER) continue;
    const unsigned char* q = t->value.asn1_string->data;
    long len = 0;
    int tag = 0, xclass = 0;
    if (ASN1_get_object(&q, &len, &tag, &xclass, t->value.asn1_string->length) & 0x80) return bad("bad extension tag");
    if (tag != 3 || xclass != V_ASN1_CONTEXT_SPECIFIC) continue;  // [1] issuerUniqueID, [2] subjectUniqueID
    extensions.reset(d2i_X509_EXTENSIONS(nullptr, &q, len));
    if (!extensions) return bad("the extensions do not decode");
  }
  facts.names = dns_names(extensions.get(), subject_name.get());
  ERR_clear_error();
  return facts;
}

// The same facts of a parsed leaf (the full parse's view of them).
Result<CertFacts> parsed_leaf_facts(X509* leaf) {
  CertFacts facts;
  facts.names = dns_names(X509_get0_extensions(leaf), X509_get_subject_name(leaf));
  auto nb = to_time_point(X509_get0_notBefore(leaf), "notBefore");
  if (!nb) return tl::unexpected(nb.error());
  auto na = to_time_point(X509_get0_notAfter(leaf), "notAfter");
  if (!na) return tl::unexpected(na.error());
  facts.not_before = *nb;
  facts.not_after = *na;
  facts.serial_hex = integer_hex(X509_get0_serialNumber(leaf));
  facts.issuer_cn = common_name(X509_get_issuer_name(leaf));
  return facts;
}

// Where the parsed leaf's facts depart from those a bundle was indexed by, one clause per fact
// ("names app.example.com, indexed as other.example.com"); empty when they agree.
std::vector<std::string> disagreements(const CertFacts& parsed, const CertFacts& indexed) {
  std::vector<std::string> out;
  if (parsed.names != indexed.names) {
    out.push_back(fmt::format("names {}, indexed as {}", fmt::join(parsed.names, ","), fmt::join(indexed.names, ",")));
  }
  if (parsed.not_before != indexed.not_before) {
    out.push_back(fmt::format("notBefore {}, indexed as {}", format_time(parsed.not_before),
                              format_time(indexed.not_before)));
  }
  if (parsed.not_after != indexed.not_after) {
    out.push_back(fmt::format("notAfter {}, indexed as {}", format_time(parsed.not_after),
                              format_time(indexed.not_after)));
  }
  if (parsed.serial_hex != indexed.serial_hex) {
    out.push_back(fmt::format("serial {}, indexed as {}", parsed.serial_hex, indexed.serial_hex));
  }
  if (parsed.issuer_cn != indexed.issuer_cn) {
    out.push_back(fmt::format("issuer CN {}, indexed as {}", base::quote(parsed.issuer_cn),
                              base::quote(indexed.issuer_cn)));
  }
  return out;
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

namespace {

// The key match and the served material (leaf, intermediates and their stack, key, normalised
// chain PEM) from a parsed chain and key; `out` is filled only on success.
struct Material {
  base::X509Ptr leaf;
  std::vector<base::X509Ptr> intermediates;
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> stack{nullptr, [](STACK_OF(X509)* s) { sk_X509_free(s); }};
  base::PkeyPtr key;
  std::string chain_pem;
};

Result<Material> make_material(std::vector<base::X509Ptr> chain, base::PkeyPtr key, CertSource source,
                               std::string_view origin) {
  X509* leaf = chain.front().get();
  ERR_clear_error();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_input, std::string(origin) + ": private key does not match the certificate");
  }
  if (source == CertSource::transitional) {
    // Brought from outside (an upload, a [[certificate]], a folder's file, a stored upload): the
    // key and signature policy holds wherever it is parsed in full, deferred parses included.
    std::vector<X509*> certs;
    for (const auto& c : chain) certs.push_back(c.get());
    if (auto problems = key_and_signature_problems(certs); !problems.empty()) {
      return fail(Errc::invalid_input, fmt::format("{}: {}", origin, fmt::join(problems, "; ")));
    }
  }
  Material m;
  for (auto& cert : chain) m.chain_pem += pem::to_pem(cert.get());
  m.leaf = std::move(chain.front());
  for (std::size_t i = 1; i < chain.size(); ++i) m.intermediates.push_back(std::move(chain[i]));
  if (!m.intermediates.empty()) {
    m.stack.reset(sk_X509_new_reserve(nullptr, static_cast<int>(m.intermediates.size())));
    if (!m.stack) return fail(Errc::crypto, std::string(origin) + ": out of memory for the chain");
    for (const auto& c : m.intermediates) sk_X509_push(m.stack.get(), c.get());
  }
  m.key = std::move(key);
  return m;
}

}  // namespace

Result<std::shared_ptr<const CertBundle>> CertBundle::assemble(std::vector<base::X509Ptr> chain, base::PkeyPtr key,
                                                              CertSource source, std::string_view origin) {
  X509* leaf_cert = chain.front().get();
  // make_shared cannot reach the private constructor.
  std::shared_ptr<CertBundle> bundle(new CertBundle());
  auto facts = parsed_leaf_facts(leaf_cert);
  if (!facts) return tl::unexpected(facts.error().with_context(origin));
  bundle->names_ = std::move(facts->names);
  bundle->not_before_ = facts->not_before;
  bundle->not_after_ = facts->not_after;
  bundle->serial_hex_ = std::move(facts->serial_hex);
  bundle->issuer_cn_ = std::move(facts->issuer_cn);

  auto material = make_material(std::move(chain), std::move(key), source, origin);
  if (!material) return tl::unexpected(material.error());
  if (bundle->names_.empty()) {
    return fail(Errc::invalid_input, std::string(origin) + ": the certificate names no DNS host (no SAN, no CN)");
  }
  bundle->leaf_ = std::move(material->leaf);
  bundle->intermediates_ = std::move(material->intermediates);
  bundle->chain_stack_.reset(material->stack.release());
  bundle->key_ = std::move(material->key);
  bundle->chain_pem_ = std::move(material->chain_pem);
  bundle->source_ = source;
  return bundle;
}

Result<std::shared_ptr<const CertBundle>> CertBundle::from_pem_deferred(std::string_view chain_pem,
                                                                       const base::SecretBytes& key_pem,
                                                                       CertSource source, std::string_view origin) {
  return deferred(chain_pem, key_pem, false, source, origin);
}

Result<std::shared_ptr<const CertBundle>> CertBundle::from_combined_pem_deferred(const base::SecretBytes& pem_text,
                                                                                CertSource source,
                                                                                std::string_view origin) {
  return deferred({}, pem_text, true, source, origin);
}

Result<std::shared_ptr<const CertBundle>> CertBundle::deferred(std::string_view chain_pem, base::SecretBytes key_pem,
                                                              bool combined, CertSource source,
                                                              std::string_view origin) {
  auto der = pem::leaf_der(combined ? key_pem.reveal() : chain_pem, combined);
  if (!der) return tl::unexpected(der.error().with_context(origin));
  if (!combined) {
    // The key's own structure, as from_pem checks it: one block, not encrypted. Decoding it is
    // left to the full parse.
    if (auto st = pem::check_private_key_blocks(key_pem); !st) {
      return tl::unexpected(st.error().with_context(std::string(origin) + ": private key"));
    }
  }
  auto facts = read_leaf_facts(*der);
  if (!facts) return tl::unexpected(facts.error().with_context(origin));
  return make_pending(std::string(chain_pem), std::move(key_pem), combined, std::move(*facts), source, origin);
}

Result<std::shared_ptr<const CertBundle>> CertBundle::from_facts_deferred(std::string chain_pem,
                                                                         base::SecretBytes key_pem, CertFacts facts,
                                                                         CertSource source, std::string_view origin) {
  return make_pending(std::move(chain_pem), std::move(key_pem), false, std::move(facts), source, origin);
}

Result<std::shared_ptr<const CertBundle>> CertBundle::make_pending(std::string chain_pem, base::SecretBytes key_pem,
                                                             bool combined, CertFacts facts, CertSource source,
                                                             std::string_view origin) {
  if (facts.names.empty()) {
    return fail(Errc::invalid_input, std::string(origin) + ": the certificate names no DNS host (no SAN, no CN)");
  }
  std::shared_ptr<CertBundle> bundle(new CertBundle());
  bundle->names_ = std::move(facts.names);
  bundle->not_before_ = facts.not_before;
  bundle->not_after_ = facts.not_after;
  bundle->serial_hex_ = std::move(facts.serial_hex);
  bundle->issuer_cn_ = std::move(facts.issuer_cn);
  bundle->source_ = source;
  bundle->pending_chain_ = std::move(chain_pem);
  bundle->pending_key_ = std::move(key_pem);
  bundle->pending_combined_ = combined;
  bundle->origin_ = std::string(origin);
  bundle->state_.store(State::pending, std::memory_order_release);
  return bundle;
}

CertBundle::State CertBundle::complete() const noexcept {
  std::lock_guard lock(mutex_);
  State s = state_.load(std::memory_order_relaxed);
  if (s != State::pending) return s;
  Result<Material> material = [&]() -> Result<Material> {
    if (pending_combined_) {
      auto parsed = pem::parse_chain_and_key(pending_key_);
      if (!parsed) return tl::unexpected(parsed.error().with_context(origin_));
      return make_material(std::move(parsed->chain), std::move(parsed->key), source_, origin_);
    }
    auto chain = pem::parse_chain(pending_chain_);
    if (!chain) return tl::unexpected(chain.error().with_context(origin_));
    auto key = pem::parse_private_key(pending_key_);
    if (!key) return tl::unexpected(key.error().with_context(origin_ + ": private key"));
    return make_material(std::move(*chain), std::move(*key), source_, origin_);
  }();
  pending_chain_ = {};
  pending_key_ = base::SecretBytes();
  if (material) {
    // The facts came from the store's columns or from the first block's DER: a bundle must not
    // serve a certificate other than the one the SNI index and the lifecycle saw.
    auto parsed = parsed_leaf_facts(material->leaf.get());
    if (!parsed) {
      material = tl::unexpected(parsed.error().with_context(origin_));
    } else if (auto differ = disagreements(*parsed, facts()); !differ.empty()) {
      material = fail(Errc::invalid_input, fmt::format("{}: the certificate does not match the facts it was indexed "
                                                       "by: {}",
                                                       origin_, fmt::join(differ, "; ")));
    }
  }
  if (!material) {
    error_ = material.error().message();
    log::certstore()->error("certificate unusable origin={} error=\"{}\"", origin_, error_);
    state_.store(State::failed, std::memory_order_release);
    return State::failed;
  }
  leaf_ = std::move(material->leaf);
  intermediates_ = std::move(material->intermediates);
  chain_stack_.reset(material->stack.release());
  key_ = std::move(material->key);
  chain_pem_ = std::move(material->chain_pem);
  state_.store(State::ready, std::memory_order_release);
  return State::ready;
}

Status CertBundle::materialize() const {
  if (view_of_) return view_of_->materialize();
  if (ready()) return {};
  std::lock_guard lock(mutex_);
  return fail(Errc::invalid_input, error_);
}

Status CertBundle::validate(Clock::time_point now, const std::vector<std::string>& must_cover) const {
  auto found = problems(now, must_cover);
  if (found.empty()) return {};
  return fail(Errc::invalid_input, fmt::format("{}", fmt::join(found, "; ")));
}

std::vector<std::string> CertBundle::problems(Clock::time_point now, const std::vector<std::string>& must_cover) const {
  if (view_of_) return view_of_->problems(now, must_cover);
  std::vector<X509*> chain{leaf()};
  if (chain.front() == nullptr) {  // a deferred parse that failed: its reason is the problem
    std::lock_guard lock(mutex_);
    return {error_};
  }
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

  const auto names = dns_names(X509_get0_extensions(leaf), X509_get_subject_name(leaf));
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

std::shared_ptr<const CertBundle> CertBundle::indexed_as(std::shared_ptr<const CertBundle> bundle,
                                                       std::vector<std::string> names) {
  if (!bundle) return nullptr;
  if (bundle->view_of_) bundle = bundle->view_of_;
  std::shared_ptr<CertBundle> view(new CertBundle());
  view->names_ = bundle->names_;
  view->not_before_ = bundle->not_before_;
  view->not_after_ = bundle->not_after_;
  view->serial_hex_ = bundle->serial_hex_;
  view->issuer_cn_ = bundle->issuer_cn_;
  view->source_ = bundle->source_;
  view->origin_ = bundle->origin_;
  view->index_names_ = std::move(names);
  view->view_of_ = std::move(bundle);
  return view;
}

std::vector<std::string> CertBundle::owned_names(const std::vector<std::string>& hostnames) const {
  std::vector<std::string> owned;
  for (const auto& host : hostnames) {
    const std::string name = base::normalize_hostname(host);
    if (name.empty()) continue;
    // A wildcard hostname is answered only by that same wildcard: "*.example.com" does not match
    // itself under RFC 6125, and exact names under it do not cover the whole of it.
    const bool answers = base::is_wildcard(name) ? std::find(names_.begin(), names_.end(), name) != names_.end()
                                                 : covers(name);
    if (answers) owned.push_back(name);
  }
  std::sort(owned.begin(), owned.end());
  owned.erase(std::unique(owned.begin(), owned.end()), owned.end());
  return owned;
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
