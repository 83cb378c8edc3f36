// The header rewrites of the HTTP relay: hop-by-hop fields removed (RFC 9110 §7.6.1), framing
// checks against request smuggling (RFC 9112 §6.3), and the forwarded-for fields the edge adds
// (RFC 7239). Pure functions on Beast messages; used per request by the session and by the
// microbenchmark of the parse → forward path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

namespace portcullis::proxy {

// Does the comma-separated header value contain `token` (case-insensitive)?
bool has_token(std::string_view value, std::string_view token);

// Removes the hop-by-hop fields and every field the Connection header names; `keep_upgrade`
// keeps Upgrade (a WebSocket handshake being relayed).
void strip_hop_by_hop(boost::beast::http::fields& fields, bool keep_upgrade);

// A reason to reject the message (both framings, several Content-Length or Transfer-Encoding
// fields, a Transfer-Encoding not ending in chunked), or nullopt.
std::optional<std::string_view> framing_problem(const boost::beast::http::fields& fields);

// Rewrites a client's request header for the upstream: hop-by-hop fields out, Expect out (the
// proxy answers 100-continue itself), X-Forwarded-For/-Proto/-Host and Forwarded set from the
// peer (the edge is the first proxy: whatever the client claimed is replaced), HTTP/1.1.
void prepare_forward_request(boost::beast::http::request<boost::beast::http::buffer_body>& req,
                             const boost::asio::ip::address& peer, bool tls, bool upgrade, bool chunked_in);
// The same with the peer's address already in text (a connection computes it once).
void prepare_forward_request(boost::beast::http::request<boost::beast::http::buffer_body>& req,
                             std::string_view peer_text, bool peer_v6, bool tls, bool upgrade, bool chunked_in);

// Appends the message head as it goes on the wire (start line, fields in order, blank line): the
// bytes Beast's serializer would write, into one contiguous buffer so that a head and a short body
// leave in one write.
void append_request_head(std::string& out, const boost::beast::http::request_header<>& req);
void append_response_head(std::string& out, const boost::beast::http::response_header<>& res);

}  // namespace portcullis::proxy
