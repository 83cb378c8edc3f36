// The admin listener's Host check, against DNS rebinding: a page on an attacker's name that
// resolves to the admin address still sends its own name as Host, and is refused. Patterns come
// from [admin] allowed_hosts, else the listen address and the loopback names with the port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::admin {

// "name", "name:port", "1.2.3.4:port", "[::1]:port": the host lower-cased without a trailing dot
// (an IPv6 literal in brackets) and the port when given.
struct HostPattern {
  std::string host;
  std::optional<std::uint16_t> port;
  bool operator==(const HostPattern&) const = default;
};

// Parses a Host value or an allowed_hosts entry with base::parse_host_authority, the rule of every
// listener. Nothing for anything else: user info, a path, an empty host, a port past 65535.
std::optional<HostPattern> parse_host(std::string_view text);

class HostCheck {
 public:
  // `allowed`: parsed allowed_hosts; empty: `listen_host` (an IP), localhost, 127.0.0.1 and [::1],
  // each with `port`. `tls`: a Host without a port stands for 443, else for 80.
  HostCheck(std::vector<HostPattern> allowed, std::string_view listen_host, std::uint16_t port, bool tls);
  HostCheck() = default;

  // True when `host` (the Host header's value) matches an allowed pattern: the same host and the
  // same port (an entry without a port matches any). Pure; noexcept apart from allocation.
  bool allows(std::string_view host) const;

  const std::vector<HostPattern>& allowed() const noexcept { return allowed_; }

 private:
  std::vector<HostPattern> allowed_;
  std::uint16_t default_port_ = 80;
};

}  // namespace portcullis::admin
