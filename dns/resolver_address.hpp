// Where the recursive resolver for delegation checks is: dns.resolver when configured, else the
// first `nameserver` of the system's resolv.conf (resolv.conf(5)), port 53.
#pragma once

#include <filesystem>

#include "base/error.hpp"
#include "domain/config.hpp"

namespace portcullis::dns {

// Blocking (reads `resolv_conf` when dns.resolver is not set). Errors name the file and say what
// is missing: "/etc/resolv.conf: no nameserver line".
Result<domain::HostPort> resolver_address(const domain::DnsConfig& config,
                                          const std::filesystem::path& resolv_conf = "/etc/resolv.conf");

}  // namespace portcullis::dns
