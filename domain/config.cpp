#include "domain/config.hpp"

#include <boost/asio/ip/address.hpp>

namespace portcullis::domain {

std::filesystem::path Config::resolve(const std::filesystem::path& p) const {
  // "<embedded>" and other bracketed sources are not files: their paths are relative to the cwd.
  if (p.empty() || p.is_absolute() || source.empty() || source.native().starts_with('<')) return p;
  return source.parent_path() / p;
}

EndpointRules endpoint_rules(const Config& config) {
  EndpointRules rules;
  rules.max_hostnames = config.limits.max_hostnames_per_endpoint;
  rules.max_endpoints = config.limits.max_endpoints;
  std::vector<OwnListener> own;
  auto add = [&](std::string what, const HostPort& at) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(at.host, ec);
    if (!ec) own.push_back({std::move(what), address, at.port});
  };
  if (config.admin.enabled) add("the admin listener", config.admin.listen);
  if (config.dns.enabled) {
    for (const auto& at : config.dns.listen) add("the DNS listener", at);
    rules.zone = config.dns.zone;
    for (const auto& ns : config.dns.ns) rules.name_servers.push_back(ns.name);
  }
  rules.upstream_deny = UpstreamDeny(config.upstreams.deny, std::move(own));
  return rules;
}

}  // namespace portcullis::domain
