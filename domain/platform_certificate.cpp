#include "domain/platform_certificate.hpp"

#include <string>

namespace portcullis::domain {

bool is_platform_certificate(std::string_view endpoint_id) noexcept { return endpoint_id == platform_certificate_id; }

FallbackSource fallback_source(const Config& config) noexcept {
  if (!config.tls.fallback_cert.empty()) return FallbackSource::configured;
  if (config.dns.enabled && !config.dns.zone.empty()) return FallbackSource::platform_wildcard;
  return FallbackSource::none;
}

std::optional<EndpointConfig> platform_certificate(const Config& config) {
  if (fallback_source(config) != FallbackSource::platform_wildcard) return std::nullopt;
  EndpointConfig platform;
  platform.id = std::string(platform_certificate_id);
  platform.hostnames = {"*." + config.dns.zone, config.dns.zone};
  platform.scope = Scope::internal;
  platform.managed_https = true;
  return platform;
}

}  // namespace portcullis::domain
