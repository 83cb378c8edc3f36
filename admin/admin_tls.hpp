// The admin listener's TLS context ([admin] cert_file, key_file): the project's one TLS policy
// (certstore::new_policy_ctx) with the configured certificate, chain and key.
#pragma once

#include "base/error.hpp"
#include "base/ossl.hpp"
#include "domain/config.hpp"

namespace portcullis::admin {

// Start-up (blocking: reads the files). Null when [admin] names no certificate. The key file must
// be readable by its owner only. Errors name the key (admin.cert_file, admin.key_file) and the
// file, never key bytes.
Result<base::SslCtxPtr> make_admin_tls(const domain::Config& config);

// True when the admin listener is reachable from beyond this host: its address is neither a
// loopback address nor unparseable.
bool beyond_loopback(const domain::HostPort& listen);

}  // namespace portcullis::admin
