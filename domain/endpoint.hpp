// An endpoint as a plain value: the names it answers, where it is reachable (scope), the upstreams
// it forwards to and who may connect. Read by the data plane (routing, allowlists) and the control
// plane (managed certificates); filled by the configuration reader.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "domain/cidr.hpp"

namespace portcullis::domain {

enum class Scope { external, internal };
enum class Protocol { https, http };

struct HostPort {
  std::string host;  // "127.0.0.1", "::1" (brackets removed), or a DNS name for upstreams
  std::uint16_t port = 0;
  std::string to_string() const;  // "[::1]:443" for v6
};
// "host:port", "[v6]:port". Error text: expected "host:port", got "...".
Result<HostPort> parse_host_port(std::string_view text);

struct EndpointConfig {
  std::string id;                       // DNS-safe: [a-z0-9-]{1,63}
  std::vector<std::string> hostnames;   // lower-cased, no trailing dot; one may be "*.x.y"
  Scope scope = Scope::external;
  std::vector<HostPort> upstreams;
  std::vector<Cidr> ip_allowlist;       // empty = open
  bool managed_https = true;
};

}  // namespace portcullis::domain
