// SqliteStorage: the default Storage — one file in the data dir (portcullis.db), WAL,
// synchronous=FULL, file mode 0600, versioned schema migrations (PRAGMA user_version).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "certstore/storage.hpp"

struct sqlite3;

namespace portcullis::certstore {

class SqliteStorage final : public Storage {
 public:
  // Opens (creating if needed) and migrates. Blocking. Refuses a database whose schema is newer
  // than this binary knows ("schema version 7 is newer than this build (3)").
  static Result<std::unique_ptr<SqliteStorage>> open(const std::filesystem::path& file);
  ~SqliteStorage() override;

  static constexpr int schema_version = 7;

  Status put_certificate(const StoredCertificate& cert) override;
  Result<std::vector<StoredCertificate>> load_certificates() override;
  Result<std::optional<StoredCertificate>> get_certificate(const std::string& name_key) override;
  Status delete_certificate(const std::string& name_key) override;
  Status mark_certificate_removed(const std::string& name_key, std::int64_t when_unix) override;
  Status put_value(const std::string& key, const base::SecretBytes& value) override;
  Result<std::optional<base::SecretBytes>> get_value(const std::string& key) override;
  Status put_endpoint(const StoredEndpoint& endpoint) override;
  Result<std::vector<StoredEndpoint>> load_endpoints() override;
  Status delete_endpoint(const std::string& id) override;
  Status put_endpoint_tombstone(const EndpointTombstone& tombstone) override;
  Result<std::vector<EndpointTombstone>> load_endpoint_tombstones(std::int64_t since_unix) override;
  Status put_order(const StoredOrder& order) override;
  Result<std::vector<StoredOrder>> load_orders() override;
  Status delete_order(const std::string& endpoint_id) override;
  Status put_renewal_state(const RenewalState& state) override;
  Result<std::vector<RenewalState>> load_renewal_states() override;
  Status append_certificate_swap(const CertificateSwap& swap, std::size_t keep) override;
  Result<std::vector<CertificateSwap>> load_certificate_swaps() override;
  Result<bool> try_acquire_lease(const std::string& name, const std::string& holder,
                                 std::chrono::seconds ttl) override;
  Status release_lease(const std::string& name, const std::string& holder) override;
  Status put_alert(const StoredAlert& alert) override;
  Result<std::vector<StoredAlert>> load_alerts() override;
  Status prune_alerts(std::int64_t resolved_before_unix, std::int64_t keep_resolved) override;
  Status put_delivery(const StoredDelivery& delivery) override;
  Result<std::vector<StoredDelivery>> load_deliveries(const std::string& state) override;

 private:
  explicit SqliteStorage(sqlite3* db, std::filesystem::path file);
  std::mutex mutex_;  // one connection, serialised; callers are the storage pool's threads
  sqlite3* db_;
  std::filesystem::path file_;
};

}  // namespace portcullis::certstore
