// CertBundle: one certificate as served — leaf, intermediates and private key, with the facts the
// SNI index and the lifecycle need (names, validity, serial, source). Immutable once built; built
// off the workers and shared by every handshake through shared_ptr<const CertBundle>.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/ossl.hpp"
#include "base/secret_bytes.hpp"

namespace portcullis::certstore {

// Where a certificate came from; also its rank in SNI selection (lower wins, see CertSnapshot).
enum class CertSource {
  managed,       // issued by the ACME CA for an endpoint
  transitional,  // uploaded / configured by the customer until the managed one exists
  fallback,      // the platform wildcard (*.<zone>)
  default_cert,  // the last resort (self-signed at first start unless configured)
};
std::string_view to_string(CertSource source) noexcept;

using Clock = std::chrono::system_clock;

// `t` in UTC as RFC 3339 to the second ("2026-12-01T10:02:41Z"), for messages and the admin API.
std::string format_time(Clock::time_point t);

// The checks of CertBundle::problems on a parsed chain (the leaf first) without its key, so an
// upload whose key does not match also hears what is wrong with its chain. Pure.
std::vector<std::string> chain_problems(const std::vector<X509*>& chain, Clock::time_point now,
                                        const std::vector<std::string>& must_cover);

// What the SNI index and the lifecycle know of a certificate without parsing it: the facts a
// CertBundle gives (names(), not_before(), not_after(), serial_hex(), issuer_cn()), as a stored row
// keeps them beside its PEM.
struct CertFacts {
  std::vector<std::string> names;  // as CertBundle::names(): lower-case, sorted, no duplicates
  Clock::time_point not_before{};
  Clock::time_point not_after{};
  std::string serial_hex;  // upper-case hex
  std::string issuer_cn;

  bool operator==(const CertFacts&) const = default;
};

class CertBundle {
 public:
  // Parses a PEM chain (leaf first, then intermediates) and a PEM private key. Errors name the
  // origin (file path or "upload") and the offending block: "cert.pem: block 2 (line 31): not a
  // certificate: ...", "cert.pem: private key does not match the certificate", "cert.pem: no
  // certificate in input", "cert.pem: private key: ..." for the key. Never quotes key bytes.
  // Does not reject expired certificates (see validate()); callers decide.
  static Result<std::shared_ptr<const CertBundle>> from_pem(std::string_view chain_pem,
                                                            const base::SecretBytes& key_pem,
                                                            CertSource source,
                                                            std::string_view origin);

  // One PEM text holding the chain (leaf first, then intermediates) and the private key, blocks in
  // any order: a file of a certificate folder. Errors as from_pem, block numbers and lines counted
  // in the whole text ("dir/app.pem: no private key in input"). Never quotes key bytes.
  static Result<std::shared_ptr<const CertBundle>> from_combined_pem(const base::SecretBytes& pem_text,
                                                                     CertSource source, std::string_view origin);

  // The same inputs and results as from_pem / from_combined_pem, parsed in two steps, for
  // start-up with many certificates (stored rows, large certificate folders). Now: the PEM
  // structure (as above: block types, one unencrypted key) and the leaf's facts (names, validity,
  // serial, issuer) read from its DER without decoding its public key, which is most of the cost
  // of a full parse under OpenSSL 3.0. On first use of the certificate or key (leaf(), key(),
  // chain_stack(), intermediates(), chain_pem(), materialize()): the full parse and the key match
  // check, once, thread-safe. If that fails the error is logged once, leaf() and key() are null
  // and materialize() returns it: callers serve something else.
  static Result<std::shared_ptr<const CertBundle>> from_pem_deferred(std::string_view chain_pem,
                                                                     const base::SecretBytes& key_pem,
                                                                     CertSource source, std::string_view origin);
  static Result<std::shared_ptr<const CertBundle>> from_combined_pem_deferred(const base::SecretBytes& pem_text,
                                                                              CertSource source,
                                                                              std::string_view origin);
  // The same, with the facts given instead of read from the leaf: a stored row that keeps them in
  // its own columns, written from a bundle parsed in full when it was stored. Nothing of the PEM is
  // read now, so a start costs no parse at all; the full parse on first use checks the PEM's
  // structure and key as above and that its leaf agrees with `facts` (see complete()). Errors:
  // only a fact that cannot index a certificate ("the certificate names no DNS host").
  static Result<std::shared_ptr<const CertBundle>> from_facts_deferred(std::string chain_pem, base::SecretBytes key_pem,
                                                                       CertFacts facts, CertSource source,
                                                                       std::string_view origin);
  // Completes a deferred parse (a no-op for other bundles, and once done); its error, if any.
  Status materialize() const;
  // Whether the full parse is still to come.
  bool pending() const noexcept {
    return view_of_ ? view_of_->pending() : state_.load(std::memory_order_acquire) == State::pending;
  }

  // `bundle`'s certificate, key and facts, filed in the SNI index under `names` only: a stored
  // certificate indexed under the hostnames its endpoint owns (owned_names()), so a certificate
  // naming more never answers for another endpoint's names. The material is `bundle`'s (a
  // deferred parse is done once, for both). A new identity: the snapshot holds this one.
  static std::shared_ptr<const CertBundle> indexed_as(std::shared_ptr<const CertBundle> bundle,
                                                      std::vector<std::string> names);
  // Which of `hostnames` (an endpoint's, normalised) this certificate answers for: an exact
  // hostname it covers (a "*.example.com" SAN covers "a.example.com", and is filed under that name
  // alone), and a wildcard hostname only when it names that same wildcard. Sorted, no duplicates.
  std::vector<std::string> owned_names(const std::vector<std::string>& hostnames) const;
  // The names the SNI index files this bundle under: names(), or those given to indexed_as().
  const std::vector<std::string>& index_names() const noexcept { return view_of_ ? index_names_ : names_; }

  // Extra checks for an upload / configured file: not expired at `now`, chain order (each cert is
  // signed by the next), and every name in `must_cover` covered by the certificate.
  Status validate(Clock::time_point now, const std::vector<std::string>& must_cover) const;
  // The same checks, each problem on its own ("certificate expired at ...", "chain order: ...",
  // "names not covered by the certificate: ..."); empty when there is none.
  std::vector<std::string> problems(Clock::time_point now, const std::vector<std::string>& must_cover) const;

  X509* leaf() const noexcept {
    if (view_of_) return view_of_->leaf();
    return ready() ? leaf_.get() : nullptr;
  }
  const std::vector<base::X509Ptr>& intermediates() const noexcept {
    if (view_of_) return view_of_->intermediates();
    ready();
    return intermediates_;
  }
  // The intermediates as the STACK_OF(X509) a handshake hands to SSL_use_cert_and_key (which
  // up-refs what it keeps), built once; nullptr when there are none.
  STACK_OF(X509)* chain_stack() const noexcept {
    if (view_of_) return view_of_->chain_stack();
    return ready() ? chain_stack_.get() : nullptr;
  }
  EVP_PKEY* key() const noexcept {
    if (view_of_) return view_of_->key();
    return ready() ? key_.get() : nullptr;
  }

  // DNS names from subjectAltName (CN only when there is no SAN), lower-cased, no trailing dot.
  // Wildcards kept as "*.example.com".
  const std::vector<std::string>& names() const noexcept { return names_; }
  bool covers(std::string_view host) const;  // RFC 6125 matching: "*" matches exactly one label

  Clock::time_point not_before() const noexcept { return not_before_; }
  Clock::time_point not_after() const noexcept { return not_after_; }
  bool expired(Clock::time_point now) const noexcept { return now >= not_after_; }
  const std::string& serial_hex() const noexcept { return serial_hex_; }     // upper-case hex
  const std::string& issuer_cn() const noexcept { return issuer_cn_; }
  const std::string& chain_pem() const noexcept {  // normalised PEM; empty if a deferred parse failed
    if (view_of_) return view_of_->chain_pem();
    ready();
    return chain_pem_;
  }
  CertSource source() const noexcept { return source_; }
  CertFacts facts() const { return {names_, not_before_, not_after_, serial_hex_, issuer_cn_}; }

 private:
  CertBundle() = default;
  static Result<std::shared_ptr<const CertBundle>> assemble(std::vector<base::X509Ptr> chain, base::PkeyPtr key,
                                                            CertSource source, std::string_view origin);
  enum class State : unsigned char { ready, pending, failed };
  // True once the certificate and key are parsed (at once for from_pem; on first use for the
  // deferred kinds, parsing now if needed); false if that parse failed.
  bool ready() const noexcept {
    State s = state_.load(std::memory_order_acquire);
    if (s == State::pending) s = complete();
    return s == State::ready;
  }
  // The full parse of a deferred bundle, once, under mutex_. The parsed leaf must agree with the
  // facts the bundle was indexed by (names, validity, serial, issuer CN): a bundle never serves a
  // certificate other than the one the SNI index and the lifecycle saw. A mismatch fails it like
  // a parse error, naming the origin and the fact.
  State complete() const noexcept;
  static Result<std::shared_ptr<const CertBundle>> deferred(std::string_view chain_pem, base::SecretBytes key_pem,
                                                            bool combined, CertSource source,
                                                            std::string_view origin);
  // A bundle in state `pending` over the given input and facts.
  static Result<std::shared_ptr<const CertBundle>> make_pending(std::string chain_pem, base::SecretBytes key_pem,
                                                           bool combined, CertFacts facts, CertSource source,
                                                           std::string_view origin);

  // Written once: by assemble(), or by complete() under mutex_ before state_ leaves `pending`
  // (release), read after an acquire load of state_.
  mutable std::atomic<State> state_{State::ready};
  mutable std::mutex mutex_;
  mutable std::string error_;  // why the deferred parse failed
  // The deferred parse's input, dropped once it is done.
  mutable std::string pending_chain_;
  mutable base::SecretBytes pending_key_;  // the key, or the whole combined text
  bool pending_combined_ = false;
  std::string origin_;

  mutable base::X509Ptr leaf_;
  mutable std::vector<base::X509Ptr> intermediates_;
  struct X509StackFree {
    void operator()(STACK_OF(X509)* s) const noexcept { sk_X509_free(s); }  // members: intermediates_
  };
  mutable std::unique_ptr<STACK_OF(X509), X509StackFree> chain_stack_;
  mutable base::PkeyPtr key_;
  std::vector<std::string> names_;
  Clock::time_point not_before_{};
  Clock::time_point not_after_{};
  std::string serial_hex_;
  std::string issuer_cn_;
  mutable std::string chain_pem_;
  CertSource source_ = CertSource::default_cert;
  // Set by indexed_as(): the bundle whose material this one serves, and the names it is filed under.
  std::shared_ptr<const CertBundle> view_of_;
  std::vector<std::string> index_names_;
};

using CertBundlePtr = std::shared_ptr<const CertBundle>;

}  // namespace portcullis::certstore
