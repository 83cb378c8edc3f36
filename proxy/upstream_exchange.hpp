// The upstream exchange: one request in, the upstream's final response head and a body source
// out. It takes a connection from the worker's pool (or opens one), sends the prepared request
// head and streams the body, passes 1xx interim responses on to the client, and sends a replayable
// request once more when a pooled connection turns out closed. Whatever fails becomes one
// ExchangeError, and reply_for() turns it into the one response the edge sends for it.
#pragma once

#include <optional>
#include <string>

#include <boost/asio/error.hpp>
#include <boost/beast/http.hpp>

#include "base/log_limiter.hpp"
#include "base/logging.hpp"
#include "domain/config.hpp"
#include "proxy/executor.hpp"
#include "proxy/forward_headers.hpp"
#include "proxy/http_io.hpp"
#include "proxy/recycled.hpp"
#include "proxy/request_router.hpp"
#include "proxy/route_table.hpp"
#include "proxy/upstream_pool.hpp"

namespace portcullis::proxy {

enum class ExchangeError {
  none,
  no_upstream_configured,  // 502: the endpoint lists no upstream
  upstream_unavailable,    // 502: no connection could be made, or the head could not be sent
  upstream_send_failed,    // 502: the upstream broke while the request body was sent
  upstream_timeout,        // 504: no response head within upstream_timeout
  invalid_response,        // 502: the upstream closed or sent something that is not a response
  bad_request_body,        // 400: the client's chunked body is malformed
  client_failed,           // no reply: the client stalled, closed or could not be written to
};

// The edge's reply for an error; nullopt for none and client_failed (the connection just closes).
std::optional<EdgeReply> reply_for(ExchangeError error) noexcept;
// Whether the upstream, not the client, caused it (counted as an upstream error).
bool upstream_caused(ExchangeError error) noexcept;

// What the exchange needs besides the request. Worker thread only.
struct ExchangeContext {
  UpstreamPool& pool;
  Executor executor;
  const domain::LimitsConfig& limits;
  base::LogLimiter& unavailable_log;  // the worker's budgets for the lines a dead or slow upstream
  base::LogLimiter& timeout_log;      // causes on every request
  UpstreamGuard guard;                // the addresses never connected to
};

// The outcome of a successful exchange: the final response head (not 1xx, or 101) is parsed in
// `parser`; its body, if any, is still to be read from `upstream` (part of it may already be in
// upstream.connection->buffer).
struct UpstreamResponse {
  UpstreamLease upstream;
  Recycled<http_io::ResponseParser> parser;
};

// Facts about the request, decided once by the session.
struct ExchangeRequest {
  http_io::RequestParser& parser;  // the head is read and prepared for forwarding
  const Endpoint& endpoint;
  unsigned client_version = 11;  // the version interim responses are written with
  bool bodiless = false;         // no body follows the head
  bool replayable = false;       // may be sent again on a fresh connection (RFC 9110 §9.2.2)
  bool is_head = false;          // HEAD: the response has no body whatever its framing says
  bool upgrade = false;          // a WebSocket handshake: the only request a 101 may answer
};

namespace exchange_detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::beast::error_code;

// Sends the request head: one serialised write without a body, Beast's serializer with one.
inline Task<error_code> send_head(UpstreamConnection& upstream, const ExchangeRequest& request,
                                  Recycled<http_io::RequestSerializer>& serializer,
                                  domain::Millis timeout) {
  auto& req = request.parser.get();
  error_code ec;
  if (request.bodiless) {
    ScratchString head;
    append_request_head(*head, req);
    std::size_t done = http_io::write_now(upstream.stream, *head, ec);
    if (!ec && done < head->size()) ec = co_await http_io::write_rest(upstream.stream, *head, done, timeout);
    co_return ec;
  }
  serializer = make_recycled<http_io::RequestSerializer>(req);
  upstream.stream.expires_after(timeout);
  auto [wec, n] = co_await http::async_write_header(upstream.stream, *serializer, task_tuple);
  co_return wec;
}

// Reads the final response head; 1xx interim responses (except 101) are written to the client
// and the next head read. `interim_sent` tells whether any was.
template <class Client>
Task<error_code> read_final_head(Client& client, UpstreamConnection& upstream, const ExchangeRequest& request,
                                 Recycled<http_io::ResponseParser>& parser, const domain::LimitsConfig& limits,
                                 bool& interim_sent, bool& client_failed) {
  for (;;) {
    parser.reset();
    parser = make_recycled<http_io::ResponseParser>();
    parser->body_limit(boost::none);
    parser->header_limit(64 * 1024);
    if (request.is_head) parser->skip(true);
    upstream.stream.expires_after(limits.upstream_timeout);
    error_code ec = co_await http_io::read_head(upstream.stream, upstream.buffer, *parser);
    if (ec) co_return ec;
    auto status = parser->get().result_int();
    // RFC 9110 §15.2.2: a server switches only to a protocol the request asked for; a 101 to any
    // other request is not relayed (no tunnel opens that the edge did not check).
    if (status == 101 && !request.upgrade) co_return error_code(http::error::bad_status);
    if (status < 100 || status >= 200 || status == 101) co_return error_code{};
    http::response<http::empty_body> interim{parser->get().result(), request.client_version};
    for (const auto& f : parser->get()) interim.insert(f.name_string(), f.value());
    http_io::tcp_of(client).expires_after(limits.idle_timeout);
    auto [wec, wn] = co_await http::async_write(client, interim, task_tuple);
    if (wec) {
      client_failed = true;
      co_return wec;
    }
    interim_sent = true;
  }
}

}  // namespace exchange_detail

// Runs the exchange for `request` (whose body, if any, is read from `client` and `client_buffer`)
// and fills `out`. On an error, `out` holds nothing the caller needs.
template <class Client, class ClientBuffer>
Task<ExchangeError> exchange_with_upstream(Client& client, ClientBuffer& client_buffer, const ExchangeRequest& request,
                                           const ExchangeContext& ctx, UpstreamResponse& out) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  using boost::beast::error_code;
  const auto& endpoint = request.endpoint;
  const auto& limits = ctx.limits;
  if (endpoint.upstreams.empty()) co_return ExchangeError::no_upstream_configured;

  auto& upstream = out.upstream;
  upstream = co_await ctx.pool.acquire(endpoint, request.replayable, ctx.executor, limits.upstream_connect_timeout,
                                       ctx.guard);
  if (!upstream.connection) {
    if (auto dropped = ctx.unavailable_log.admit(TlsStream::coarse_now())) {
      log::proxy()->warn("upstream unavailable endpoint={} tried={}{}", endpoint.id, endpoint.upstreams.size(),
                         base::suppressed_suffix(*dropped));
    }
    co_return ExchangeError::upstream_unavailable;
  }
  const domain::HostPort& target = endpoint.upstreams[upstream.index];

  for (;;) {
    // The head. A pooled connection the upstream closed meanwhile may fail here, before any body
    // byte was consumed, so one retry on a fresh connection is safe.
    Recycled<http_io::RequestSerializer> serializer;
    error_code hec;
    for (;;) {
      hec = co_await exchange_detail::send_head(*upstream.connection, request, serializer, limits.upstream_timeout);
      if (!hec || !upstream.reused) break;
      upstream.reused = false;
      upstream.connection = co_await connect_upstream(ctx.executor, target, limits.upstream_connect_timeout, ctx.guard);
      if (!upstream.connection) break;
    }
    if (hec) co_return ExchangeError::upstream_unavailable;

    // The body, streamed.
    if (!request.bodiless) {
      bool read_failed = false;
      auto ec = co_await http_io::relay_body(client, client_buffer, request.parser, upstream.connection->stream,
                                             *serializer, limits.idle_timeout, limits.upstream_timeout, read_failed);
      if (ec && !read_failed) co_return ExchangeError::upstream_send_failed;
      // A malformed or stalled client body: the upstream saw a partial request.
      if (ec && (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension ||
                 ec == http::error::body_limit)) {
        co_return ExchangeError::bad_request_body;
      }
      if (ec) co_return ExchangeError::client_failed;
    }

    bool interim_sent = false;
    bool client_failed = false;
    error_code rec = co_await exchange_detail::read_final_head(client, *upstream.connection, request, out.parser,
                                                               limits, interim_sent, client_failed);
    if (!rec) co_return ExchangeError::none;
    if (client_failed) co_return ExchangeError::client_failed;
    const bool closed_unanswered = rec == http::error::end_of_stream || rec == asio::error::eof ||
                                   rec == asio::error::connection_reset || rec == asio::error::broken_pipe;
    if (upstream.reused && request.replayable && !interim_sent && closed_unanswered &&
        upstream.connection->buffer.size() == 0) {
      log::proxy()->debug("pooled upstream connection was closed, retrying endpoint={} upstream={}", endpoint.id,
                          *upstream.key);
      upstream.reused = false;
      upstream.connection = co_await connect_upstream(ctx.executor, target, limits.upstream_connect_timeout, ctx.guard);
      if (upstream.connection) continue;
      co_return ExchangeError::upstream_unavailable;
    }
    if (rec == boost::beast::error::timeout) {
      if (auto dropped = ctx.timeout_log.admit(TlsStream::coarse_now())) {
        log::proxy()->warn("upstream timeout endpoint={} upstream={}{}", endpoint.id, *upstream.key,
                           base::suppressed_suffix(*dropped));
      }
      co_return ExchangeError::upstream_timeout;
    }
    co_return ExchangeError::invalid_response;
  }
}

}  // namespace portcullis::proxy
