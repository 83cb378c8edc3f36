// Which ACME challenge proves each hostname of an endpoint, from the endpoint's shape and what a
// check of the customer's DNS found (design §2). A name in the platform zone itself is proved by
// DNS-01 in our own zone, whatever the endpoint, with nothing to check. Otherwise internal,
// allowlisted and wildcard names only by DNS-01; an open external name by DNS-01 once its
// challenge CNAME is verified (it works before traffic moves), else HTTP-01 once the name
// resolves to our listeners, else it waits: no order
// is placed (a validation bound to fail would count against the CA's failure limits), and the
// decision names the record to create. Pure functions, no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "domain/endpoint.hpp"
#include "domain/records.hpp"

namespace portcullis::domain {

enum class ChallengeChoice { dns_01, http_01, wait };
std::string_view to_string(ChallengeChoice choice) noexcept;  // "dns-01", "http-01", "wait"

// What a check found for one record: its state and, unless ok, what was there instead
// ("CNAME other.paas.example.", "A 203.0.113.7", "SERVFAIL from 127.0.0.1:53").
struct Observation {
  RecordState state = RecordState::unchecked;
  std::string found;
};

// What the policy needs to know about one hostname.
struct HostnameObservation {
  std::string hostname;       // normalised; may be "*.example.com"
  Observation challenge;      // _acme-challenge.<name> CNAME acme.<id>.<zone>.
  // The name resolves (after CNAMEs) to our listeners' addresses and to nothing else. Only asked
  // of open external names; ok whether it gets there by our CNAME or by A/AAAA records.
  Observation traffic;
};

// A record the decision waits for, and what was found in its place.
struct MissingRecord {
  RequiredRecord record;
  Observation observed;
};

struct ChallengeDecision {
  std::string hostname;
  ChallengeChoice choice = ChallengeChoice::wait;
  std::string reason;                  // for a person: "internal endpoint: the CA cannot reach it; ..."
  std::vector<MissingRecord> missing;  // when waiting: what to create, the preferred record first
};

// The decision for one hostname of `endpoint` (its scope and allowlist), with the platform `zone`.
// An observation still `unchecked` or in `error` is not a verification: the name waits. A name in
// the platform zone (in_platform_zone) is DNS-01 at once; its observation is not read.
ChallengeDecision choose_challenge(const EndpointConfig& endpoint, std::string_view zone,
                                   const HostnameObservation& observed);

// One order covers every hostname of the endpoint and may mix challenge types across its
// authorizations; it is placed only when no hostname waits.
struct EndpointDecision {
  bool ready = false;                       // no hostname waits: place the order
  std::vector<ChallengeDecision> hostnames;  // in the order of `observed`
  std::string reason;                       // "ready: app.example.com dns-01, ..." / "waiting for ..."
};
EndpointDecision choose_challenges(const EndpointConfig& endpoint, std::string_view zone,
                                   const std::vector<HostnameObservation>& observed);

// The delay before the next check of a waiting endpoint: 10 s after the first wait, doubling
// with each further wait, at most 10 minutes. `waits` = checks that found it waiting so far (>= 1).
inline constexpr std::chrono::seconds first_recheck{10};
inline constexpr std::chrono::seconds max_recheck{600};
std::chrono::seconds recheck_delay(unsigned waits) noexcept;

}  // namespace portcullis::domain
