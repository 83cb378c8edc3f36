#include "dns/resolver_address.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/hostname.hpp"

namespace portcullis::dns {
namespace {

constexpr std::uint16_t dns_port = 53;

}  // namespace

Result<domain::HostPort> resolver_address(const domain::DnsConfig& config, const std::filesystem::path& resolv_conf) {
  if (config.resolver) return *config.resolver;
  std::ifstream in(resolv_conf);
  if (!in) return fail(Errc::io, fmt::format("{}: cannot open: {}", resolv_conf.string(), std::strerror(errno)));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (!(words >> keyword >> address) || keyword != "nameserver") continue;
    // A link-local address may carry its interface ("fe80::1%eth0"): kept, the socket needs it.
    if (base::is_ip_address(address)) return domain::HostPort{address, dns_port};
  }
  return fail(Errc::not_found, fmt::format("{}: no nameserver line with an IP address", resolv_conf.string()));
}

}  // namespace portcullis::dns
