// The DNS records a customer creates for an endpoint, derived from its id, scope and hostnames and
// the platform zone: a traffic CNAME to the endpoint's platform host (external endpoints) and a
// challenge CNAME to its validation host (every endpoint). Pure values; the live check of these
// records is dns/delegation_check, the choice of challenge from what it found is challenge_policy.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "domain/endpoint.hpp"

namespace portcullis::domain {

// `<id>.<zone>`: A/AAAA of the listeners of the endpoint's scope. Both arguments normalised.
std::string platform_host(std::string_view endpoint_id, std::string_view zone);
// `acme.<id>.<zone>`: TXT during DNS-01.
std::string validation_host(std::string_view endpoint_id, std::string_view zone);
// The canary: a TXT value our zone answers at the validation host beside any DNS-01 value, so the
// monitor can tell through a customer's `_acme-challenge` CNAME that it leads to this endpoint's
// host. Stable per endpoint ("portcullis-canary-" + 16 hex digits of FNV-1a over the id); not a
// secret. A CA accepts a DNS-01 answer among several TXT values (RFC 8555 §8.4), so it is harmless.
std::string canary_value(std::string_view endpoint_id);
// RFC 8555 §8.4: `_acme-challenge.<name>`; for a wildcard `*.example.com` the name validated is
// the base domain, so `_acme-challenge.example.com`.
std::string challenge_name(std::string_view hostname);
// True when `hostname` (normalised; for a wildcard, its base domain) is the platform `zone` itself
// or a name below it. Such a name needs no record from anyone: our own zone answers its address
// and its DNS-01 value (TXT at `_acme-challenge.<name>`, no CNAME). False for an empty zone.
bool in_platform_zone(std::string_view hostname, std::string_view zone) noexcept;

enum class RecordPurpose {
  traffic,    // name CNAME <id>.<zone>.: routes clients (and HTTP-01 validation) to the listeners
  challenge,  // _acme-challenge.name CNAME acme.<id>.<zone>.: delegates DNS-01 to the platform zone
};
std::string_view to_string(RecordPurpose purpose) noexcept;

// What a check of a record found. `unchecked` until someone looked.
enum class RecordState {
  unchecked,
  ok,            // the record leads where it should
  missing,       // NXDOMAIN, or the name has no record of this type (NODATA)
  wrong_target,  // the name leads elsewhere: another CNAME target, or addresses not ours
  error,         // the check could not tell: resolver unreachable, SERVFAIL, ...
};
std::string_view to_string(RecordState state) noexcept;

// One record to create, as a customer types it into a DNS provider.
struct RequiredRecord {
  std::string hostname;  // the endpoint's hostname it serves ("*.example.com", "app.example.com")
  RecordPurpose purpose = RecordPurpose::challenge;
  std::string name;      // owner, no trailing dot: "_acme-challenge.app.example.com"
  std::string type = "CNAME";
  std::string target;    // fully qualified, with the trailing dot: "acme.elb-1.edge.example.net."
  // False when no query can prove the record works; `note` says why. True for every record but a
  // wildcard's traffic CNAME.
  bool checkable = true;
  std::string note;      // advice shown with the record; empty for most

  std::string text() const;  // "name CNAME target" (zone-file order)
  bool operator==(const RequiredRecord&) const = default;
};

// Records for one hostname (normalised, may be a wildcard) of an endpoint:
//   external: traffic CNAME, then challenge CNAME;  internal: the challenge CNAME only (its
//   traffic reaches it through internal DNS);  a name in the platform zone: none (see
//   in_platform_zone).
// A wildcard's traffic record `*.example.com CNAME <id>.<zone>.` is allowed in DNS (RFC 1034
// §4.3.3, RFC 4592) and is listed, marked not checkable: a query names one host, and a host that
// has records of its own is not covered by the wildcard, so no single answer proves it.
std::vector<RequiredRecord> records_for_hostname(const EndpointConfig& endpoint, std::string_view hostname,
                                                 std::string_view zone);

// Records for every hostname of `endpoint`, in hostname order, each record listed once: `*.x.y`
// and `x.y` share `_acme-challenge.x.y`, which is listed under the first hostname that needs it.
std::vector<RequiredRecord> records_for_endpoint(const EndpointConfig& endpoint, std::string_view zone);

}  // namespace portcullis::domain
