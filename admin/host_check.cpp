#include "admin/host_check.hpp"

#include <algorithm>

#include "base/host_authority.hpp"

namespace portcullis::admin {

std::optional<HostPattern> parse_host(std::string_view text) {
  // The one host-authority rule every listener uses (base/host_authority.hpp).
  auto authority = base::parse_host_authority(text);
  if (!authority) return std::nullopt;
  HostPattern out;
  out.host = authority->kind == base::HostKind::ipv6 ? "[" + authority->host + "]" : authority->host;
  if (authority->port != 0) out.port = authority->port;
  return out;
}

HostCheck::HostCheck(std::vector<HostPattern> allowed, std::string_view listen_host, std::uint16_t port, bool tls)
    : allowed_(std::move(allowed)), default_port_(tls ? 443 : 80) {
  if (!allowed_.empty()) return;
  for (std::string_view host : {listen_host, std::string_view("localhost"), std::string_view("127.0.0.1"),
                                std::string_view("[::1]")}) {
    const bool v6 = host.find(':') != std::string_view::npos && !host.starts_with("[");
    auto pattern = parse_host(v6 ? "[" + std::string(host) + "]" : std::string(host));
    if (!pattern) continue;
    pattern->port = port;
    if (std::find(allowed_.begin(), allowed_.end(), *pattern) == allowed_.end()) allowed_.push_back(*pattern);
  }
}

bool HostCheck::allows(std::string_view host) const {
  auto given = parse_host(host);
  if (!given) return false;
  const std::uint16_t port = given->port.value_or(default_port_);
  return std::any_of(allowed_.begin(), allowed_.end(), [&](const HostPattern& p) {
    return p.host == given->host && (!p.port || *p.port == port);
  });
}

}  // namespace portcullis::admin
