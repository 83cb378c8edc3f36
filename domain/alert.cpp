#include "domain/alert.hpp"

#include <array>
#include <utility>

namespace portcullis::domain {

namespace {

constexpr std::array<std::pair<AlertKind, std::string_view>, 10> kind_names{{
    {AlertKind::dns_record_missing, "dns_record_missing"},
    {AlertKind::dns_record_wrong, "dns_record_wrong"},
    {AlertKind::caa_forbids_ca, "caa_forbids_ca"},
    {AlertKind::issuance_failed, "issuance_failed"},
    {AlertKind::renewal_failing, "renewal_failing"},
    {AlertKind::certificate_expiring, "certificate_expiring"},
    {AlertKind::transitional_expiring_unmanaged, "transitional_expiring_unmanaged"},
    {AlertKind::ca_unreachable, "ca_unreachable"},
    {AlertKind::rate_limited, "rate_limited"},
    {AlertKind::dns_server_down, "dns_server_down"},
}};

}  // namespace

std::string_view to_string(AlertKind kind) noexcept {
  for (const auto& [k, name] : kind_names) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<AlertKind> alert_kind_from_string(std::string_view text) noexcept {
  for (const auto& [k, name] : kind_names) {
    if (name == text) return k;
  }
  return std::nullopt;
}

const std::vector<AlertKind>& all_alert_kinds() {
  static const std::vector<AlertKind> kinds = [] {
    std::vector<AlertKind> all;
    for (const auto& entry : kind_names) all.push_back(entry.first);
    return all;
  }();
  return kinds;
}

std::string_view to_string(AlertSeverity severity) noexcept {
  return severity == AlertSeverity::critical ? "critical" : "warning";
}

std::string AlertFinding::key() const {
  std::string k;
  k.reserve(64);
  k.append(to_string(kind)).append("|").append(endpoint_id).append("|").append(subject);
  return k;
}

}  // namespace portcullis::domain
