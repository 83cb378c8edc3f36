#include "control/cert_timeline.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "base/logging.hpp"

namespace portcullis::control {
namespace {

using certstore::CertSource;

std::int64_t unix_seconds(certstore::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A wildcard hostname is looked up by one name it covers, as a handshake would send it.
std::string probe_name(const std::string& hostname) {
  return hostname.starts_with("*.") ? "wildcard-name" + hostname.substr(1) : hostname;
}

}  // namespace

std::string swap_reason(std::optional<CertSource> before, CertSource now, bool before_expired) {
  if (!before) return "endpoint added";
  switch (now) {
    case CertSource::managed: return *before == CertSource::managed ? "renewed" : "issued";
    case CertSource::transitional:
      if (*before == CertSource::transitional) return "transitional replaced";
      if (*before == CertSource::managed) return before_expired ? "managed expired" : "managed removed";
      return "transitional uploaded";
    case CertSource::fallback:
    case CertSource::default_cert:
      if (*before == CertSource::transitional) return before_expired ? "transitional expired" : "transitional removed";
      if (*before == CertSource::managed) return before_expired ? "managed expired" : "managed removed";
      return "platform certificate changed";
  }
  return "changed";
}

CertTimeline::CertTimeline(certstore::Storage& storage, base::BlockingPool& pool) : storage_(storage), pool_(pool) {}

Status CertTimeline::load() {
  auto stored = storage_.load_certificate_swaps();
  if (!stored) return tl::unexpected(stored.error().with_context("certificate timeline"));
  // Ordered by endpoint id: one map entry per endpoint, found once for all its swaps and added at
  // the end.
  decltype(last_)::iterator last = last_.end();
  decltype(swaps_)::iterator list = swaps_.end();
  for (auto& swap : *stored) {
    if (list == swaps_.end() || list->first != swap.endpoint_id) {
      last = last_.try_emplace(last_.end(), swap.endpoint_id);
      list = swaps_.try_emplace(swaps_.end(), swap.endpoint_id);
    }
    for (const auto& hostname : swap.hostnames) {
      last->second[hostname] = {swap.source, swap.serial_hex, swap.not_after_unix};
    }
    list->second.push_back(std::move(swap));
    if (list->second.size() > capacity) list->second.pop_front();
  }
  return {};
}

void CertTimeline::observe(const certstore::CertSnapshot& snapshot,
                           const std::vector<domain::EndpointConfig>& endpoints, certstore::Clock::time_point now) {
  const std::int64_t now_unix = unix_seconds(now);
  owners_.clear();
  endpoints_.clear();
  endpoints_.reserve(endpoints.size());
  for (const auto& endpoint : endpoints) {
    endpoints_.emplace_back(endpoint.id, endpoint.hostnames);
    for (const auto& hostname : endpoint.hostnames) owners_[hostname].push_back(endpoint.id);
    observe_endpoint(endpoint.id, endpoint.hostnames, snapshot, now_unix);
  }
}

void CertTimeline::observe_endpoint(const std::string& endpoint_id, const std::vector<std::string>& hostnames,
                                    const certstore::CertSnapshot& snapshot, std::int64_t now_unix) {
  // The hostnames that moved, grouped by the certificate (serial) they moved to, in order.
  std::vector<certstore::CertificateSwap> moved;
  for (const auto& hostname : hostnames) check(endpoint_id, hostname, snapshot, now_unix, moved);
  for (auto& swap : moved) record(std::move(swap));
}

void CertTimeline::observe_changed(const certstore::CertSnapshot& snapshot,
                                   const std::vector<std::string>& changed_names, certstore::Clock::time_point now) {
  const std::int64_t now_unix = unix_seconds(now);
  if (std::any_of(changed_names.begin(), changed_names.end(), [](const auto& n) { return n.starts_with("*."); })) {
    for (const auto& [id, hostnames] : endpoints_) observe_endpoint(id, hostnames, snapshot, now_unix);
    return;
  }
  // Per endpoint, in the order first met; a name two certificates share is looked at once.
  std::vector<std::pair<std::string, std::vector<certstore::CertificateSwap>>> moved;
  std::unordered_set<std::string_view> seen;
  for (const auto& name : changed_names) {
    if (!seen.insert(name).second) continue;
    auto owners = owners_.find(name);
    if (owners == owners_.end()) continue;
    for (const auto& id : owners->second) {
      auto it = std::find_if(moved.begin(), moved.end(), [&](const auto& m) { return m.first == id; });
      if (it == moved.end()) it = moved.insert(moved.end(), {id, {}});
      check(id, name, snapshot, now_unix, it->second);
    }
  }
  for (auto& [id, swaps] : moved) {
    for (auto& swap : swaps) record(std::move(swap));
  }
}

void CertTimeline::check(const std::string& endpoint_id, const std::string& hostname,
                         const certstore::CertSnapshot& snapshot, std::int64_t now_unix,
                         std::vector<certstore::CertificateSwap>& moved) {
  const auto* bundle = snapshot.select(probe_name(hostname));
  if (!bundle) return;
  auto& last = last_[endpoint_id];
  auto it = last.find(hostname);
  if (it != last.end() && it->second.source == bundle->source() && it->second.serial_hex == bundle->serial_hex()) {
    return;
  }
  std::optional<CertSource> before;
  bool before_expired = false;
  if (it != last.end()) {
    before = it->second.source;
    before_expired = it->second.not_after_unix <= now_unix;
  }
  const std::int64_t not_after = unix_seconds(bundle->not_after());
  last[hostname] = {bundle->source(), bundle->serial_hex(), not_after};
  auto reason = swap_reason(before, bundle->source(), before_expired);
  auto same = std::find_if(moved.begin(), moved.end(), [&](const auto& s) {
    return s.source == bundle->source() && s.serial_hex == bundle->serial_hex() && s.reason == reason;
  });
  if (same != moved.end()) {
    same->hostnames.push_back(hostname);
    return;
  }
  moved.push_back({endpoint_id, {hostname}, bundle->source(), bundle->serial_hex(), not_after, now_unix,
                   std::move(reason)});
}

void CertTimeline::record(certstore::CertificateSwap swap) {
  log::proxy()->info("certificate swapped endpoint={} source={} serial={} reason=\"{}\"", swap.endpoint_id,
                     certstore::to_string(swap.source), swap.serial_hex, swap.reason);
  auto& list = swaps_[swap.endpoint_id];
  list.push_back(swap);
  if (list.size() > capacity) list.pop_front();
  pool_.post_store([&storage = storage_, swap = std::move(swap)] {
    if (auto st = storage.append_certificate_swap(swap, capacity); !st) {
      log::proxy()->warn("certificate swap not stored endpoint={} error=\"{}\"", swap.endpoint_id,
                         st.error().message());
    }
  });
}

std::vector<certstore::CertificateSwap> CertTimeline::swaps(std::string_view endpoint_id) const {
  auto it = swaps_.find(endpoint_id);
  if (it == swaps_.end()) return {};
  return {it->second.rbegin(), it->second.rend()};
}

}  // namespace portcullis::control
