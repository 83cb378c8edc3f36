#include "certstore/tls_policy.hpp"

#include <openssl/err.h>

namespace portcullis::certstore {
namespace {

// Mozilla server-side TLS, "intermediate" profile (v5.7): AEAD suites with forward secrecy only.
constexpr const char* intermediate_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* intermediate_tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* intermediate_groups = "X25519:P-256:P-384";
// Signatures a handshake may use: no SHA-1 and no SHA-224 (RFC 9155 deprecates SHA-1 in TLS 1.2).
constexpr const char* signature_algorithms =
    "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ed25519:ed448:"
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
    "RSA+SHA256:RSA+SHA384:RSA+SHA512";
// Sessions resume only on a context with the same id: every context here has this one.
constexpr unsigned char session_id_context[] = "portcullis";

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  // A client offering only h2 (or anything else) still gets HTTP/1.1 without ALPN rather than a
  // failed handshake; RFC 7301 §3.2 allows the server to ignore the extension.
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

Result<base::SslCtxPtr> new_policy_ctx(const TlsPolicy& policy) {
  base::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return fail(Errc::crypto, "SSL_CTX_new: " + base::openssl_errors());
  if (SSL_CTX_set_min_proto_version(ctx.get(), policy.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), intermediate_tls12_ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx.get(), intermediate_tls13_suites) != 1 ||
      SSL_CTX_set1_groups_list(ctx.get(), intermediate_groups) != 1 ||
      SSL_CTX_set1_sigalgs_list(ctx.get(), signature_algorithms) != 1 ||
      SSL_CTX_set_session_id_context(ctx.get(), session_id_context, sizeof session_id_context - 1) != 1) {
    return fail(Errc::crypto, "tls settings: " + base::openssl_errors());
  }
  // No renegotiation (a client-initiated one is a CPU lever), no compression (CRIME). The client's
  // cipher order wins, as the profile says: every suite offered is strong, and a client without
  // AES hardware prefers ChaCha20.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Idle connections give their read/write buffers back; writes may come from a moved buffer.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_NO_AUTO_CHAIN);
  // Stateless resumption through tickets; the listener's SSL_CTX is shared by every worker so the
  // ticket keys are too. No server-side session cache to share across threads.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 1);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, nullptr);
  ERR_clear_error();
  return ctx;
}

TlsPolicy tls_policy(const domain::TlsConfig& tls) {
  TlsPolicy policy;
  policy.min_version = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  return policy;
}

}  // namespace portcullis::certstore
