#include "domain/challenge_policy.hpp"

#include <algorithm>

#include "base/hostname.hpp"

namespace portcullis::domain {
namespace {

// "missing", "CNAME other.example. (wrong target)", "error: SERVFAIL ...", "not checked yet".
std::string describe(const Observation& seen) {
  switch (seen.state) {
    case RecordState::unchecked: return "not checked yet";
    case RecordState::ok: return "ok";
    case RecordState::missing: return seen.found.empty() ? "missing" : "missing (" + seen.found + ")";
    case RecordState::wrong_target: return "found " + (seen.found.empty() ? "another target" : seen.found);
    case RecordState::error: return "check failed: " + seen.found;
  }
  return "?";
}

const RequiredRecord* find_record(const std::vector<RequiredRecord>& records, RecordPurpose purpose) {
  auto it = std::find_if(records.begin(), records.end(), [&](const auto& r) { return r.purpose == purpose; });
  return it == records.end() ? nullptr : &*it;
}

// A name that only DNS-01 can prove: the decision is DNS-01 once the challenge CNAME is verified,
// else wait for it. `why` says why only DNS-01.
ChallengeDecision dns_only(const std::vector<RequiredRecord>& records, const HostnameObservation& observed,
                           std::string why) {
  ChallengeDecision decision;
  decision.hostname = observed.hostname;
  const RequiredRecord* challenge = find_record(records, RecordPurpose::challenge);
  if (observed.challenge.state == RecordState::ok) {
    decision.choice = ChallengeChoice::dns_01;
    decision.reason = why + "; DNS-01: " + challenge->name + " CNAME is verified";
    return decision;
  }
  decision.choice = ChallengeChoice::wait;
  decision.reason = why + "; waiting for " + challenge->text() + ": " + describe(observed.challenge);
  decision.missing.push_back({*challenge, observed.challenge});
  return decision;
}

}  // namespace

std::string_view to_string(ChallengeChoice choice) noexcept {
  switch (choice) {
    case ChallengeChoice::dns_01: return "dns-01";
    case ChallengeChoice::http_01: return "http-01";
    case ChallengeChoice::wait: return "wait";
  }
  return "?";
}

ChallengeDecision choose_challenge(const EndpointConfig& endpoint, std::string_view zone,
                                   const HostnameObservation& observed) {
  if (in_platform_zone(observed.hostname, zone)) {
    // We are the zone's authority: the value is published at _acme-challenge.<name> itself, and
    // nothing the customer does (or fails to do) is involved. Needs no observation.
    ChallengeDecision decision;
    decision.hostname = observed.hostname;
    decision.choice = ChallengeChoice::dns_01;
    decision.reason = "in the platform zone: DNS-01, " + challenge_name(observed.hostname) +
                      " TXT is served by our own zone (no record to create)";
    return decision;
  }
  const auto records = records_for_hostname(endpoint, observed.hostname, zone);
  if (endpoint.scope == Scope::internal)
    return dns_only(records, observed, "internal endpoint: the CA cannot reach it");
  if (!endpoint.ip_allowlist.empty())
    return dns_only(records, observed, "external endpoint with an IP allowlist: the CA's requests would be refused");
  if (base::is_wildcard(observed.hostname))
    return dns_only(records, observed, "wildcard name: a CA validates a wildcard only by DNS-01");

  ChallengeDecision decision;
  decision.hostname = observed.hostname;
  const RequiredRecord* challenge = find_record(records, RecordPurpose::challenge);
  const RequiredRecord* traffic = find_record(records, RecordPurpose::traffic);
  if (observed.challenge.state == RecordState::ok) {
    decision.choice = ChallengeChoice::dns_01;
    decision.reason = "external endpoint: DNS-01, " + challenge->name + " CNAME is verified (works before traffic moves)";
  } else if (observed.traffic.state == RecordState::ok) {
    decision.choice = ChallengeChoice::http_01;
    decision.reason = "external endpoint: HTTP-01, " + observed.hostname + " resolves to our listeners (" +
                      challenge->name + " CNAME: " + describe(observed.challenge) + ")";
  } else {
    decision.choice = ChallengeChoice::wait;
    decision.reason = "external endpoint: waiting for " + challenge->text() + " (" + describe(observed.challenge) +
                      ") or for " + observed.hostname + " to resolve to our listeners, e.g. " + traffic->text() +
                      " (" + describe(observed.traffic) + ")";
    decision.missing.push_back({*challenge, observed.challenge});
    decision.missing.push_back({*traffic, observed.traffic});
  }
  return decision;
}

EndpointDecision choose_challenges(const EndpointConfig& endpoint, std::string_view zone,
                                   const std::vector<HostnameObservation>& observed) {
  EndpointDecision out;
  std::string ready, waiting;
  for (const auto& hostname : observed) {
    auto decision = choose_challenge(endpoint, zone, hostname);
    std::string& list = decision.choice == ChallengeChoice::wait ? waiting : ready;
    list += (list.empty() ? "" : ", ") + decision.hostname;
    if (decision.choice != ChallengeChoice::wait) list += " " + std::string(to_string(decision.choice));
    out.hostnames.push_back(std::move(decision));
  }
  out.ready = !observed.empty() && waiting.empty();
  if (observed.empty())
    out.reason = "no hostnames";
  else if (out.ready)
    out.reason = "ready: " + ready;
  else
    out.reason = "waiting for " + waiting + " (no order until every name can be validated)";
  return out;
}

std::chrono::seconds recheck_delay(unsigned waits) noexcept {
  auto delay = first_recheck;
  for (unsigned i = 1; i < waits && delay < max_recheck; ++i) delay *= 2;
  return std::min(delay, max_recheck);
}

}  // namespace portcullis::domain
