// CertificateManager: managed HTTPS on the control thread. For every endpoint with
// managed_https, it asks the RenewalScheduler when a certificate is due, runs the acme::Issuer
// (HTTP-01 answered inline by the workers through the ChallengeBoard), and on success publishes a
// new CertSnapshot so the next handshake serves the new certificate — transitional certificates
// are outranked at once. Issuance never blocks start-up or the data plane.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "acme/acme_client.hpp"
#include "acme/issuer.hpp"
#include "acme/renewal.hpp"
#include "certstore/challenge_board.hpp"
#include "certstore/storage.hpp"
#include "domain/config.hpp"

namespace portcullis::control {

class CertificateManager {
 public:
  // Rebuilds and publishes the certificate snapshot from the current config and the store.
  using Republish = std::function<Status()>;

  // All references must outlive the manager; every call is made on `control`'s thread.
  CertificateManager(boost::asio::io_context& control, certstore::Storage& storage,
                     certstore::ChallengeBoard& challenges, Republish republish);
  ~CertificateManager();

  // On start and on every reload: (re)creates the ACME client when [acme] changed and tracks the
  // managed endpoints of `config`. Errors: Errc::config (CA bundle unreadable, EAB half set).
  Status configure(const domain::Config& config);

  // Stops scheduling. An issuance in flight runs on to its end (the issuer cleans the board and
  // keeps or drops its order row as usual) but its result is no longer published.
  void stop();

  struct Stats {
    std::uint64_t issued = 0;
    std::uint64_t failed = 0;
  };
  const Stats& stats() const noexcept { return stats_; }

 private:
  boost::asio::awaitable<void> schedule_loop();
  boost::asio::awaitable<void> issue_one(std::string endpoint_id);
  // RFC 9773: asks the CA for each managed certificate's renewal window and hands it to the
  // scheduler; stops when the CA offers no ARI.
  boost::asio::awaitable<void> ari_loop(std::shared_ptr<bool> alive, acme::AcmeClient* client);
  std::optional<certstore::StoredCertificate> stored_managed(const std::string& endpoint_id);
  // Clears every failure backoff when the CA, account or EAB settings differ from those the store
  // last saw (across reloads and restarts alike), and records the new ones.
  Status reset_backoff_on_new_settings(const domain::Config& config);
  void wake();

  boost::asio::io_context& control_;
  certstore::Storage& storage_;
  certstore::ChallengeBoard& challenges_;
  Republish republish_;
  domain::AcmeConfig acme_config_;
  std::map<std::string, domain::EndpointConfig> managed_;  // endpoint id -> its config, managed ones only
  std::unique_ptr<acme::AcmeClient> client_;
  std::unique_ptr<acme::Issuer> issuer_;
  std::unique_ptr<acme::RenewalScheduler> scheduler_;
  std::vector<std::unique_ptr<acme::AcmeClient>> retired_clients_;
  std::vector<std::unique_ptr<acme::Issuer>> retired_issuers_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::shared_ptr<bool> ari_alive_;
  bool loop_running_ = false;
  Stats stats_;
};

}  // namespace portcullis::control
