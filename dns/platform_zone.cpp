#include "dns/platform_zone.hpp"

#include <chrono>

#include <fmt/format.h>

#include "base/logging.hpp"
#include "domain/records.hpp"

namespace portcullis::dns {
namespace {

std::uint32_t unix_seconds() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

}  // namespace

PlatformZone::PlatformZone(SecondsClock clock) : clock_(clock ? std::move(clock) : SecondsClock(unix_seconds)) {}

Status PlatformZone::publish(const ZoneBuilder& next) {
  const std::uint32_t serial = next_serial(serial_, clock_());
  auto zone = next.build(serial);
  if (!zone) return tl::unexpected(zone.error());
  serial_ = serial;
  registry_.publish(std::move(*zone));
  return {};
}

Status PlatformZone::configure(const domain::DnsConfig& config, const std::vector<domain::EndpointConfig>& endpoints) {
  auto settings = ZoneSettings::from_config(config);
  if (!settings) return tl::unexpected(settings.error());
  ZoneBuilder next = builder_;
  next.configure(std::move(*settings), endpoints);
  if (auto st = publish(next); !st) return st;
  builder_ = std::move(next);
  log::dns()->info("zone published zone={} serial={} names={}", builder_.settings().apex, serial_,
                   registry_.current()->names());
  return {};
}

Status PlatformZone::set_txt(std::string_view endpoint_id, std::vector<std::string> values) {
  ZoneBuilder next = builder_;
  const std::size_t count = values.size();
  next.set_txt(endpoint_id, std::move(values));
  if (auto st = publish(next); !st) return st;
  builder_ = std::move(next);
  log::dns()->info("validation values published endpoint={} values={} serial={}", endpoint_id, count, serial_);
  return {};
}

Status PlatformZone::set_canaries(bool on) {
  if (builder_.canaries() == on) return {};
  ZoneBuilder next = builder_;
  next.set_canaries(on);
  // Not configured yet: the first configure() publishes with it.
  if (!builder_.settings().apex.empty()) {
    if (auto st = publish(next); !st) return st;
  }
  builder_ = std::move(next);
  return {};
}

Status PlatformZone::clear_txt(std::string_view endpoint_id) { return set_txt(endpoint_id, {}); }

Status PlatformZone::set_challenge_txt(std::string_view owner, ZoneBuilder::ChallengeValues by_name) {
  const std::string& apex = builder_.settings().apex;
  std::size_t count = 0;
  for (const auto& [name, values] : by_name) {
    if (!domain::in_platform_zone(name, apex)) {
      return fail(Errc::invalid_input,
                  fmt::format("dns: {} is not inside the platform zone {}: its DNS-01 value cannot be served there",
                              name, apex.empty() ? "(none configured)" : apex));
    }
    count += values.size();
  }
  if (builder_.challenge_txt(owner) == nullptr && count == 0) return {};
  ZoneBuilder next = builder_;
  next.set_challenge_txt(owner, std::move(by_name));
  if (auto st = publish(next); !st) return st;
  builder_ = std::move(next);
  log::dns()->info("validation values published owner={} values={} serial={}", owner, count, serial_);
  return {};
}

Status PlatformZone::clear_challenge_txt(std::string_view owner) { return set_challenge_txt(owner, {}); }

}  // namespace portcullis::dns
