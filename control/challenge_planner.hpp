// ChallengePlanner: which ACME challenge proves each hostname of a managed endpoint, decided from a
// live look at the customer's DNS, and the wiring of that decision into an acme::IssueRequest.
//
// With a platform zone, every hostname's records are checked through the recursive resolver
// (dns::DelegationChecker, on the blocking pool: it blocks) and domain::choose_challenges decides:
// DNS-01 through the customer's `_acme-challenge` CNAME to acme.<id>.<zone>, HTTP-01 for an open
// external name that already resolves to our listeners, or wait (no order: a validation bound to
// fail counts against the CA's failure limits). A DNS-01 answer is published in our zone, then
// looked up through the resolver, the way the CA will, until the value is visible; only then is
// the CA told to validate. A hostname inside the platform zone needs no customer record: it is
// proved by DNS-01 with the value at its own `_acme-challenge.<name>` in our zone (the platform
// wildcard's names are such names). Without a platform zone every hostname is proved by HTTP-01.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "acme/issuer.hpp"
#include "base/blocking_pool.hpp"
#include "dns/delegation_check.hpp"
#include "dns/platform_zone.hpp"
#include "domain/alert.hpp"
#include "domain/caa.hpp"
#include "domain/challenge_policy.hpp"
#include "domain/config.hpp"

namespace portcullis::control {

struct ChallengePlannerSettings {
  std::string zone;  // the platform zone ("edge.example.net"); empty: HTTP-01 for every name
  dns::ResolverOptions resolver;
  // Addresses of the external listeners: an open external name that resolves to these (and only
  // these) may be proved by HTTP-01.
  std::vector<std::string> external_addresses;
  // How long a published DNS-01 value may take to become visible through the resolver before
  // the attempt is abandoned (the order is kept), and how often it is looked up meanwhile.
  std::chrono::milliseconds visibility_deadline{std::chrono::seconds(60)};
  std::chrono::milliseconds visibility_poll{250};
};

class ChallengePlanner {
 public:
  // `pool` (and `zone`, when given) must outlive the planner. Runs on the control thread. `zone`
  // is where DNS-01 values are published (acme.<id>.<zone> TXT); null: nowhere (tests that serve
  // the zone themselves).
  ChallengePlanner(base::BlockingPool& pool, ChallengePlannerSettings settings, dns::PlatformZone* zone = nullptr);

  // Withdraws every DNS-01 value published for the endpoint (after its order ended, either way).
  void withdraw(const std::string& endpoint_id);

  const ChallengePlannerSettings& settings() const noexcept { return settings_; }
  bool uses_dns() const noexcept { return !settings_.zone.empty(); }

  // Checks the records of every hostname of `endpoint` (in parallel on the pool) and decides.
  // Without a zone: ready, HTTP-01 for every name (a wildcard name waits: it needs DNS-01).
  boost::asio::awaitable<domain::EndpointDecision> decide(domain::EndpointConfig endpoint);

  // RFC 8659/8657, before an order: the CAA records of every name of `decision` (looked up through
  // the resolver on the pool, climbing to the parents), evaluated with `caa` and the challenge the
  // decision chose for the name. The caa_forbids_ca findings, empty when the CA may issue for
  // every name; an Error when the resolver could not answer (the CA will look for itself).
  boost::asio::awaitable<Result<std::vector<domain::AlertFinding>>> check_caa(domain::EndpointConfig endpoint,
                                                                              domain::EndpointDecision decision,
                                                                              domain::CaaContext caa);

  // Fills request.challenge_for from a ready decision, and for DNS-01 the owner of the TXT
  // value (acme.<id>.<zone>, or _acme-challenge.<name> for a name in the platform zone), the
  // publication of every value of the order at once in the zone, and the visibility check run
  // before the CA validates. The request refers to the planner, which must outlive it.
  void apply(const domain::EndpointConfig& endpoint, const domain::EndpointDecision& decision,
             acme::IssueRequest& request);

  // Looks `value` up at `_acme-challenge.<name>` through the resolver (following the customer's
  // CNAME) until it shows, or the deadline passes: Errc::timeout saying what was seen instead.
  boost::asio::awaitable<Status> wait_visible(std::string name, std::string value) const;

 private:
  Status publish(const std::string& endpoint_id, const std::vector<acme::PublishedAnswer>& answers);
  boost::asio::awaitable<Status> before_validation(acme::PublishedAnswer answer);

  base::BlockingPool& pool_;
  ChallengePlannerSettings settings_;
  dns::DelegationChecker checker_;
  dns::PlatformZone* zone_ = nullptr;
  std::map<std::string, std::vector<std::string>> published_;  // endpoint id -> TXT at its validation host
  // endpoint id -> name in the platform zone -> TXT at _acme-challenge.<name>
  std::map<std::string, dns::ZoneBuilder::ChallengeValues> published_in_zone_;
};

}  // namespace portcullis::control
