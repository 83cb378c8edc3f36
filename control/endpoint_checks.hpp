// The checks the monitor runs for one endpoint, and for our own zone, as alert findings: the
// customer's records for the challenge the endpoint would use (and an external endpoint's traffic
// CNAME), the canary TXT seen through the `_acme-challenge` CNAME, CAA (domain/caa) for every
// managed name, and whether the platform zone answers through the recursive resolver. The monitor
// (control/monitor) decides when; these decide what. Blocking: DNS queries.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dns/delegation_check.hpp"
#include "domain/alert.hpp"
#include "domain/caa.hpp"
#include "domain/endpoint.hpp"

namespace portcullis::control {

// What one run of an endpoint's checks found. A check the resolver could not answer is not
// complete: its findings are not reported, so alerts stay as they were (a resolver failure is no
// record alert; our own zone's is dns_server_down).
struct EndpointCheckResult {
  std::vector<domain::AlertFinding> dns;  // dns_record_missing, dns_record_wrong
  std::vector<domain::AlertFinding> caa;  // caa_forbids_ca
  bool dns_complete = true;
  bool caa_complete = true;
  std::string error;  // the first resolver failure, for the log
};

// Implementations are thread-safe and called from a blocking pool, never the control thread.
class EndpointChecks {
 public:
  virtual ~EndpointChecks() = default;
  // `caa` names our CA and account; its validation_method is filled per name here. With no CA
  // identity known, CAA is not evaluated (caa stays empty and complete).
  virtual EndpointCheckResult check(const domain::EndpointConfig& endpoint, const domain::CaaContext& caa) const = 0;
  // Our own zone: its SOA, then (with canaries) one endpoint's canary, through the resolver. Empty
  // when it answers; else one dns_server_down finding (platform-wide: empty endpoint id).
  virtual std::vector<domain::AlertFinding> check_platform(const std::string& canary_endpoint_id) const = 0;
};

struct DnsChecksSettings {
  std::string zone;  // the platform zone
  dns::ResolverOptions resolver;
  std::vector<std::string> external_addresses;  // an open external name resolving here may use HTTP-01
  bool canary = true;  // the zone answers every validation host's canary (dns::ZoneBuilder::set_canaries)
};

// The checks through a recursive resolver (dns::DelegationChecker).
class DnsChecks final : public EndpointChecks {
 public:
  explicit DnsChecks(DnsChecksSettings settings);
  EndpointCheckResult check(const domain::EndpointConfig& endpoint, const domain::CaaContext& caa) const override;
  std::vector<domain::AlertFinding> check_platform(const std::string& canary_endpoint_id) const override;

  const DnsChecksSettings& settings() const noexcept { return settings_; }

 private:
  void check_hostname(const domain::EndpointConfig& endpoint, const std::string& hostname,
                      const domain::CaaContext& caa, EndpointCheckResult& out) const;

  DnsChecksSettings settings_;
  dns::DelegationChecker checker_;
};

// The CAA finding for `hostname` of `endpoint_id` (permitted: nullopt). Shared with the check
// before an order (ChallengePlanner), so both say the same.
std::optional<domain::AlertFinding> caa_finding(const std::string& endpoint_id, const std::string& hostname,
                                                const domain::CaaRrset& rrset, const domain::CaaContext& caa);

}  // namespace portcullis::control
