// The policy for certificates brought from outside: uploaded through the admin API, named by a
// [[certificate]] or found in a [[certificate_dir]]. Which keys and signatures are accepted, and
// whether the chain leads to a root of the trust store. Certificates issued by the ACME CA do not
// pass through it (their keys are ours, their chain is the CA's).
#pragma once

#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/ossl.hpp"
#include "certstore/cert_bundle.hpp"

namespace portcullis::certstore {

// Every key and signature problem of `chain` (the leaf first, then each issuer in turn), one
// message each naming the certificate ("certificate 2 (CN=Old CA): signed with
// sha1WithRSAEncryption: SHA-1 and MD5 signatures are refused"); empty when there is none.
//   keys:       RSA of 2048 bits or more, EC on P-256 or P-384, or Ed25519. DSA, smaller RSA,
//               other curves and other key types are refused.
//   signatures: SHA-256, SHA-384 or SHA-512 (any padding), or Ed25519. SHA-1, MD5 and others are
//               refused on the leaf and on every intermediate.
// A self-signed certificate at the end of a chain of two or more (a root sent along) is not
// judged: nothing relies on its own signature, and a client trusts it or not by its own store.
// Pure; thread-safe.
std::vector<std::string> key_and_signature_problems(const std::vector<X509*>& chain);

// The system trust store: OpenSSL's default file and folder (SSL_CERT_FILE and SSL_CERT_DIR when
// set; on Debian /etc/ssl/certs). Blocking (reads the CA file); call off the control thread.
Result<base::X509StorePtr> system_trust_store();

// One reason `chain` does not verify, in OpenSSL's words with the certificate it concerns.
// `anchor`: the chain is sound but does not lead to a root of the store (unknown issuer,
// self-signed): what "allow_untrusted" lets through. Other reasons (a bad signature, an
// intermediate that is no CA or has expired, a leaf not for TLS servers) are never let through.
struct TrustProblem {
  std::string reason;
  bool anchor = false;
};

// Verifies `chain` (the leaf, then its intermediates in order) against `trusted` at `now`, as a
// TLS client would for a server (purpose sslserver), reporting every reason at once. The leaf's
// own validity dates are left out: chain_problems() names them. Empty when it verifies. Pure
// apart from reading `trusted` (thread-safe: OpenSSL locks the store's lookups).
std::vector<TrustProblem> trust_problems(const std::vector<X509*>& chain, X509_STORE* trusted, Clock::time_point now);

// The problems of an outside certificate as one result: key_and_signature_problems, then
// trust_problems (anchor ones as `warnings` when `allow_untrusted`, else as problems).
struct PolicyVerdict {
  std::vector<std::string> problems;
  std::vector<std::string> warnings;
};
PolicyVerdict check_outside_chain(const std::vector<X509*>& chain, X509_STORE* trusted, Clock::time_point now,
                                  bool allow_untrusted);

}  // namespace portcullis::certstore
