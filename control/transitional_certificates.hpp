// TransitionalCertificates: the certificate a customer uses today, uploaded for an endpoint so it
// is served for the endpoint's names until the managed one is issued (the catalog ranks it below
// managed certificates, and indexes it under the endpoint's own hostnames only). Checked before
// anything is stored: it parses, the key matches the leaf, the chain is in order, its names cover
// the endpoint's hostnames, it has not expired, its keys and signatures pass the policy
// (certstore/cert_policy) and its chain verifies against the system trust store (a private CA
// only with allow_untrusted, and then with a warning); an encrypted key is refused with that
// reason. Kept in the store ("transitional:<endpoint id>") and published at once. The key never
// leaves this path: not in a summary, an error or a log line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "base/blocking_pool.hpp"
#include "base/secret_bytes.hpp"
#include "certstore/cert_bundle.hpp"
#include "certstore/storage.hpp"
#include "control/cert_catalog.hpp"
#include "control/endpoint_service.hpp"

namespace portcullis::control {

// What is known of a transitional certificate, without its key.
struct CertificateSummary {
  std::vector<std::string> names;
  std::string issuer;                  // the issuer's CN
  std::string serial_hex;
  certstore::Clock::time_point not_after{};
  std::string sha256_fingerprint;      // "AB:CD:...", as `openssl x509 -fingerprint -sha256` prints it
  std::vector<std::string> warnings;   // e.g. fewer than 14 days left
};

CertificateSummary summarize(const certstore::CertBundle& bundle, certstore::Clock::time_point now);

class TransitionalCertificates {
 public:
  // A certificate with fewer days than this left is accepted with a warning.
  static constexpr std::chrono::hours warn_before{14 * 24};

  // Everything given must outlive this; every call on the control thread.
  TransitionalCertificates(certstore::Storage& storage, base::BlockingPool& pool, CertCatalog& catalog);

  // How an upload's chain is trusted: the store it must lead to (the system's for the admin API),
  // and whether a chain that leads to none of its roots is accepted anyway, with a warning.
  struct Trust {
    X509_STORE* store = nullptr;
    bool allow_untrusted = false;
  };
  struct Checked {
    certstore::CertBundlePtr bundle;
    std::vector<std::string> warnings;  // e.g. the chain's root is not in the store (allow_untrusted)
  };

  // Every check at once, each problem with its field ("certificate" or "private_key"): the parsed
  // bundle and any warnings, or Errc::invalid_input with the problems. Pure (CPU only, reads
  // `trust.store`); never quotes key bytes.
  static ChangeResult<Checked> check(std::string_view chain_pem, const base::SecretBytes& key_pem,
                                     const std::vector<std::string>& hostnames, certstore::Clock::time_point now,
                                     Trust trust);

  // Checks (on the pool, against the system trust store), stores and publishes the certificate
  // for `endpoint`, replacing the one it had. Errors: check()'s, or the store's.
  boost::asio::awaitable<ChangeResult<CertificateSummary>> put(domain::EndpointConfig endpoint, std::string chain_pem,
                                                               base::SecretBytes key_pem, bool allow_untrusted = false);
  // Stops serving the endpoint's transitional certificate and marks its row removed (kept for
  // audit). Errc::not_found when it has none.
  boost::asio::awaitable<ChangeResult<bool>> remove(std::string endpoint_id);

  // The transitional certificate served for the endpoint now, if any.
  std::optional<CertificateSummary> current(const std::string& endpoint_id) const;

  static std::string name_key(const std::string& endpoint_id) { return "transitional:" + endpoint_id; }

 private:
  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  CertCatalog& catalog_;
};

}  // namespace portcullis::control
