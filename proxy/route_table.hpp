// RouteTable: the immutable host -> endpoint map the workers read for every request and handshake,
// with the limits in force. Rebuilt by the control thread on start and reload, then published.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/published.hpp"
#include "certstore/cert_snapshot.hpp"
#include "domain/cidr.hpp"
#include "domain/config.hpp"

namespace portcullis::proxy {

struct Endpoint {
  std::string id;
  std::vector<std::string> hostnames;
  domain::Scope scope = domain::Scope::external;
  std::vector<domain::HostPort> upstreams;
  std::vector<std::string> upstream_keys;  // upstreams[i].to_string(): the connection pool's key
  domain::Allowlist allowlist;
  bool managed_https = true;
};

// Who may connect to a listener of one scope: the union of its endpoints' allowlists, or anyone
// when one of them has none. A scope without endpoints admits nobody.
struct AdmitSet {
  bool open = false;
  domain::Allowlist prefixes;  // distinct prefixes of every endpoint of the scope (when not open)
  bool any_endpoint = false;

  bool admits(const boost::asio::ip::address& peer) const noexcept {
    return open || (any_endpoint && prefixes.allows(peer));
  }
};

class RouteTable {
 public:
  RouteTable() = default;
  // `upstream_deny`: the targets the upstream pool never connects to (domain::endpoint_rules).
  RouteTable(const std::vector<domain::EndpointConfig>& endpoints, domain::LimitsConfig limits,
             domain::UpstreamDeny upstream_deny = {});

  // Exact host first, then the wildcard of its parent. `host` must be normalised (lower-case, no
  // port, no trailing dot); see normalize_authority(). nullptr when no endpoint claims it.
  const Endpoint* find(std::string_view host) const noexcept;
  // Like find() but only endpoints of `scope`; an endpoint of the other scope is invisible.
  const Endpoint* find(std::string_view host, domain::Scope scope) const noexcept {
    const Endpoint* e = find(host);
    return e && e->scope == scope ? e : nullptr;
  }

  // True when some endpoint of `scope` admits `peer` (used at accept time, before SNI is known):
  // the scope's admit set, precomputed when the table is built, so O(prefixes) and O(1) when an
  // endpoint of the scope is open to everyone.
  bool admits(domain::Scope scope, const boost::asio::ip::address& peer) const noexcept {
    return admit_sets_[static_cast<std::size_t>(scope)].admits(peer);
  }
  // The same answer by scanning every endpoint (the definition admits() is tested against).
  bool any_admits(domain::Scope scope, const boost::asio::ip::address& peer) const noexcept;
  // True when `endpoint` admits `peer`: its allowlist holds it, or it has none. The one rule that
  // the certificate callback (once SNI names the endpoint) and the request router (once Host
  // does, on TLS and plain listeners alike) apply.
  static bool admits(const Endpoint& endpoint, const boost::asio::ip::address& peer) noexcept {
    return endpoint.allowlist.allows(peer);
  }

  const domain::LimitsConfig& limits() const noexcept { return limits_; }
  const domain::UpstreamDeny& upstream_deny() const noexcept { return upstream_deny_; }
  const std::vector<std::shared_ptr<const Endpoint>>& endpoints() const noexcept { return endpoints_; }
  const AdmitSet& admit_set(domain::Scope scope) const noexcept { return admit_sets_[static_cast<std::size_t>(scope)]; }

 private:
  void build_admit_sets(const std::vector<domain::EndpointConfig>& endpoints);

  std::vector<std::shared_ptr<const Endpoint>> endpoints_;
  std::unordered_map<std::string, const Endpoint*, certstore::StringHash, std::equal_to<>> exact_;
  std::unordered_map<std::string, const Endpoint*, certstore::StringHash, std::equal_to<>> wildcard_;
  std::array<AdmitSet, 2> admit_sets_{};  // by domain::Scope: external, internal
  domain::LimitsConfig limits_;
  domain::UpstreamDeny upstream_deny_;
};

using Routes = base::Published<RouteTable>;

// "App.Example.com:8443" -> "app.example.com"; "[::1]:443" -> "::1". Empty for anything
// base::parse_host_authority() refuses.
std::string normalize_authority(std::string_view host_header);

}  // namespace portcullis::proxy
