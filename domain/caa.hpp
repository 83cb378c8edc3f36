// CAA (RFC 8659, with the RFC 8657 parameters): may our CA issue for a name? The relevant RRset is
// found by climbing from the name to its parents (find_relevant_caa, over a lookup the caller
// gives: dns/delegation_check on the wire, a fake in tests); evaluate_caa decides from it, the CA's
// identities (the ACME directory's meta.caaIdentities, RFC 8555 §7.1.1, or [acme]
// caa_identities), our account URL and the challenge type we would use. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace portcullis::domain {

// One CAA resource record (RFC 8659 §4.1).
struct CaaRecord {
  std::uint8_t flags = 0;
  std::string tag;    // "issue", "issuewild", "iodef", ...; compared case-insensitively
  std::string value;  // as in the record: "letsencrypt.org; accounturi=https://..."

  bool critical() const noexcept { return (flags & 0x80) != 0; }
  std::string text() const;  // `0 issue "letsencrypt.org"`
  bool operator==(const CaaRecord&) const = default;
};

// The relevant RRset of a name: where it was found and its records. No records: no CAA anywhere
// up the tree (any CA may issue).
struct CaaRrset {
  std::string owner;
  std::vector<CaaRecord> records;
};

// The CAA records at exactly `name` (after the resolver followed any CNAME), empty for NXDOMAIN or
// NODATA; an Error when the resolver could not answer.
using CaaLookup = std::function<Result<std::vector<CaaRecord>>(const std::string& name)>;

// RFC 8659 §3: from `hostname` (a wildcard "*.x.y" starts at "x.y") up to, not including, the
// root: the first name with a non-empty CAA RRset. Errors from `lookup` are returned as they are,
// but for the top-level domain: one that does not answer is taken to have none.
Result<CaaRrset> find_relevant_caa(std::string_view hostname, const CaaLookup& lookup);

// Who asks, as CAA records name it.
struct CaaContext {
  std::vector<std::string> ca_identities;  // issuer domain names of our CA ("letsencrypt.org")
  std::string account_uri;                 // our ACME account URL; empty: not known yet
  std::string validation_method;           // "dns-01" / "http-01"; empty: not known
};

struct CaaVerdict {
  bool permitted = true;
  std::string found;   // the records that decided: `example.com CAA 0 issue "other-ca.example"`
  std::string reason;  // why not: "no issue record names letsencrypt.org"
};

// RFC 8659 §4: an empty RRset permits. A critical record with an unknown tag forbids. A wildcard
// name is decided by the issuewild records when there are any, else by issue; any other name by
// issue. When there are no such records, any CA may issue. A record permits when its issuer
// domain is one of ours (case-insensitive), it is not empty (`;` forbids every CA), and its
// parameters hold: accounturi equals our account URL, validationmethods lists our method
// (RFC 8657 §3, §4); unknown parameters are ignored.
CaaVerdict evaluate_caa(std::string_view hostname, const CaaRrset& rrset, const CaaContext& context);

}  // namespace portcullis::domain
