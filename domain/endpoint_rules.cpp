#include "domain/endpoint_rules.hpp"

#include <algorithm>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <libpsl.h>

#include "base/hostname.hpp"
#include "base/quote.hpp"
#include "domain/platform_names.hpp"

namespace portcullis::domain {
namespace {

using base::quote;

// Why a hostname names something of the platform zone itself, or nullopt.
std::optional<std::string> zone_clash(const std::string& name, const EndpointRules& rules) {
  if (rules.zone.empty()) return std::nullopt;
  if (name == rules.zone) return "the platform zone itself";
  if (name == "*." + rules.zone) return "the platform zone's wildcard, which covers every endpoint's platform host";
  if (std::find(rules.name_servers.begin(), rules.name_servers.end(), name) != rules.name_servers.end()) {
    return "a name server of the platform zone";
  }
  return std::nullopt;
}

std::optional<std::string> suffix_problem(const std::string& name) {
  if (base::is_wildcard(name)) {
    const std::string parent = name.substr(2);
    if (is_public_suffix(parent)) {
      return fmt::format("expected a wildcard below a registrable domain, got {} ({} is a public suffix: the "
                         "wildcard would cover other people's domains)",
                         quote(name), quote(parent));
    }
  } else if (is_public_suffix(name)) {
    return fmt::format("expected a hostname below a public suffix, got {} (a public suffix)", quote(name));
  }
  return std::nullopt;
}

void check_hostnames(const EndpointCheck& check, const EndpointRules& rules, std::vector<Problem>& out) {
  const auto& names = check.endpoint.hostnames;
  if (names.size() > rules.max_hostnames) {
    out.push_back({Place{0, "hostnames", std::nullopt},
                   fmt::format("expected at most {} hostnames (limits.max_hostnames_per_endpoint), got {}",
                               rules.max_hostnames, names.size())});
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const Place here{0, "hostnames", check.hostname_items.at(i)};
    if (auto why = suffix_problem(names[i])) {
      out.push_back({here, std::move(*why)});
    } else if (auto clash = zone_clash(names[i], rules)) {
      out.push_back({here, fmt::format("expected a name the platform zone does not use itself, got {} ({})",
                                       quote(names[i]), *clash)});
    }
  }
}

void check_upstreams(const EndpointCheck& check, const EndpointRules& rules, std::vector<Problem>& out) {
  const auto& ups = check.endpoint.upstreams;
  for (std::size_t i = 0; i < ups.size(); ++i) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(ups[i].host, ec);
    if (ec) continue;  // a name: its addresses are judged when the data plane connects
    if (auto rule = rules.upstream_deny.rule_for(address, ups[i].port)) {
      out.push_back({Place{0, "upstreams", check.upstream_items.at(i)},
                     fmt::format("expected an upstream Portcullis may connect to, got {} (denied by {})",
                                 quote(ups[i].to_string()), *rule)});
    }
  }
}

}  // namespace

std::string_view platform_owner(std::string_view name, std::string_view zone) {
  if (name.size() <= zone.size() + 1 || !name.ends_with(zone) || name[name.size() - zone.size() - 1] != '.') return {};
  std::string_view relative = name.substr(0, name.size() - zone.size() - 1);
  if (relative.starts_with("*.")) {
    relative.remove_prefix(2);  // *.<id>.<zone> covers acme.<id>.<zone>
  } else if (relative.starts_with("acme.")) {
    relative.remove_prefix(5);
  }
  if (!valid_endpoint_id(relative)) return {};
  return relative;
}

bool is_public_suffix(std::string_view name) {
  const psl_ctx_t* psl = psl_builtin();
  if (psl == nullptr || name.empty()) return false;
  const std::string text(name);
  return psl_is_public_suffix2(psl, text.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
}

std::vector<Problem> check_rules(const EndpointCheck& check, const EndpointRules& rules) {
  std::vector<Problem> out;
  check_hostnames(check, rules, out);
  check_upstreams(check, rules, out);
  return out;
}

std::vector<Problem> check_platform_names(const std::vector<EndpointCheck>& checks, std::string_view zone,
                                          const Cite& cite) {
  std::vector<Problem> problems;
  if (zone.empty()) return problems;
  std::unordered_map<std::string_view, std::size_t> ids;  // id -> its endpoint's index
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const auto& id = checks[i].endpoint.id;
    if (valid_endpoint_id(id)) ids.try_emplace(id, i);
  }
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const EndpointConfig& e = checks[i].endpoint;
    for (std::size_t h = 0; h < e.hostnames.size(); ++h) {
      const std::string_view owner_id = platform_owner(e.hostnames[h], zone);
      if (owner_id.empty() || owner_id == e.id) continue;
      auto it = ids.find(owner_id);
      if (it == ids.end()) continue;
      const std::size_t owner = it->second;
      const Place name_place{i, "hostnames", checks[i].hostname_items.at(h)};
      const Place id_place{owner, "id", std::nullopt};
      if (owner < i) {
        problems.push_back({name_place, fmt::format("expected a name no other endpoint's platform or validation "
                                                    "host uses, got {} (a platform name of endpoint {}, {})",
                                                    quote(e.hostnames[h]), quote(owner_id), cite(id_place))});
      } else {
        problems.push_back({id_place, fmt::format("expected an id whose platform names no other endpoint uses, got "
                                                  "{} ({} of endpoint {} is one of them, {})",
                                                  quote(owner_id), quote(e.hostnames[h]), quote(e.id),
                                                  cite(name_place))});
      }
    }
  }
  return problems;
}

}  // namespace portcullis::domain
