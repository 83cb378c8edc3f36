// The request router: what the edge does with a request whose head is read and whose framing is
// sound, decided from the method and request target, the Host header, the connection's SNI, the
// listener and the client's address against the live route table. A pure function, so every rule is a row of a table test, and an
// HTTP/2 session can ask it the same question an HTTP/1.1 one does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include "domain/endpoint.hpp"
#include "proxy/route_table.hpp"

namespace portcullis::proxy {

// What the router is told about one request and its connection.
struct RouteQuery {
  std::size_t host_fields = 1;   // how many Host fields the request carries
  std::string_view host_header;  // the value of the Host field when there is exactly one
  unsigned version = 11;         // 10 for HTTP/1.0, 11 for HTTP/1.1
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string_view target;       // the request target as received
  bool tls = true;               // false on a plain-HTTP listener
  std::string_view sni;          // the handshake's server_name, normalised; empty when none was sent
  domain::Scope scope = domain::Scope::external;  // the listener's scope
  std::uint16_t redirect_port = 443;              // plain listener: the https port redirects name
  boost::asio::ip::address peer;                  // the client, IPv4-mapped IPv6 as IPv4
};

enum class RouteAction {
  proxy,           // relay to `endpoint`
  bad_target,      // 400: a malformed request target, or a form its method does not take
  not_allowed,     // 405: CONNECT
  bad_host,        // 400: no Host in HTTP/1.1, several, or one that is not a host name
  host_mismatch,   // 400: an absolute-form target whose authority is not the Host
  unknown_host,    // 404: no endpoint of the listener's scope has this name
  misdirected,     // 421 (RFC 9110 §15.5.20): SNI chose another endpoint's certificate
  forbidden,       // 403: the endpoint's allowlist does not hold the client
  acme_challenge,  // plain listener: answer /.well-known/acme-challenge/<token> from the board
  redirect_https,  // plain listener: 308 to `location`
};

struct RouteDecision {
  RouteAction action = RouteAction::bad_host;
  const Endpoint* endpoint = nullptr;  // proxy only; points into the route table it came from
  std::string host;                    // the normalised host ("" when absent in HTTP/1.0)
  std::string authority;               // the validated host and port, canonical: what the upstream's
                                       // Host, X-Forwarded-Host and Forwarded carry ("" when absent)
  std::string forward_target;          // proxy: the target to send when it is not the one received
                                       // (absolute-form rewritten to origin-form); "" to keep it
  std::string_view token;              // acme_challenge: the token (a view into the target)
  std::string location;                // redirect_https: the Location field
  std::string_view why;                // bad_target, bad_host: what was wrong, for the log
};

// Decides in this order:
// - the request target (parse_request_target): CONNECT is not_allowed; a malformed target, "*"
//   without OPTIONS or authority-form is bad_target;
// - Host: at most one field, and when present it passes base::parse_host_authority (a name or an
//   IP literal, a port 1-65535); none is allowed in HTTP/1.0 only; anything else is bad_host.
//   An absolute-form target's authority is the host (RFC 9112 §3.2.2) and passes the same check;
//   with a Host it must name the same host (and port, when both give one): else host_mismatch.
//   The host is normalised (lower case, no port, no trailing dot, an IPv6 literal without
//   brackets) and every rule below applies to it, whichever field it came from.
// - plain listener: when an endpoint of the listener's scope claims the Host, its allowlist must
//   hold the peer (forbidden, whatever the path); then the ACME HTTP-01 path (RFC 8555 §8.3) is
//   acme_challenge, everything else is redirect_https to the same host and target on
//   `redirect_port`;
// - TLS listener: an endpoint of the listener's scope must claim the Host (unknown_host; one of
//   the other scope is invisible); when SNI was sent it must have chosen the same endpoint
//   (misdirected); the endpoint's allowlist must hold the peer (forbidden); else proxy.
// Thread-safe, allocates only the host, the authority, a rewritten target and the location.
RouteDecision route_request(const RouteQuery& query, const RouteTable& routes);

// The reply the edge sends itself for a decision that is not proxy, acme_challenge or
// redirect_https: status and body text.
struct EdgeReply {
  boost::beast::http::status status = boost::beast::http::status::bad_request;
  std::string_view body;
};
EdgeReply reply_for(RouteAction action) noexcept;

}  // namespace portcullis::proxy
