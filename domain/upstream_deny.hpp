// The upstream targets Portcullis never connects to: the CIDRs of [upstreams] deny (link-local and
// cloud metadata addresses by default) and its own admin and DNS listeners (an address and a port:
// a CIDR has none). One rule for the two places that ask: an endpoint's upstream when it is
// validated (an IP literal), and every address a name resolves to when the data plane connects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "domain/cidr.hpp"

namespace portcullis::domain {

// [upstreams] deny when the file gives none: IPv4 and IPv6 link-local (RFC 3927, RFC 4291; the
// 169.254.169.254 metadata service of most clouds is in it) and AWS's IPv6 metadata address.
std::vector<Cidr> default_upstream_deny();

// One of Portcullis's own listeners, refused as an upstream: `what` names it in messages.
struct OwnListener {
  std::string what;  // "the admin listener", "the DNS listener"
  boost::asio::ip::address address;
  std::uint16_t port = 0;
};

class UpstreamDeny {
 public:
  UpstreamDeny() = default;
  UpstreamDeny(std::vector<Cidr> cidrs, std::vector<OwnListener> listeners)
      : cidrs_(std::move(cidrs)), listeners_(std::move(listeners)) {}

  // The rule that refuses `address`:`port`, as a phrase for messages ("169.254.0.0/16 of
  // upstreams.deny", "the admin listener 127.0.0.1:9900"); nullopt when the target is allowed. An
  // IPv4-mapped IPv6 address is judged as its IPv4 address. A listener on an unspecified address
  // (0.0.0.0, ::) stands for every loopback and unspecified address at its port. Pure, thread-safe.
  std::optional<std::string> rule_for(const boost::asio::ip::address& address, std::uint16_t port) const;

  const std::vector<Cidr>& cidrs() const noexcept { return cidrs_; }
  const std::vector<OwnListener>& listeners() const noexcept { return listeners_; }

 private:
  std::vector<Cidr> cidrs_;
  std::vector<OwnListener> listeners_;
};

}  // namespace portcullis::domain
