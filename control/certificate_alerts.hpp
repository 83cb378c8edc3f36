// CertificateAlerts: the alerts that come from certificates, reported to an AlertSink as the check
// "certificates" per endpoint (and platform-wide for ca_unreachable): issuance_failed,
// renewal_failing, certificate_expiring, transitional_expiring_unmanaged, rate_limited,
// ca_unreachable. The findings are a pure function of what the catalog serves, what the
// certificate manager knows of each endpoint's renewals, and the [alerts] thresholds; they are
// evaluated for every endpoint at a reload, an upload and once an hour (an expiry crosses a
// threshold with no event at all), and for the endpoints an issuance attempt concerns when it ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "base/task_group.hpp"
#include "certstore/cert_bundle.hpp"
#include "certstore/storage.hpp"
#include "control/alert_sink.hpp"
#include "control/cert_catalog.hpp"
#include "control/certificate_manager.hpp"
#include "control/transitional_certificates.hpp"
#include "domain/alert.hpp"
#include "domain/config.hpp"

namespace portcullis::control {

// What is known of one endpoint's certificates at one moment.
struct CertificateFacts {
  std::string endpoint_id;
  std::vector<std::string> hostnames;
  bool managed = false;                             // managed_https and tracked by the manager
  std::optional<certstore::RenewalState> renewal;   // failures and the CA's last words
  std::optional<Errc> last_failure;                 // the last failure's kind (since start)
  std::optional<certstore::Clock::time_point> managed_not_after;  // the stored managed certificate
  std::optional<certstore::Clock::time_point> transitional_not_after;
  struct Served {
    certstore::CertSource source = certstore::CertSource::managed;
    std::vector<std::string> hostnames;  // the endpoint's names this certificate is served for
    certstore::Clock::time_point not_after{};
  };
  std::vector<Served> served;  // managed or transitional certificates served for its names
};

struct CertificateThresholds {
  std::vector<std::uint32_t> expiring_days{14, 7, 3};
  std::uint32_t renewal_failures = 3;
};

// The endpoint's findings. Pure.
std::vector<domain::AlertFinding> certificate_findings(const CertificateFacts& facts,
                                                       const CertificateThresholds& thresholds,
                                                       certstore::Clock::time_point now);

class CertificateAlerts {
 public:
  static constexpr std::chrono::hours recheck_interval{1};

  // Everything given must outlive this. Control thread.
  CertificateAlerts(boost::asio::io_context& control, AlertSink& sink, CertCatalog& catalog,
                    CertificateManager& certificates, TransitionalCertificates& transitional);
  ~CertificateAlerts();

  // On start and every apply: the endpoints and thresholds, then an evaluation. Endpoints that
  // are gone are forgotten by the sink (their alerts resolve, whatever check raised them).
  void configure(const domain::Config& config);
  // Looks at every endpoint now and reports each one's complete findings.
  void evaluate();
  // After an issuance attempt for one endpoint: reports the complete findings of that endpoint and
  // of those whose names a wildcard of its may serve, and the platform-wide ones; the other
  // endpoints' findings cannot have changed. Costs what those endpoints cost, not what all do.
  void evaluate(const std::string& endpoint_id);
  // Starts the hourly evaluation; shutdown() ends it.
  void start();
  boost::asio::awaitable<void> shutdown();

 private:
  boost::asio::awaitable<void> timer_loop();
  void report_endpoint(const domain::EndpointConfig& ep, const certstore::CertSnapshot& snapshot,
                       certstore::Clock::time_point now);
  void report_platform();

  boost::asio::io_context& control_;
  AlertSink& sink_;
  CertCatalog& catalog_;
  CertificateManager& certificates_;
  TransitionalCertificates& transitional_;
  std::vector<domain::EndpointConfig> endpoints_;
  std::unordered_map<std::string, std::size_t> by_id_;                   // id -> index in endpoints_
  std::unordered_map<std::string, std::vector<std::size_t>> by_parent_;  // parent_of(hostname) -> indices
  CertificateThresholds thresholds_;
  std::string directory_;
  std::set<std::string> reported_;  // endpoint ids reported last time
  base::TaskGroup tasks_;           // last: destroyed first
};

}  // namespace portcullis::control
