// The platform's own certificate: `*.<zone>` and `<zone>`, the fallback served for a name under
// the platform zone that nothing else covers. It is managed like an endpoint's certificate (same
// scheduler, backoff, ARI, store row, issuance lease per name) under a reserved id that no
// configured endpoint can take, and it is never routed: it exists only in the certificate
// manager, the store and the certificate catalog, which serves it in the fallback slot. An
// operator's own `tls.fallback_cert` wins: the platform certificate is then not wanted.
#pragma once

#include <optional>
#include <string_view>

#include "domain/config.hpp"
#include "domain/endpoint.hpp"

namespace portcullis::domain {

// The reserved id: "_" is not allowed in an endpoint id (valid_endpoint_id), so it cannot clash.
inline constexpr std::string_view platform_certificate_id = "_platform";

bool is_platform_certificate(std::string_view endpoint_id) noexcept;

// Where the certificate served to names no other certificate covers comes from.
enum class FallbackSource {
  none,               // no [dns] and no tls.fallback_cert: the default certificate answers them
  configured,         // tls.fallback_cert (the operator's own)
  platform_wildcard,  // *.<zone> and <zone>, issued for ourselves over DNS-01 in our own zone
};
FallbackSource fallback_source(const Config& config) noexcept;

// The platform certificate as a managed "endpoint" (id platform_certificate_id, hostnames
// `*.<zone>` then `<zone>`, scope internal: the CA cannot reach us by HTTP for a wildcard anyway),
// when fallback_source(config) is platform_wildcard; std::nullopt otherwise. It is ordered only
// when ACME is on as well; a certificate already stored is served whether or not ACME is on.
std::optional<EndpointConfig> platform_certificate(const Config& config);

}  // namespace portcullis::domain
