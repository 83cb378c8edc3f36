// CertificateManager: managed HTTPS on the control thread. For every endpoint with
// managed_https, it asks the RenewalScheduler when a certificate is due, runs the acme::Issuer
// (HTTP-01 answered inline by the workers through the ChallengeBoard), and on success hands the
// issued bundle to the CertCatalog, which publishes that one change so the next handshake serves
// the new certificate — transitional certificates are outranked at once. With a platform zone it
// also manages the platform's own wildcard (domain/platform_certificate: `*.<zone>` and `<zone>`,
// over DNS-01 in our zone), which the catalog serves as the fallback. Issuance never blocks
// start-up or the data plane. The schedule loop,
// every issuance and the ARI poll are tasks of one base::TaskGroup: shutdown() stops and awaits
// them all, so none outlives the Storage and ChallengeBoard it uses.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "acme/acme_client.hpp"
#include "acme/issuer.hpp"
#include "acme/request_counts.hpp"
#include "acme/renewal.hpp"
#include "base/blocking_pool.hpp"
#include "base/task_group.hpp"
#include "control/alert_sink.hpp"
#include "control/challenge_planner.hpp"
#include "control/cert_catalog.hpp"
#include "certstore/challenge_board.hpp"
#include "certstore/storage.hpp"
#include "domain/config.hpp"

namespace portcullis::control {

class CertificateManager {
 public:
  // All references must outlive the manager; every call is made on `control`'s thread. Destroy the
  // manager only after shutdown() has completed, or when `control` will never run again.
  // Every store call and key generation of the manager and its ACME session runs on `pool`.
  // Managed certificates are read from and published through `catalog`.
  CertificateManager(boost::asio::io_context& control, certstore::Storage& storage, base::BlockingPool& pool,
                     certstore::ChallengeBoard& challenges, CertCatalog& catalog);
  ~CertificateManager();

  // Decides each order's challenges from the customer's DNS (and publishes DNS-01 values). Must
  // outlive the manager; set before configure(). None: every name by HTTP-01, wildcards unmanaged.
  void set_challenge_planner(ChallengePlanner* planner) noexcept { planner_ = planner; }
  // Where the CAA check before an order reports ("monitor.caa"). Must outlive the manager; none:
  // the check still holds the order back, and only the log says why.
  void set_alert_sink(AlertSink* sink) noexcept { alerts_ = sink; }

  // On start and on every reload: (re)creates the ACME client when [acme] changed and tracks the
  // managed endpoints of `config`, each with the lifetime of its certificate in the catalog:
  // O(managed), no PEM parsed, no store call (the renewal state comes from adopt_renewal_states;
  // without it, the first call with ACME on reads it from the store). A new ACME client starts a task that compares its settings with the
  // store's and clears the failure backoff when they differ. Errors: Errc::config (CA bundle
  // unreadable, EAB half set), Errc::storage (renewal state unreadable).
  Status configure(const domain::Config& config);

  // The renewal schedule the store holds (Storage::load_renewal_states), read by the caller at
  // start-up before the control loop runs. configure() takes it from here when ACME is first on,
  // also when a reload turns ACME on later, so no configure() reads the store on the control
  // thread. Nothing writes renewal state while ACME is off, so the copy stays current until then.
  void adopt_renewal_states(std::vector<certstore::RenewalState> states);

  // Stops every task (schedule loop, issuances, ARI poll) and completes once they have ended;
  // the drain awaits it before the control loop stops. An issuance in flight is abandoned at the
  // step it waits on: its leases are released, its challenge answers leave the board, and its
  // order row stays, so the next start resumes the order ("issuance stopped", no failure backoff).
  // Nothing starts afterwards (configure() still tracks endpoints but spawns no task). Call on the
  // control thread; suspends, never blocks.
  boost::asio::awaitable<void> shutdown();

  // What the admin API shows of an endpoint's managed certificate. Control thread.
  struct EndpointStatus {
    bool managed = false;            // tracked: managed_https on, [acme] on, and a name it can prove
    bool in_flight = false;          // an attempt runs now
    std::optional<certstore::RenewalState> renewal;  // next attempt, failures, the last error in the CA's words
    std::string challenge;           // the challenge choice of the last attempt and why ("" before one)
    std::optional<Errc> last_failure;  // the kind of the last attempt's failure, since start; none after a success
  };
  EndpointStatus status(const std::string& endpoint_id) const;
  // The admin API's renew: see acme::RenewalScheduler::renew_now; wakes the schedule loop.
  Status renew_now(const std::string& endpoint_id, bool force);

  // Called on the control thread after every issuance attempt has ended (issued or failed), with
  // the endpoint's id, for the certificate alerts. May be empty.
  void set_on_change(std::function<void(const std::string& endpoint_id)> on_change) {
    on_change_ = std::move(on_change);
  }
  // The ids of the endpoints tracked now (with the platform wildcard's, when ordered).
  std::vector<std::string> managed_ids() const;
  // The last issuance attempt failed to reach the CA (network error or timeout): its words. Empty
  // once an attempt reaches it again.
  const std::string& ca_unreachable() const noexcept { return ca_unreachable_; }
  // For the monitor, from memory (no I/O): the managed certificate's notAfter and the CA's ARI
  // window start, each when known.
  struct RenewalDates {
    std::optional<acme::Clock::time_point> not_after;
    std::optional<acme::Clock::time_point> ari_window_start;
  };
  RenewalDates renewal_dates(const std::string& endpoint_id) const;
  // Who we are in CAA terms: the directory's meta.caaIdentities once read (else [acme]
  // caa_identities) and the account URL once known. Validation method left empty.
  domain::CaaContext caa_context() const;

  struct Stats {
    std::uint64_t issued = 0;
    std::uint64_t failed = 0;
  };
  const Stats& stats() const noexcept { return stats_; }

  // Orders placed per tracked endpoint (first issuance and renewals alike, the platform wildcard
  // under domain::platform_certificate_id) and how many failed, since start; an endpoint that is
  // no longer managed leaves the map. Control thread.
  struct Attempts {
    std::uint64_t attempts = 0;
    std::uint64_t failures = 0;
  };
  const std::map<std::string, Attempts>& attempts() const noexcept { return attempts_; }
  // Every request sent to the CA since start, across [acme] changes. Control thread.
  const acme::AcmeRequestCounts& acme_requests() const noexcept { return acme_requests_; }

 private:
  // An ACME client and the issuer that uses it, for one [acme] configuration. Every task that
  // uses them holds this; after an [acme] change the old pair goes with its last task.
  struct AcmeSession {
    std::unique_ptr<acme::AcmeClient> client;
    std::unique_ptr<acme::Issuer> issuer;  // refers to `client`: declared after it, destroyed first
  };

  boost::asio::awaitable<void> schedule_loop();
  // issue_one, then frees its place among the concurrent orders and wakes the schedule loop.
  boost::asio::awaitable<void> run_order(std::string endpoint_id, std::shared_ptr<AcmeSession> acme);
  boost::asio::awaitable<void> issue_one(std::string endpoint_id, std::shared_ptr<AcmeSession> acme);
  // RFC 9773: asks the CA for each managed certificate's renewal window and hands it to the
  // scheduler; stops when the CA offers no ARI, or when cancelled (a new session took over).
  boost::asio::awaitable<void> ari_loop(std::shared_ptr<AcmeSession> acme);
  // The CAA check before an order (ChallengePlanner::check_caa), reported to the alert sink. Returns
  // why the order must wait, or "" when CAA lets our CA issue (or could not be looked up).
  boost::asio::awaitable<std::string> check_caa(std::string endpoint_id, std::shared_ptr<AcmeSession> acme,
                                               domain::EndpointDecision decision);
  // The managed certificate the catalog serves for the endpoint, or nullptr.
  certstore::CertBundlePtr managed_bundle(const std::string& endpoint_id) const;
  // Clears every failure backoff when the CA, account or EAB settings differ from those the store
  // last saw (across reloads and restarts alike), and records the new ones. A task: the store is
  // read and written through the pool.
  boost::asio::awaitable<void> reset_backoff_on_new_settings(std::string fingerprint, std::string directory);
  void wake();

  boost::asio::io_context& control_;
  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  certstore::ChallengeBoard& challenges_;
  CertCatalog& catalog_;
  domain::AcmeConfig acme_config_;
  std::map<std::string, domain::EndpointConfig> managed_;  // endpoint id -> its config, managed ones only
  // Declared before the sessions, whose clients count into it.
  acme::AcmeRequestCounts acme_requests_;
  std::map<std::string, Attempts> attempts_;
  std::shared_ptr<AcmeSession> acme_;  // the current one; tasks started earlier may hold older ones
  std::unique_ptr<acme::RenewalScheduler> scheduler_;
  std::optional<std::vector<certstore::RenewalState>> stored_states_;  // adopt_renewal_states, until the scheduler takes it
  boost::asio::steady_timer timer_;  // the schedule loop's; wake() cancels it
  std::optional<base::TaskGroup::TaskId> ari_task_;
  bool loop_running_ = false;
  std::size_t max_orders_ = 16;     // [acme] max_concurrent_orders
  std::size_t orders_running_ = 0;  // issuances started by the schedule loop and not ended
  Stats stats_;
  ChallengePlanner* planner_ = nullptr;
  AlertSink* alerts_ = nullptr;
  std::vector<std::string> directory_caa_identities_;  // meta.caaIdentities of the current CA
  std::string account_url_;                           // of the current CA, once known
  std::map<std::string, unsigned> waits_;  // endpoint id -> checks in a row that found it waiting
  std::map<std::string, std::string> challenge_choices_;
  std::map<std::string, Errc> last_failure_;  // endpoint id -> the code of its last failure, until a success
  std::string ca_unreachable_;
  std::function<void(const std::string&)> on_change_;  // endpoint id -> the last attempt's challenge choice and why
  // Last member: destroyed first. Its tasks use every member above; shutdown() ends them.
  base::TaskGroup tasks_;
};

}  // namespace portcullis::control
