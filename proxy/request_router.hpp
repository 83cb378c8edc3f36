// The request router: what the edge does with a request whose head is read and whose framing is
// sound, decided from the Host header, the connection's SNI, the listener and the client's address
// against the live route table. A pure function, so every rule is a row of a table test, and an
// HTTP/2 session can ask it the same question an HTTP/1.1 one does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/status.hpp>

#include "domain/endpoint.hpp"
#include "proxy/route_table.hpp"

namespace portcullis::proxy {

// What the router is told about one request and its connection.
struct RouteQuery {
  std::size_t host_fields = 1;   // how many Host fields the request carries
  std::string_view host_header;  // the value of the Host field when there is exactly one
  unsigned version = 11;         // 10 for HTTP/1.0, 11 for HTTP/1.1
  std::string_view target;       // the request target as received
  bool tls = true;               // false on a plain-HTTP listener
  std::string_view sni;          // the handshake's server_name, normalised; empty when none was sent
  domain::Scope scope = domain::Scope::external;  // the listener's scope
  std::uint16_t redirect_port = 443;              // plain listener: the https port redirects name
  boost::asio::ip::address peer;                  // the client, IPv4-mapped IPv6 as IPv4
};

enum class RouteAction {
  proxy,           // relay to `endpoint`
  bad_host,        // 400: no Host in HTTP/1.1, several, or one that is not a host name
  unknown_host,    // 404: no endpoint of the listener's scope has this name
  misdirected,     // 421 (RFC 9110 §15.5.20): SNI chose another endpoint's certificate
  forbidden,       // 403: the endpoint's allowlist does not hold the client
  acme_challenge,  // plain listener: answer /.well-known/acme-challenge/<token> from the board
  redirect_https,  // plain listener: 308 to `location`
};

struct RouteDecision {
  RouteAction action = RouteAction::bad_host;
  const Endpoint* endpoint = nullptr;  // proxy only; points into the route table it came from
  std::string host;                    // the normalised Host ("" when absent in HTTP/1.0)
  std::string_view token;              // acme_challenge: the token (a view into the target)
  std::string location;                // redirect_https: the Location field
};

// Decides today's rules in this order:
// - Host: exactly one field, normalised (lower case, no port, no trailing dot, an IPv6 literal
//   without brackets); none in HTTP/1.0 is allowed (host ""), anything else is bad_host.
// - plain listener: when an endpoint of the listener's scope claims the Host, its allowlist must
//   hold the peer (forbidden, whatever the path); then the ACME HTTP-01 path (RFC 8555 §8.3) is
//   acme_challenge, everything else is redirect_https to the same host and target on
//   `redirect_port`;
// - TLS listener: an endpoint of the listener's scope must claim the Host (unknown_host; one of
//   the other scope is invisible); when SNI was sent it must have chosen the same endpoint
//   (misdirected); the endpoint's allowlist must hold the peer (forbidden); else proxy.
// Thread-safe, allocates only the host and the location.
RouteDecision route_request(const RouteQuery& query, const RouteTable& routes);

// The reply the edge sends itself for a decision that is not proxy, acme_challenge or
// redirect_https: status and body text.
struct EdgeReply {
  boost::beast::http::status status = boost::beast::http::status::bad_request;
  std::string_view body;
};
EdgeReply reply_for(RouteAction action) noexcept;

}  // namespace portcullis::proxy
