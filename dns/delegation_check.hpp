// The live check of a customer's delegation records (domain/records) through a recursive resolver,
// as the CA will see them: does `_acme-challenge.<name>` CNAME to our validation host, does
// `<name>` CNAME to our platform host, does `<name>` resolve to our listeners (HTTP-01), and what
// TXT values does a name show (the DNS-01 check before the CA is told to validate), which CAA
// records govern a name (RFC 8659), does a zone answer its SOA. ldns on the wire; no cache of its
// own (the resolver's TTLs apply).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "domain/caa.hpp"
#include "domain/challenge_policy.hpp"
#include "domain/endpoint.hpp"
#include "domain/records.hpp"

namespace portcullis::dns {

struct ResolverOptions {
  domain::HostPort address;                  // the recursive resolver, "127.0.0.1:53" / "[::1]:53"
  std::chrono::milliseconds timeout{2'000};  // per attempt
  unsigned attempts = 2;                     // tries in all (1 to 255)
};

// CNAME chains longer than this are reported as an error (loops included).
inline constexpr unsigned max_cname_hops = 8;

// Every function BLOCKS for up to timeout x attempts per query (a few queries per call): call
// it from a blocking thread pool, never from a worker or the control thread's io_context.
// Thread-safe: each query uses a resolver of its own, so calls may run in parallel. Names are
// normalised (case, one trailing dot) before they are compared. A failure to get an answer is
// RecordState::error with the detail in `found` ("resolver 127.0.0.1:53: SERVFAIL for ...").
class DelegationChecker {
 public:
  explicit DelegationChecker(ResolverOptions options) : options_(std::move(options)) {}

  const ResolverOptions& options() const noexcept { return options_; }

  // `name` CNAME `expected_target`, directly or through a chain of CNAMEs (as a CA follows it):
  //   ok; missing (NXDOMAIN, or the name has neither a CNAME nor addresses; `found` says which);
  //   wrong_target (`found`: "CNAME other.example." with the chain, or "A 203.0.113.7, AAAA ...").
  domain::Observation check_cname(std::string_view name, std::string_view expected_target) const;

  // `name` resolves (the resolver follows CNAMEs) to A/AAAA addresses that are all in
  // `our_addresses` (IP literals, any spelling): ok. Some or all elsewhere: wrong_target with
  // every address found; none: missing. An entry of `our_addresses` that is not an IP: error.
  domain::Observation check_resolves_to(std::string_view name, const std::vector<std::string>& our_addresses) const;

  // The record as domain::records_for_* lists it: a CNAME check; a record that is not
  // checkable (a wildcard's traffic CNAME) stays unchecked.
  domain::Observation check(const domain::RequiredRecord& record) const;

  // The TXT values at `name` after the resolver has followed any CNAME (RFC 8555 §8.4: the CA
  // does the same), each value's character-strings joined. No TXT (NXDOMAIN, NODATA): an empty
  // list. Errc::network when the resolver fails (SERVFAIL, REFUSED) or does not answer.
  Result<std::vector<std::string>> lookup_txt(std::string_view name) const;

  // The CAA records at `name` (RFC 8659), the resolver having followed any CNAME; empty for
  // NXDOMAIN or NODATA. Errc::network as lookup_txt.
  Result<std::vector<domain::CaaRecord>> lookup_caa(std::string_view name) const;
  // RFC 8659 §3: the relevant CAA RRset of `hostname`, climbing to its parents (a few queries).
  Result<domain::CaaRrset> find_caa(std::string_view hostname) const;

  // Does the zone answer its SOA through the resolver? Errc::network when the resolver fails
  // (SERVFAIL: our server does not answer it), Errc::not_found when no SOA comes back.
  Status check_soa(std::string_view zone) const;

 private:
  ResolverOptions options_;
};

}  // namespace portcullis::dns
