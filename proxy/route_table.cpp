#include "proxy/route_table.hpp"

#include <algorithm>
#include <set>

#include "base/host_authority.hpp"
#include "base/hostname.hpp"

namespace portcullis::proxy {

RouteTable::RouteTable(const std::vector<domain::EndpointConfig>& endpoints, domain::LimitsConfig limits,
                       domain::UpstreamDeny upstream_deny)
    : limits_(limits), upstream_deny_(std::move(upstream_deny)) {
  endpoints_.reserve(endpoints.size());
  std::size_t names = 0;
  for (const auto& cfg : endpoints) names += cfg.hostnames.size();
  exact_.reserve(names);  // sized once: no rehash while 100,000 names go in
  for (const auto& cfg : endpoints) {
    auto ep = std::make_shared<Endpoint>();
    ep->id = cfg.id;
    ep->hostnames = cfg.hostnames;
    ep->scope = cfg.scope;
    ep->upstreams = cfg.upstreams;
    for (const auto& u : ep->upstreams) ep->upstream_keys.push_back(u.to_string());
    ep->allowlist = domain::Allowlist(cfg.ip_allowlist);
    ep->managed_https = cfg.managed_https;
    for (const auto& name : ep->hostnames) {
      if (base::is_wildcard(name)) {
        wildcard_.emplace(name.substr(2), ep.get());
      } else {
        exact_.emplace(name, ep.get());
      }
    }
    endpoints_.push_back(std::move(ep));
  }
  build_admit_sets(endpoints);
}

void RouteTable::build_admit_sets(const std::vector<domain::EndpointConfig>& endpoints) {
  static_assert(static_cast<std::size_t>(domain::Scope::external) == 0 &&
                static_cast<std::size_t>(domain::Scope::internal) == 1);
  for (std::size_t scope = 0; scope < admit_sets_.size(); ++scope) {
    AdmitSet& set = admit_sets_[scope];
    std::vector<domain::Cidr> prefixes;
    std::set<std::string> seen;
    for (const auto& cfg : endpoints) {
      if (static_cast<std::size_t>(cfg.scope) != scope) continue;
      set.any_endpoint = true;
      if (cfg.ip_allowlist.empty()) set.open = true;
      for (const auto& cidr : cfg.ip_allowlist) {
        if (seen.insert(cidr.to_string()).second) prefixes.push_back(cidr);
      }
    }
    if (!set.open) set.prefixes = domain::Allowlist(std::move(prefixes));
  }
}

const Endpoint* RouteTable::find(std::string_view host) const noexcept {
  if (auto it = exact_.find(host); it != exact_.end()) return it->second;
  const std::string_view parent = base::parent_of(host);
  if (parent.empty()) return nullptr;
  if (auto it = wildcard_.find(parent); it != wildcard_.end()) return it->second;
  return nullptr;
}

bool RouteTable::any_admits(domain::Scope scope, const boost::asio::ip::address& peer) const noexcept {
  return std::any_of(endpoints_.begin(), endpoints_.end(), [&](const auto& ep) {
    return ep->scope == scope && admits(*ep, peer);
  });
}

std::string normalize_authority(std::string_view host) {
  auto authority = base::parse_host_authority(host);
  return authority ? std::move(authority->host) : std::string();
}

}  // namespace portcullis::proxy
