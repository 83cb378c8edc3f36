// Alerts as plain values: what kinds exist, what one finding says, and the key that deduplicates
// it. The state machine that turns findings into firing/resolved alerts, stores them and delivers
// them is control/'s; the checks that produce findings are the monitor's (customers' DNS records,
// CAA) and the certificate manager's (issuance, renewal, expiry).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::domain {

enum class AlertKind {
  dns_record_missing,               // a record the customer must keep is gone (NXDOMAIN/NODATA)
  dns_record_wrong,                 // it leads elsewhere, or the canary TXT is not seen through it
  caa_forbids_ca,                   // CAA on a name forbids the configured CA (RFC 8659/8657)
  issuance_failed,                  // the first certificate of an endpoint could not be issued
  renewal_failing,                  // a renewal of a served managed certificate keeps failing
  certificate_expiring,             // the served certificate is within a threshold of notAfter
  transitional_expiring_unmanaged,  // the uploaded certificate expires before a managed one exists
  ca_unreachable,                   // the ACME directory does not answer
  rate_limited,                     // the CA refused with rateLimited (retry time in `found`)
  dns_server_down,                  // our own zone does not answer through the resolver
};
std::string_view to_string(AlertKind kind) noexcept;
std::optional<AlertKind> alert_kind_from_string(std::string_view text) noexcept;
// Every kind, in declaration order (for metrics and documentation tests).
const std::vector<AlertKind>& all_alert_kinds();

enum class AlertSeverity { warning, critical };
std::string_view to_string(AlertSeverity severity) noexcept;

// One finding of a check: what should hold and what does not. Findings with the same key are the
// same alert: a check that reports it again keeps it firing (count + 1, last seen); a check that
// no longer reports it resolves it.
struct AlertFinding {
  AlertKind kind = AlertKind::dns_record_missing;
  AlertSeverity severity = AlertSeverity::warning;
  std::string endpoint_id;  // empty for platform-wide alerts (ca_unreachable, dns_server_down)
  std::string subject;      // the record or name: "_acme-challenge.app.example.com CNAME", "app.example.com"
  std::string expected;     // "CNAME acme.ep-1.edge.example.net."
  std::string found;        // "NXDOMAIN", "CNAME other.example.", "expires 2026-12-05T10:00:00Z"
  std::string fix;          // one sentence: what to do about it

  // kind + endpoint + subject: the identity of the alert.
  std::string key() const;
  bool operator==(const AlertFinding&) const = default;
};

}  // namespace portcullis::domain
