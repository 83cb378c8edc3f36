// The header rewrites of the HTTP relay: hop-by-hop fields removed (RFC 9110 §7.6.1), checks of a
// request head against request smuggling (RFC 9112 §6.1, §6.3) and protocol switching (RFC 9110
// §7.8), and the forwarding fields the edge sets in place of the client's (RFC 7239). Pure functions on Beast messages; used per request by the session and by the
// microbenchmark of the parse → forward path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>

namespace portcullis::proxy {

// Does the comma-separated header value contain `token` (case-insensitive)?
bool has_token(std::string_view value, std::string_view token);

// Removes the hop-by-hop fields and every field the Connection header names; `keep_upgrade`
// keeps Upgrade (a WebSocket handshake being relayed).
void strip_hop_by_hop(boost::beast::http::fields& fields, bool keep_upgrade);

// Why the edge refuses a request head itself, and with which status.
struct RequestProblem {
  boost::beast::http::status status = boost::beast::http::status::bad_request;
  std::string_view reason;  // a phrase for the log and the response body
};

// The framing of a message (RFC 9112 §6.1, §6.3): 400 for both Content-Length and
// Transfer-Encoding, several of either, or a Transfer-Encoding whose last coding is not chunked;
// 501 for any transfer coding besides one chunked (a request this edge cannot relay as sent).
std::optional<RequestProblem> framing_problem(const boost::beast::http::fields& fields);

// RFC 9110 §7.8: a request that asks to switch protocols (Upgrade with "Connection: upgrade") is
// relayed only as a WebSocket handshake (RFC 6455 §4.1: GET, HTTP/1.1, Upgrade exactly
// "websocket"); any other (h2c, TLS, several protocols) is refused with 400. An Upgrade field
// without the Connection token asks nothing: it is dropped as hop-by-hop.
std::optional<RequestProblem> upgrade_problem(const boost::beast::http::request_header<>& req);
// True when `req` asks to switch protocols; once upgrade_problem() passed it, to WebSocket.
bool asks_upgrade(const boost::beast::http::request_header<>& req);

// Everything the edge refuses in a request head before routing it: framing_problem(), a
// Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: faulty framing), and, when `relayed`
// (a TLS listener, whose requests go upstream), upgrade_problem(). The plain listener relays
// nothing, so an Upgrade there is just ignored.
std::optional<RequestProblem> request_head_problem(const boost::beast::http::request_header<>& req, bool relayed);

// What the edge tells the upstream about the request, decided by the session and the router.
struct ForwardFacts {
  std::string_view peer_text;  // the client's address, IPv4-mapped IPv6 as IPv4
  bool peer_v6 = false;
  bool tls = true;             // the client spoke TLS to the edge
  std::string_view authority;  // the validated host[:port] (RouteDecision::authority); "" for none
  bool upgrade = false;        // a WebSocket handshake: Upgrade and Connection kept
  bool chunked_in = false;     // the client's body is chunked
};

// Rewrites a client's request header for the upstream: hop-by-hop fields out, Expect out (the
// proxy answers 100-continue itself), HTTP/1.1. The edge is the first proxy, so every field in
// which a client could assert what a proxy would (client_asserted_field()) is removed, whatever
// its case or its '_' for '-'; then Host, X-Forwarded-Host and Forwarded's host= are set from the
// validated authority, and X-Forwarded-For, X-Real-IP, X-Forwarded-Proto and Forwarded's for= and
// proto= from the connection.
void prepare_forward_request(boost::beast::http::request<boost::beast::http::buffer_body>& req,
                             const ForwardFacts& facts);

// True for a field that only a proxy may set, so a client's own is removed: Forwarded,
// X-Forwarded-{For,Host,Proto,Port,Server,Scheme,Ssl,Prefix}, X-Real-IP, True-Client-IP,
// X-Client-IP, Client-IP, X-Cluster-Client-IP, X-Original-Forwarded-For, X-Scheme,
// Front-End-Https, X-Original-URL, X-Rewrite-URL and HTTP2-Settings (h2c's hop-by-hop field).
// Case-insensitive, '_' matching '-' (a CGI-style upstream reads both as one variable).
bool client_asserted_field(std::string_view name) noexcept;

// Appends the message head as it goes on the wire (start line, fields in order, blank line): the
// bytes Beast's serializer would write, into one contiguous buffer so that a head and a short body
// leave in one write.
void append_request_head(std::string& out, const boost::beast::http::request_header<>& req);
void append_response_head(std::string& out, const boost::beast::http::response_header<>& res);

}  // namespace portcullis::proxy
