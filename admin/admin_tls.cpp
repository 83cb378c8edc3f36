#include "admin/admin_tls.hpp"

#include <boost/asio/ip/address.hpp>

#include "base/atomic_file.hpp"
#include "certstore/cert_bundle.hpp"
#include "certstore/tls_policy.hpp"

namespace portcullis::admin {

Result<base::SslCtxPtr> make_admin_tls(const domain::Config& config) {
  if (config.admin.cert_file.empty()) return base::SslCtxPtr{};
  const auto cert_file = config.resolve(config.admin.cert_file);
  const auto key_file = config.resolve(config.admin.key_file);
  auto chain = base::read_file(cert_file);
  if (!chain) return tl::unexpected(chain.error().with_context("admin.cert_file"));
  auto key = base::read_private_file(key_file);
  if (!key) return tl::unexpected(key.error().with_context("admin.key_file"));
  auto bundle = certstore::CertBundle::from_pem(*chain, *key, certstore::CertSource::default_cert, cert_file.string());
  if (!bundle) return tl::unexpected(bundle.error().with_context("admin.cert_file"));
  auto ctx = certstore::new_policy_ctx(certstore::tls_policy(config.tls));
  if (!ctx) return tl::unexpected(ctx.error().with_context("admin TLS"));
  const auto& b = **bundle;
  if (SSL_CTX_use_cert_and_key(ctx->get(), b.leaf(), b.key(), b.chain_stack(), 1) != 1) {
    return fail(Errc::crypto, "admin TLS: " + cert_file.string() + ": " + base::openssl_errors());
  }
  return ctx;
}

bool beyond_loopback(const domain::HostPort& listen) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(listen.host, ec);
  return ec || !address.is_loopback();
}

}  // namespace portcullis::admin
