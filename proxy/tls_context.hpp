// One SSL_CTX per TLS listener: Mozilla "intermediate" settings, ALPN http/1.1, session tickets
// shared by every worker (one SSL_CTX, used by all threads), and the certificate callback that
// picks each connection's certificate from the live CertSnapshot (switching in a per-certificate
// SSL_CTX, built per worker for the certificates it serves repeatedly; see tls_context.cpp).
#pragma once

#include <boost/asio/ip/address.hpp>

#include "base/error.hpp"
#include "base/ossl.hpp"
#include "certstore/cert_registry.hpp"
#include "certstore/tls_policy.hpp"
#include "domain/config.hpp"
#include "proxy/route_table.hpp"
#include "proxy/worker_snapshots.hpp"

namespace portcullis::proxy {

// The TLS policy (certstore/tls_policy.hpp), shared with the admin listener.
using certstore::new_policy_ctx;
using certstore::tls_policy;
using certstore::TlsPolicy;

// What the certificate callback needs about the listener; outlives every SSL on it. The callback
// reads the snapshots through the accepting worker's caches (ConnectionTls::snapshots), which load
// them from these same published sources.
struct ListenerTls {
  const certstore::CertRegistry* certs = nullptr;
  const Routes* routes = nullptr;
  domain::Scope scope = domain::Scope::external;
  TlsPolicy policy;
};

// Per connection, attached to the SSL with attach_connection() by the session before the handshake.
// `snapshots` is the accepting worker's (the handshake runs on its thread); without it the
// callback refuses the handshake.
struct ConnectionTls {
  boost::asio::ip::address peer;
  WorkerSnapshots* snapshots = nullptr;
  const certstore::CertBundle* served = nullptr;  // set by the callback; valid while the
  CertsLease snapshot;                            // snapshot (leased here) lives
};

// Attaches `conn` to `ssl` for the certificate callback. (Not SSL_set_app_data: Asio's engine owns
// that slot for its verify callback and deletes whatever it holds.)
void attach_connection(SSL* ssl, ConnectionTls* conn);

// The listener's SSL_CTX: new_policy_ctx(listener->policy) plus the certificate callback.
// `listener` must outlive it.
Result<base::SslCtxPtr> make_server_ctx(const ListenerTls* listener);

}  // namespace portcullis::proxy
