// Storage: everything Portcullis must not lose — certificates and their keys, the ACME account,
// the endpoints created through the admin API, orders in flight, renewal state, issuance leases.
// Blocking interface: call it from the storage pool (or at start-up), never from a worker.
// SqliteStorage is the default implementation.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/secret_bytes.hpp"
#include "certstore/cert_bundle.hpp"

namespace portcullis::certstore {

// A certificate with its key, as stored. `name_key` identifies it: for managed certificates the
// endpoint id, for transitional ones "transitional:<endpoint id>" (one of each per endpoint).
struct StoredCertificate {
  std::string name_key;
  std::string endpoint_id;
  CertSource source = CertSource::managed;
  std::vector<std::string> names;
  std::string chain_pem;
  base::SecretBytes key_pem;
  std::string serial_hex;
  std::int64_t not_after_unix = 0;
  std::int64_t created_unix = 0;
  // When its endpoint was removed (or stopped being managed): a removed certificate is kept for
  // audit and never served. 0 = live. put_certificate stores it as given.
  std::int64_t removed_unix = 0;
  // The rest of the leaf's facts, beside serial_hex and not_after, so that a start indexes the row
  // without reading its PEM (CertBundle::from_facts_deferred): the certificate's own DNS names
  // (CertBundle::names(), which `names` above need not equal), its notBefore and its issuer's CN.
  // Empty cert_names: not recorded (a row written before schema version 6), the facts come from
  // the PEM. set_facts fills all five from the bundle the row is made of.
  std::vector<std::string> cert_names;
  std::int64_t not_before_unix = 0;
  std::string issuer_cn;

  void set_facts(const CertBundle& bundle);
  bool has_facts() const noexcept { return !cert_names.empty(); }
  // The facts a bundle of this row is indexed by; meaningful when has_facts(). The && form moves
  // the names, serial and issuer out of the row.
  CertFacts facts() const&;
  CertFacts facts() &&;
};

// An ACME order persisted before it is acted on, so a restart resumes it (RFC 8555 §7.4).
struct StoredOrder {
  std::string endpoint_id;      // at most one order in flight per endpoint
  std::string order_url;        // the CA's Location for the order
  std::vector<std::string> names;
  std::string status;           // the CA's last known status: pending, ready, processing, valid
  base::SecretBytes cert_key_pem;     // the fresh key the CSR is (or will be) made from
  std::string replaces;         // ARI certificate id the order replaces, may be empty
  std::int64_t created_unix = 0;
  std::int64_t updated_unix = 0;
};

// An endpoint created through the admin API (the configuration file's endpoints are not stored).
// The fields as they were accepted; domain::validate() checks them again when they are loaded.
struct StoredEndpoint {
  std::string id;
  std::vector<std::string> hostnames;
  std::string scope = "external";          // "external" | "internal"
  std::vector<std::string> upstreams;      // "host:port"
  std::vector<std::string> ip_allowlist;   // CIDRs
  bool managed_https = true;
  std::int64_t created_unix = 0;           // 0: now, on put
  std::int64_t updated_unix = 0;           // 0: now, on put
};

// An id deleted through the admin API, and when (unix seconds): kept so that the id, and with it
// the platform host a customer's CNAME may still point at, is not given to another endpoint soon.
struct EndpointTombstone {
  std::string id;
  std::int64_t deleted_unix = 0;
};

// A change of the certificate served for some of an endpoint's hostnames (control/cert_timeline).
struct CertificateSwap {
  std::string endpoint_id;
  std::vector<std::string> hostnames;  // the endpoint's names that moved to this certificate
  CertSource source = CertSource::default_cert;
  std::string serial_hex;
  std::int64_t not_after_unix = 0;
  std::int64_t at_unix = 0;            // when it began to be served
  std::string reason;                  // "issued", "renewed", "transitional uploaded", ...
};

// Per-endpoint renewal bookkeeping, so the scheduler survives restarts.
struct RenewalState {
  std::string endpoint_id;
  std::int64_t next_attempt_unix = 0;  // 0 = as soon as possible
  int consecutive_failures = 0;
  std::string last_error;              // the last failure, as shown to operators
  std::int64_t last_success_unix = 0;
};

// One episode of an alert (control/alert_book): from firing to resolved. The same key firing again
// later is a new episode with a new id. Kind and severity are domain::AlertKind/AlertSeverity names.
struct StoredAlert {
  std::int64_t id = 0;
  std::string key;            // domain::AlertFinding::key()
  std::string check;          // the check that reported it ("certificates", "monitor.dns", ...)
  std::string kind, severity;
  std::string endpoint_id, subject, expected, found, fix;
  bool firing = true;
  std::int64_t first_seen_unix = 0;
  std::int64_t last_seen_unix = 0;
  std::int64_t resolved_unix = 0;  // 0 while firing
  std::int64_t count = 1;          // times reported while firing
};

// The outbox: one notification of one episode's event to one webhook, written before it is sent,
// so a restart sends what is pending and nothing already delivered.
struct StoredDelivery {
  std::int64_t alert_id = 0;
  std::string event;     // "firing" | "escalated" | "resolved"
  std::string webhook;   // the webhook's URL
  std::string payload;   // the event as a JSON object, rendered when it happened
  std::string state;     // "pending" | "delivered" | "given_up" | "dropped"
  std::int64_t attempts = 0;
  std::int64_t created_unix = 0;
  std::int64_t updated_unix = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Certificates. put_ replaces the row with the same name_key.
  virtual Status put_certificate(const StoredCertificate& cert) = 0;
  // Every live certificate (removed_unix == 0), ordered by name_key.
  virtual Result<std::vector<StoredCertificate>> load_certificates() = 0;
  // One certificate by name_key, live or removed (see removed_unix); nullopt when there is none.
  // Cheap at any store size.
  virtual Result<std::optional<StoredCertificate>> get_certificate(const std::string& name_key) = 0;
  virtual Status delete_certificate(const std::string& name_key) = 0;
  // Marks a live certificate removed at `when_unix` (kept for audit, no longer loaded). A missing
  // or already removed one is left as it is.
  virtual Status mark_certificate_removed(const std::string& name_key, std::int64_t when_unix) = 0;

  // Small named values: the ACME account key ("acme.account_key"), account URL, ticket keys.
  virtual Status put_value(const std::string& key, const base::SecretBytes& value) = 0;
  virtual Result<std::optional<base::SecretBytes>> get_value(const std::string& key) = 0;

  // Endpoints created at run time. put_ replaces the row with the same id.
  virtual Status put_endpoint(const StoredEndpoint& endpoint) = 0;
  // Every stored endpoint, ordered by id.
  virtual Result<std::vector<StoredEndpoint>> load_endpoints() = 0;
  virtual Status delete_endpoint(const std::string& id) = 0;
  // Tombstones of deleted ids. put_ replaces the one with the same id; load_ returns those deleted
  // at or after `since_unix`, ordered by id, and removes the older ones.
  virtual Status put_endpoint_tombstone(const EndpointTombstone& tombstone) = 0;
  virtual Result<std::vector<EndpointTombstone>> load_endpoint_tombstones(std::int64_t since_unix) = 0;

  // Orders in flight.
  virtual Status put_order(const StoredOrder& order) = 0;
  virtual Result<std::vector<StoredOrder>> load_orders() = 0;
  virtual Status delete_order(const std::string& endpoint_id) = 0;

  // Renewal state.
  virtual Status put_renewal_state(const RenewalState& state) = 0;
  virtual Result<std::vector<RenewalState>> load_renewal_states() = 0;

  // The certificate timeline. append_ adds a swap and keeps only the newest `keep` of its
  // endpoint; load_ returns every endpoint's swaps, by endpoint id, each endpoint's oldest first.
  virtual Status append_certificate_swap(const CertificateSwap& swap, std::size_t keep) = 0;
  virtual Result<std::vector<CertificateSwap>> load_certificate_swaps() = 0;

  // One issuance per name at a time. Returns true when `holder` now holds the lease (newly or
  // already); false when another live holder does. A lease expires after `ttl`.
  virtual Result<bool> try_acquire_lease(const std::string& name, const std::string& holder,
                                         std::chrono::seconds ttl) = 0;
  virtual Status release_lease(const std::string& name, const std::string& holder) = 0;

  // Alerts. put_ replaces the row with the same id.
  virtual Status put_alert(const StoredAlert& alert) = 0;
  // Every stored alert, firing and resolved, ordered by id.
  virtual Result<std::vector<StoredAlert>> load_alerts() = 0;
  // Deletes resolved alerts resolved before `resolved_before_unix`, and all but the `keep_resolved`
  // most recently resolved, with their deliveries. Firing alerts are kept.
  virtual Status prune_alerts(std::int64_t resolved_before_unix, std::int64_t keep_resolved) = 0;
  // put_ replaces the row with the same (alert_id, event, webhook).
  virtual Status put_delivery(const StoredDelivery& delivery) = 0;
  // The deliveries in `state`, ordered by creation (then alert id).
  virtual Result<std::vector<StoredDelivery>> load_deliveries(const std::string& state) = 0;
};

}  // namespace portcullis::certstore
