// The endpoint rules that depend on the deployment, beside domain::validate's own: how many
// hostnames and endpoints, public suffixes, the platform zone's own names, and the upstream targets
// Portcullis never connects to. Applied to the configuration file's endpoints and to those created
// through the admin API alike; built from the configuration by domain::endpoint_rules().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "domain/endpoint.hpp"
#include "domain/upstream_deny.hpp"

namespace portcullis::domain {

struct EndpointRules {
  std::size_t max_hostnames = 100;          // limits.max_hostnames_per_endpoint
  std::size_t max_endpoints = 250'000;      // limits.max_endpoints
  UpstreamDeny upstream_deny;               // [upstreams] deny and the own listeners
  std::string zone;                         // the platform zone, normalised; empty: no [dns]
  std::vector<std::string> name_servers;    // the zone's dns.ns names
};

// The problems of one checked endpoint (the values that passed validate()) under `rules`, at the
// places of the items they came from: more hostnames than max_hostnames; a hostname that is a
// public suffix or a wildcard over one ("com", "*.co.uk", "*.github.io"); one that is the platform
// zone, its wildcard or one of its name servers; an upstream IP literal that `upstream_deny`
// refuses (a name is judged by the addresses it resolves to, when the data plane connects). Pure.
std::vector<Problem> check_rules(const EndpointCheck& check, const EndpointRules& rules);

// Across endpoints, in list order: a hostname that is another endpoint's platform host
// (<id>.<zone>) or validation host (acme.<id>.<zone>), or a wildcard over a validation host
// (*.<id>.<zone>). The later of the two is the problem: the hostname, or the id whose names an
// earlier endpoint's hostname already takes. Nothing when `zone` is empty. Pure.
std::vector<Problem> check_platform_names(const std::vector<EndpointCheck>& checks, std::string_view zone,
                                          const Cite& cite = list_path);

// True when `name` (normalised, not a wildcard) is a public suffix of the Public Suffix List:
// libpsl's built-in copy, ICANN and private sections, without the implicit "*" rule (so an
// unlisted top-level name such as "test" is not one). Thread-safe.
bool is_public_suffix(std::string_view name);

}  // namespace portcullis::domain
