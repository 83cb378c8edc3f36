#include "proxy/tls_context.hpp"

#include <array>
#include <cstring>
#include <unordered_map>

#include <openssl/err.h>

#include "base/hostname.hpp"
#include "base/logging.hpp"

namespace portcullis::proxy {
namespace {

// The listener's ticket keys (name, HMAC and AES keys: 80 bytes in OpenSSL 3) into `to`.
bool copy_ticket_keys(SSL_CTX* from, SSL_CTX* to) {
  std::array<unsigned char, 80> keys{};
  const bool ok = SSL_CTX_get_tlsext_ticket_keys(from, keys.data(), keys.size()) == 1 &&
                  SSL_CTX_set_tlsext_ticket_keys(to, keys.data(), keys.size()) == 1;
  OPENSSL_cleanse(keys.data(), keys.size());
  return ok;
}

// The ex_data slot for ConnectionTls, allocated once per process.
int connection_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}


// Certificates set as whole SSL_CTXs (SSL_set_SSL_CTX, as nginx does per server block), one per
// listener and certificate, built by each worker thread for the certificates it serves more than
// once. SSL_use_cert_and_key re-checks on every call that key and certificate match (an EC group
// and point comparison) and looks the key's type up by name in the provider store: ~3 % of a full
// handshake. SSL_set_SSL_CTX also swaps what the SSL reads from its context after the ClientHello
// (the TLS 1.2 cipher list, signature algorithms, ALPN callback), so each such context is built by
// new_policy_ctx(), the function that builds the listener's: the policy cannot differ between the
// first handshake for a name and the fiftieth. Tickets are encrypted and decrypted with the SSL's
// session_ctx (the listener's), which SSL_set_SSL_CTX leaves alone; the per-certificate context
// carries the listener's ticket keys as well. The cache belongs to one snapshot (it keeps it, so
// the bundles it points at stay alive): a newly published snapshot empties it. Bounded per thread;
// a certificate seen once, or past the bound, is set the per-handshake way.
class CertCtxCache {
 public:
  SSL_CTX* get(const ListenerTls& listener, SSL_CTX* listener_ctx, const certstore::CertSnapshotPtr& snapshot,
               const certstore::CertBundle& bundle) {
    if (snapshot.get() != snapshot_) {
      entries_.clear();
      keep_ = snapshot;
      snapshot_ = snapshot.get();
    }
    const Key key{&listener, &bundle};
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      if (entries_.size() < max_entries) entries_.emplace(key, Entry{});
      return nullptr;
    }
    Entry& entry = it->second;
    if (!entry.ctx && !entry.failed) {
      entry.ctx = make_ctx(listener, listener_ctx, bundle);
      entry.failed = !entry.ctx;
    }
    return entry.ctx.get();
  }

 private:
  struct Key {
    const ListenerTls* listener;
    const certstore::CertBundle* bundle;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<const void*>()(k.bundle) ^ (std::hash<const void*>()(k.listener) << 1);
    }
  };
  struct Entry {
    base::SslCtxPtr ctx;  // null until the second use
    bool failed = false;
  };
  static base::SslCtxPtr make_ctx(const ListenerTls& listener, SSL_CTX* listener_ctx,
                                       const certstore::CertBundle& bundle) {
    auto ctx = new_policy_ctx(listener.policy);
    if (!ctx || SSL_CTX_use_cert_and_key(ctx->get(), bundle.leaf(), bundle.key(), bundle.chain_stack(), 1) != 1 ||
        !copy_ticket_keys(listener_ctx, ctx->get())) {
      ERR_clear_error();
      return nullptr;
    }
    return std::move(*ctx);
  }
  static constexpr std::size_t max_entries = 1024;
  const certstore::CertSnapshot* snapshot_ = nullptr;
  certstore::CertSnapshotPtr keep_;
  std::unordered_map<Key, Entry, KeyHash> entries_;
};

// Called by OpenSSL once the ClientHello is parsed (SNI known), before a certificate is needed:
// the documented place to choose the certificate for this connection.
int choose_certificate(SSL* ssl, void* arg) {
  const auto* listener = static_cast<const ListenerTls*>(arg);
  auto* conn = static_cast<ConnectionTls*>(SSL_get_ex_data(ssl, connection_index()));
  if (conn == nullptr || conn->snapshots == nullptr) return 0;

  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  // OpenSSL caps a server_name at 255 bytes (TLSEXT_MAXLEN_host_name), so it always fits.
  const base::LowerHost lowered(sni ? std::string_view(sni) : std::string_view());
  const std::string_view name = lowered.ok() ? lowered.view() : std::string_view();

  // The worker's cached snapshots: one version load each, no shared reference count.
  const RouteTable& routes = conn->snapshots->routes.peek();
  const Endpoint* endpoint = name.empty() ? nullptr : routes.find(name);
  if (endpoint != nullptr) {
    // Allowlists are per endpoint: now that SNI names it, a peer outside it gets no handshake.
    if (!RouteTable::admits(*endpoint, conn->peer)) {
      log::proxy()->debug("tls refused peer={} sni={} endpoint={} reason=allowlist",
                          conn->peer.to_string(), name, endpoint->id);
      return 0;
    }
  }

  conn->snapshot = conn->snapshots->certs.lease();
  const certstore::CertBundle* bundle = nullptr;
  if (endpoint != nullptr && endpoint->scope != listener->scope) {
    // An endpoint of the other scope is invisible on this listener: the platform's fallback (or
    // the default) answers, never the endpoint's own certificate.
    const auto& snap = *conn->snapshot;
    bundle = snap.fallback() ? snap.fallback().get() : snap.default_cert().get();
  } else {
    bundle = conn->snapshot->select(name);
  }
  // A certificate read deferred is parsed on first use (usually done in the background already);
  // one whose parse failed is never served: the fallback or default answers instead.
  if (bundle != nullptr && bundle->leaf() == nullptr) {
    const auto& snap = *conn->snapshot;
    bundle = snap.fallback() && snap.fallback()->leaf() ? snap.fallback().get() : snap.default_cert().get();
  }
  if (bundle == nullptr) return 0;
  conn->served = bundle;

  thread_local CertCtxCache cache;
  if (SSL_CTX* ctx = cache.get(*listener, SSL_get_SSL_CTX(ssl), conn->snapshot.shared(), *bundle);
      ctx != nullptr && SSL_set_SSL_CTX(ssl, ctx) == ctx) {
    return 1;
  }
  // override=1: replace whatever the SSL inherited; the SSL up-refs leaf, key and chain members.
  // The chain stack is the bundle's, built once (none when there are no intermediates: with
  // SSL_MODE_NO_AUTO_CHAIN OpenSSL then sends the leaf alone rather than building a chain).
  return SSL_use_cert_and_key(ssl, bundle->leaf(), bundle->key(), bundle->chain_stack(), 1) == 1 ? 1 : 0;
}

}  // namespace

void attach_connection(SSL* ssl, ConnectionTls* conn) { SSL_set_ex_data(ssl, connection_index(), conn); }

Result<base::SslCtxPtr> make_server_ctx(const ListenerTls* listener) {
  auto ctx = new_policy_ctx(listener->policy);
  if (!ctx) return ctx;
  SSL_CTX_set_cert_cb(ctx->get(), choose_certificate, const_cast<ListenerTls*>(listener));
  return ctx;
}

}  // namespace portcullis::proxy
