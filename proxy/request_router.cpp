#include "proxy/request_router.hpp"

#include "proxy/request_target.hpp"

namespace portcullis::proxy {
namespace {

namespace http = boost::beast::http;

// RFC 8555 §8.3: the HTTP-01 resource lives under this path on port 80.
constexpr std::string_view acme_challenge_prefix = "/.well-known/acme-challenge/";

// `target`: the path and query as received (an absolute-form target's own), or "*".
RouteDecision plain_decision(const RouteQuery& query, std::string_view target, std::string host) {
  RouteDecision decision;
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
    location += target.starts_with('/') ? target : std::string_view("/");
    decision.action = RouteAction::redirect_https;
    decision.location = std::move(location);
  }
  decision.host = std::move(host);
  return decision;
}


RouteDecision rejected(RouteAction action, std::string_view why) {
  RouteDecision decision;
  decision.action = action;
  decision.why = why;
  return decision;
}

// RFC 9112 §3.2.2: the target's authority and the Host name one host; a port given by both must
// be the same.
bool same_host(const base::HostAuthority& target, const base::HostAuthority& host) {
  return target.host == host.host && (target.port == 0 || host.port == 0 || target.port == host.port);
}

}  // namespace

RouteDecision route_request(const RouteQuery& query, const RouteTable& routes) {
  RequestTarget target;
  std::string_view why;
  switch (parse_request_target(query.method, query.target, target, &why)) {
    case TargetProblem::none:
      break;
    case TargetProblem::connect_refused:
      return rejected(RouteAction::not_allowed, why);
    case TargetProblem::malformed:
      return rejected(RouteAction::bad_target, why);
  }
  std::optional<base::HostAuthority> host_field;
  if (query.host_fields > 1) return rejected(RouteAction::bad_host, "several Host fields");
  if (query.host_fields == 1) {
    host_field = base::parse_host_authority(query.host_header, &why);
    if (!host_field) return rejected(RouteAction::bad_host, why);
  } else if (query.version >= 11) {
    return rejected(RouteAction::bad_host, "no Host field");  // RFC 9112 §3.2
  }
  if (target.authority && host_field && !same_host(*target.authority, *host_field)) {
    return rejected(RouteAction::host_mismatch, "Host does not match the request target");
  }
  const auto& effective = target.authority ? target.authority : host_field;
  std::string host = effective ? effective->host : std::string();
  std::string authority = effective ? effective->text() : std::string();
  std::string forward_target = target.form == TargetForm::absolute ? std::move(target.rewritten) : std::string();

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
    RouteDecision plain = plain_decision(query, target.path_and_query, std::move(host));
    plain.authority = std::move(authority);
    return plain;
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
    decision.forward_target = std::move(forward_target);
  }
  decision.host = std::move(host);
  decision.authority = std::move(authority);
  return decision;
}

EdgeReply reply_for(RouteAction action) noexcept {
  switch (action) {
    case RouteAction::bad_target:
      return {http::status::bad_request, "malformed request target\n"};
    case RouteAction::not_allowed:
      return {http::status::method_not_allowed, "method not allowed\n"};
    case RouteAction::bad_host:
      return {http::status::bad_request, "missing or invalid Host\n"};
    case RouteAction::host_mismatch:
      return {http::status::bad_request, "Host does not match the request target\n"};
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
