#include "domain/upstream_deny.hpp"

#include <fmt/format.h>

namespace portcullis::domain {
namespace {

namespace ip = boost::asio::ip;

ip::address unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

bool same_listener(const OwnListener& l, const ip::address& address, std::uint16_t port) {
  if (l.port != port) return false;
  // A connection to 0.0.0.0 or :: reaches this host (Linux connects it over loopback), and so
  // whichever own listener holds that port, whatever address it is bound to.
  if (address.is_unspecified()) return true;
  const ip::address own = unmapped(l.address);
  if (own.is_unspecified()) return address.is_loopback() || address.is_unspecified();
  return own == address;
}

std::string with_port(const ip::address& a, std::uint16_t port) {
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), port) : fmt::format("{}:{}", a.to_string(), port);
}

}  // namespace

std::vector<Cidr> default_upstream_deny() {
  std::vector<Cidr> out;
  for (const char* text : {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"}) out.push_back(*Cidr::parse(text));
  return out;
}

std::optional<std::string> UpstreamDeny::rule_for(const ip::address& address, std::uint16_t port) const {
  const ip::address a = unmapped(address);
  for (const auto& cidr : cidrs_) {
    if (cidr.contains(a)) return fmt::format("{} of upstreams.deny", cidr.to_string());
  }
  for (const auto& l : listeners_) {
    if (same_listener(l, a, port)) return fmt::format("{} {}", l.what, with_port(l.address, l.port));
  }
  return std::nullopt;
}

}  // namespace portcullis::domain
