// An in-memory Storage for acme tests: same contract as SqliteStorage, no file. Counts writes so
// tests can check what was persisted and when.
#pragma once

#include <map>
#include <tuple>

#include "certstore/storage.hpp"

namespace portcullis::testing {

class MemoryStorage final : public certstore::Storage {
 public:
  using Clock = std::chrono::steady_clock;

  Status put_certificate(const certstore::StoredCertificate& cert) override {
    certificates[cert.name_key] = cert;
    return {};
  }
  Result<std::vector<certstore::StoredCertificate>> load_certificates() override {
    std::vector<certstore::StoredCertificate> out;
    for (auto& [k, v] : certificates)
      if (v.removed_unix == 0) out.push_back(v);
    return out;
  }
  Result<std::optional<certstore::StoredCertificate>> get_certificate(const std::string& name_key) override {
    auto it = certificates.find(name_key);
    if (it == certificates.end()) return std::optional<certstore::StoredCertificate>();
    return std::optional<certstore::StoredCertificate>(it->second);
  }
  Status delete_certificate(const std::string& name_key) override {
    certificates.erase(name_key);
    return {};
  }
  Status mark_certificate_removed(const std::string& name_key, std::int64_t when_unix) override {
    auto it = certificates.find(name_key);
    if (it != certificates.end() && it->second.removed_unix == 0) it->second.removed_unix = when_unix;
    return {};
  }
  Status put_endpoint(const certstore::StoredEndpoint& endpoint) override {
    endpoints[endpoint.id] = endpoint;
    return {};
  }
  Result<std::vector<certstore::StoredEndpoint>> load_endpoints() override {
    std::vector<certstore::StoredEndpoint> out;
    for (auto& [k, v] : endpoints) out.push_back(v);
    return out;
  }
  Status delete_endpoint(const std::string& id) override {
    endpoints.erase(id);
    return {};
  }
  Status put_endpoint_tombstone(const certstore::EndpointTombstone& t) override {
    tombstones[t.id] = t;
    return {};
  }
  Result<std::vector<certstore::EndpointTombstone>> load_endpoint_tombstones(std::int64_t since) override {
    std::vector<certstore::EndpointTombstone> out;
    for (auto& [k, v] : tombstones)
      if (v.deleted_unix >= since) out.push_back(v);
    return out;
  }
  Status put_value(const std::string& key, const base::SecretBytes& value) override {
    values[key] = value;
    return {};
  }
  Result<std::optional<base::SecretBytes>> get_value(const std::string& key) override {
    auto it = values.find(key);
    if (it == values.end()) return std::optional<base::SecretBytes>();
    return std::optional<base::SecretBytes>(it->second);
  }
  Status put_order(const certstore::StoredOrder& order) override {
    orders[order.endpoint_id] = order;
    ++order_writes;
    return {};
  }
  Result<std::vector<certstore::StoredOrder>> load_orders() override {
    std::vector<certstore::StoredOrder> out;
    for (auto& [k, v] : orders) out.push_back(v);
    return out;
  }
  Status delete_order(const std::string& endpoint_id) override {
    orders.erase(endpoint_id);
    return {};
  }
  Status put_renewal_state(const certstore::RenewalState& state) override {
    renewal_states[state.endpoint_id] = state;
    ++renewal_writes;
    return {};
  }
  Result<std::vector<certstore::RenewalState>> load_renewal_states() override {
    ++renewal_state_loads;
    std::vector<certstore::RenewalState> out;
    for (auto& [k, v] : renewal_states) out.push_back(v);
    return out;
  }
  Status append_certificate_swap(const certstore::CertificateSwap& swap, std::size_t keep) override {
    auto& list = swaps[swap.endpoint_id];
    list.push_back(swap);
    if (list.size() > keep) list.erase(list.begin(), list.end() - static_cast<std::ptrdiff_t>(keep));
    return {};
  }
  Result<std::vector<certstore::CertificateSwap>> load_certificate_swaps() override {
    std::vector<certstore::CertificateSwap> out;
    for (auto& [id, list] : swaps) out.insert(out.end(), list.begin(), list.end());
    return out;
  }
  Result<bool> try_acquire_lease(const std::string& name, const std::string& holder,
                                 std::chrono::seconds ttl) override {
    auto now = Clock::now();
    auto it = leases.find(name);
    if (it != leases.end() && it->second.first != holder && it->second.second > now) return false;
    leases[name] = {holder, now + ttl};
    return true;
  }
  Status release_lease(const std::string& name, const std::string& holder) override {
    auto it = leases.find(name);
    if (it != leases.end() && it->second.first == holder) leases.erase(it);
    return {};
  }

  Status put_alert(const certstore::StoredAlert& alert) override {
    alerts[alert.id] = alert;
    return {};
  }
  Result<std::vector<certstore::StoredAlert>> load_alerts() override {
    std::vector<certstore::StoredAlert> out;
    for (auto& [k, v] : alerts) out.push_back(v);
    return out;
  }
  Status prune_alerts(std::int64_t resolved_before_unix, std::int64_t) override {
    std::erase_if(alerts, [&](const auto& e) { return !e.second.firing && e.second.resolved_unix < resolved_before_unix; });
    return {};
  }
  Status put_delivery(const certstore::StoredDelivery& d) override {
    deliveries[{d.alert_id, d.event, d.webhook}] = d;
    return {};
  }
  Result<std::vector<certstore::StoredDelivery>> load_deliveries(const std::string& state) override {
    std::vector<certstore::StoredDelivery> out;
    for (auto& [k, v] : deliveries)
      if (v.state == state) out.push_back(v);
    return out;
  }

  std::map<std::string, certstore::StoredCertificate> certificates;
  std::map<std::int64_t, certstore::StoredAlert> alerts;
  std::map<std::tuple<std::int64_t, std::string, std::string>, certstore::StoredDelivery> deliveries;
  std::map<std::string, base::SecretBytes> values;
  std::map<std::string, certstore::StoredEndpoint> endpoints;
  std::map<std::string, certstore::EndpointTombstone> tombstones;
  std::map<std::string, certstore::StoredOrder> orders;
  std::map<std::string, certstore::RenewalState> renewal_states;
  int renewal_state_loads = 0;  // calls of load_renewal_states
  std::map<std::string, std::vector<certstore::CertificateSwap>> swaps;
  std::map<std::string, std::pair<std::string, Clock::time_point>> leases;
  int order_writes = 0;
  int renewal_writes = 0;
};

}  // namespace portcullis::testing
