#include "proxy/request_router.hpp"

namespace portcullis::proxy {
namespace {

namespace http = boost::beast::http;

// RFC 8555 §8.3: the HTTP-01 resource lives under this path on port 80.
constexpr std::string_view acme_challenge_prefix = "/.well-known/acme-challenge/";

RouteDecision plain_decision(const RouteQuery& query, std::string host) {
  RouteDecision decision;
  const std::string_view target = query.target;
  if (target.starts_with(acme_challenge_prefix)) {
    std::string_view token = target.substr(acme_challenge_prefix.size());
    if (auto q = token.find('?'); q != std::string_view::npos) token = token.substr(0, q);
    decision.action = RouteAction::acme_challenge;
    decision.token = token;
  } else if (host.empty()) {
    // HTTP/1.0 may leave Host out; a redirect needs a name (a Location of "https:///" is none).
    decision.action = RouteAction::bad_host;
  } else {
    // An IPv6 literal goes back into brackets; a target that is not origin-form becomes "/".
    std::string location = "https://";
    if (host.find(':') != std::string::npos) {
      location += '[';
      location += host;
      location += ']';
    } else {
      location += host;
    }
    if (query.redirect_port != 443) location += ":" + std::to_string(query.redirect_port);
    location += target.empty() || target.front() != '/' ? std::string_view("/") : target;
    decision.action = RouteAction::redirect_https;
    decision.location = std::move(location);
  }
  decision.host = std::move(host);
  return decision;
}

}  // namespace

RouteDecision route_request(const RouteQuery& query, const RouteTable& routes) {
  std::string host = query.host_fields == 1 ? normalize_authority(query.host_header) : std::string();
  if (host.empty() && (query.version >= 11 || query.host_fields > 0)) {
    RouteDecision bad;
    bad.action = RouteAction::bad_host;
    return bad;
  }
  if (!query.tls) {
    // The endpoint's allowlist holds on the plain listener too, for every path: a client outside
    // it is neither redirected to https nor answered an HTTP-01 token (an allowlisted endpoint is
    // proved by DNS-01). A name no endpoint of the scope claims keeps the plain rules.
    const Endpoint* endpoint = routes.find(host, query.scope);
    if (endpoint != nullptr && !RouteTable::admits(*endpoint, query.peer)) {
      RouteDecision refused;
      refused.action = RouteAction::forbidden;
      refused.host = std::move(host);
      return refused;
    }
    return plain_decision(query, std::move(host));
  }

  RouteDecision decision;
  const Endpoint* endpoint = routes.find(host, query.scope);
  if (endpoint == nullptr) {
    decision.action = RouteAction::unknown_host;
  } else if (!query.sni.empty() && routes.find(query.sni, query.scope) != endpoint) {
    decision.action = RouteAction::misdirected;
  } else if (!RouteTable::admits(*endpoint, query.peer)) {
    decision.action = RouteAction::forbidden;
  } else {
    decision.action = RouteAction::proxy;
    decision.endpoint = endpoint;
  }
  decision.host = std::move(host);
  return decision;
}

EdgeReply reply_for(RouteAction action) noexcept {
  switch (action) {
    case RouteAction::bad_host:
      return {http::status::bad_request, "missing or invalid Host\n"};
    case RouteAction::unknown_host:
      return {http::status::not_found, "unknown host\n"};
    case RouteAction::misdirected:
      return {http::status::misdirected_request, "misdirected request\n"};
    case RouteAction::forbidden:
      return {http::status::forbidden, "forbidden\n"};
    case RouteAction::proxy:
    case RouteAction::acme_challenge:
    case RouteAction::redirect_https:
      break;
  }
  return {http::status::internal_server_error, "not a rejection\n"};
}

}  // namespace portcullis::proxy
