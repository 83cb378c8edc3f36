#include "domain/records.hpp"

#include <cstdint>

#include <fmt/format.h>

#include "base/hostname.hpp"

namespace portcullis::domain {

std::string platform_host(std::string_view endpoint_id, std::string_view zone) {
  return std::string(endpoint_id) + "." + std::string(zone);
}

std::string validation_host(std::string_view endpoint_id, std::string_view zone) {
  return "acme." + platform_host(endpoint_id, zone);
}

std::string canary_value(std::string_view endpoint_id) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64: stable across builds and hosts
  for (unsigned char c : endpoint_id) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("portcullis-canary-{:016x}", hash);
}

std::string challenge_name(std::string_view hostname) {
  if (base::is_wildcard(hostname)) hostname.remove_prefix(2);
  return "_acme-challenge." + std::string(hostname);
}

bool in_platform_zone(std::string_view hostname, std::string_view zone) noexcept {
  if (zone.empty()) return false;
  if (base::is_wildcard(hostname)) hostname.remove_prefix(2);
  if (hostname == zone) return true;
  return hostname.size() > zone.size() + 1 && hostname.ends_with(zone) &&
         hostname[hostname.size() - zone.size() - 1] == '.';
}

std::string_view to_string(RecordPurpose purpose) noexcept {
  switch (purpose) {
    case RecordPurpose::traffic: return "traffic";
    case RecordPurpose::challenge: return "challenge";
  }
  return "?";
}

std::string_view to_string(RecordState state) noexcept {
  switch (state) {
    case RecordState::unchecked: return "unchecked";
    case RecordState::ok: return "ok";
    case RecordState::missing: return "missing";
    case RecordState::wrong_target: return "wrong_target";
    case RecordState::error: return "error";
  }
  return "?";
}

std::string RequiredRecord::text() const { return name + " " + type + " " + target; }

std::vector<RequiredRecord> records_for_hostname(const EndpointConfig& endpoint, std::string_view hostname,
                                                 std::string_view zone) {
  std::vector<RequiredRecord> out;
  if (in_platform_zone(hostname, zone)) return out;  // our zone answers both: nothing to delegate
  if (endpoint.scope == Scope::external) {
    RequiredRecord traffic;
    traffic.hostname = hostname;
    traffic.purpose = RecordPurpose::traffic;
    traffic.name = hostname;
    traffic.target = platform_host(endpoint.id, zone) + ".";
    if (base::is_wildcard(hostname)) {
      traffic.checkable = false;
      traffic.note =
          "a wildcard CNAME is allowed in DNS; it covers every name below " + std::string(hostname.substr(2)) +
          " that has no record of its own, so it is not checked (no single query proves it)";
    }
    out.push_back(std::move(traffic));
  }
  RequiredRecord challenge;
  challenge.hostname = hostname;
  challenge.purpose = RecordPurpose::challenge;
  challenge.name = challenge_name(hostname);
  challenge.target = validation_host(endpoint.id, zone) + ".";
  out.push_back(std::move(challenge));
  return out;
}

std::vector<RequiredRecord> records_for_endpoint(const EndpointConfig& endpoint, std::string_view zone) {
  std::vector<RequiredRecord> out;
  for (const auto& hostname : endpoint.hostnames) {
    for (auto& record : records_for_hostname(endpoint, hostname, zone)) {
      bool listed = false;
      for (const auto& seen : out) listed |= seen.name == record.name && seen.type == record.type;
      if (!listed) out.push_back(std::move(record));
    }
  }
  return out;
}

}  // namespace portcullis::domain
