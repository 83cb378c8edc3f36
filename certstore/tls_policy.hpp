// The TLS policy of every server context Portcullis builds: the proxy's listeners, their
// per-certificate contexts and the admin listener all take their SSL_CTX from new_policy_ctx(), so
// the policy is written once (Mozilla "intermediate", docs/security.md).
#pragma once

#include <openssl/ssl.h>

#include "base/error.hpp"
#include "base/ossl.hpp"
#include "domain/config.hpp"

namespace portcullis::certstore {

// Mozilla "intermediate" (TLS >= 1.2, AEAD suites with forward secrecy, X25519/P-256/P-384, no
// SHA-1 signatures, no renegotiation, no compression, tickets, ALPN http/1.1), with the minimum
// version from [tls] min_version. Everything else is fixed.
struct TlsPolicy {
  int min_version = TLS1_2_VERSION;  // TLS1_2_VERSION or TLS1_3_VERSION
};
TlsPolicy tls_policy(const domain::TlsConfig& tls);

// A server SSL_CTX carrying `policy` and no certificate. The one place the TLS policy is built.
// Thread-safe. Errors name the OpenSSL reason.
Result<base::SslCtxPtr> new_policy_ctx(const TlsPolicy& policy);

}  // namespace portcullis::certstore
