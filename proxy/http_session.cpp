#include "proxy/http_session.hpp"

#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/hostname.hpp"
#include "base/logging.hpp"
#include "proxy/forward_headers.hpp"
#include "proxy/http_io.hpp"
#include "proxy/recycled.hpp"
#include "proxy/request_router.hpp"
#include "proxy/tls_stream.hpp"
#include "proxy/upstream_exchange.hpp"

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;
using namespace http_io;
// How long a closing TLS connection waits to send its close_notify before the socket just closes.
constexpr std::chrono::milliseconds close_notify_timeout{500};

struct RequestContext {
  const ListenerRuntime& listener;
  Worker& worker;
  const domain::LimitsConfig& limits;
  const domain::UpstreamDeny* upstream_deny;  // the routes' (per request); nullptr in a connection's base
  asio::ip::address peer;
  bool tls = false;
  std::string_view peer_text;  // the peer's address as X-Forwarded-For gives it
};

enum class Outcome { keep_alive, close };

// What the session decided about a request before it went upstream, for writing the response.
struct ClientFacts {
  unsigned version = 11;
  bool keep_alive = false;  // the client asked for it
  bool is_head = false;
  bool upgrade = false;  // the client asked to switch protocols
};

// How the response goes to this client, decided from the upstream's head.
struct ClientFraming {
  bool switching = false;            // 101 to an upgrade request: tunnel from here on
  bool keep_alive = false;           // the client connection stays open after this response
  bool upstream_keep_alive = false;  // the upstream connection may go back to the pool
};

// Rewrites the upstream's response head for this client: hop-by-hop fields out, the body
// re-framed (chunked for HTTP/1.1 when the length is unknown, close-delimited for HTTP/1.0), the
// client's version and keep-alive. `body_complete`: the parser already holds the whole message.
ClientFraming frame_for_client(http::response<http::buffer_body>& res, const ClientFacts& facts, bool draining,
                               bool body_complete) {
  ClientFraming framing;
  framing.upstream_keep_alive = res.keep_alive();
  framing.switching = facts.upgrade && res.result() == http::status::switching_protocols;
  const bool chunked_out = res.chunked();
  const bool has_length = res.has_content_length();
  strip_hop_by_hop(res, framing.switching);
  framing.keep_alive = facts.keep_alive && !draining;
  if (framing.switching) {
    res.set(http::field::connection, "upgrade");
  } else {
    const bool body_expected = !facts.is_head && !has_length && res.result_int() != 204 && res.result_int() != 304;
    if (body_expected && (chunked_out || !body_complete)) {
      if (facts.version >= 11) {
        res.chunked(true);
      } else {
        framing.keep_alive = false;
      }
    }
    res.keep_alive(framing.keep_alive);
  }
  res.version(facts.version);
  return framing;
}

// Writes the upstream's response to the client: the head re-framed for this client, then the body
// (in the same write when it is already here whole), or the tunnel of an upgraded connection. The
// connection goes back to the pool when the upstream keeps it open and its response is complete.
template <class Stream>
Task<Outcome> relay_response(Stream& client, ClientBuffer& client_buffer, UpstreamResponse& response,
                             const ClientFacts& facts, const RequestContext& ctx) {
  const auto& limits = ctx.limits;
  auto& pool = ctx.worker.pool();
  auto& upstream = response.upstream.connection;
  const std::string& upstream_key = *response.upstream.key;
  auto& res_parser = response.parser;
  auto& res = res_parser->get();
  ctx.worker.counters().count_response(res.result_int());
  const bool draining = ctx.worker.shared().draining.load(std::memory_order_relaxed);
  const ClientFraming framing = frame_for_client(res, facts, draining, res_parser->is_done());
  const bool upstream_keep_alive = framing.upstream_keep_alive;
  const bool switching = framing.switching;
  const bool keep_alive = framing.keep_alive;

  // The common case: the whole body (or none) is already in the upstream buffer. Head and body
  // leave in one write (one TLS record when they fit), with no serializer and no relay.
  if (!switching) {
    std::size_t inline_body = std::numeric_limits<std::size_t>::max();
    if (res_parser->is_done()) {
      inline_body = 0;
    } else if (auto length = res_parser->content_length();
               length && *length <= max_inline_body && *length <= upstream->buffer.size()) {
      inline_body = static_cast<std::size_t>(*length);
    }
    if (inline_body != std::numeric_limits<std::size_t>::max()) {
      ScratchString out;
      append_response_head(*out, res);
      out->append(static_cast<const char*>(upstream->buffer.data().data()), inline_body);
      upstream->buffer.consume(inline_body);
      error_code wec;
      std::size_t done = write_now(client, *out, wec);
      if (!wec && done < out->size()) wec = co_await write_rest(client, *out, done, limits.idle_timeout);
      if (wec) co_return Outcome::close;
      if (upstream_keep_alive) pool.give_back(upstream_key, std::move(upstream));
      co_return keep_alive ? Outcome::keep_alive : Outcome::close;
    }
  }

  auto res_serializer = make_recycled<ResponseSerializer>(res);
  auto& res_sr = *res_serializer;
  // When the body (or its first bytes) is already here, the header goes out with it in one write
  // (one TLS record) from relay_body; otherwise now, so a streamed response's header is not held
  // back until its first body bytes.
  if (switching || (!res_parser->is_done() && upstream->buffer.size() == 0)) {
    tcp_of(client).expires_after(limits.idle_timeout);
    auto [wec, wn] = co_await http::async_write_header(client, res_sr, task_tuple);
    if (wec) co_return Outcome::close;
  }

  if (switching) {
    // Flush what either side already sent past the headers, then tunnel bytes both ways.
    if (client_buffer.size() > 0) {
      auto [e, n] = co_await asio::async_write(upstream->stream, client_buffer.data(), task_tuple);
      if (e) co_return Outcome::close;
      client_buffer.consume(n);
    }
    if (upstream->buffer.size() > 0) {
      auto [e, n] = co_await asio::async_write(client, upstream->buffer.data(), task_tuple);
      if (e) co_return Outcome::close;
      upstream->buffer.consume(n);
    }
    using namespace asio::experimental::awaitable_operators;
    co_await (pump(client, upstream->stream, limits.idle_timeout) ||
              pump(upstream->stream, client, limits.idle_timeout));
    co_return Outcome::close;
  }

  if (!res_parser->is_done() || !res_sr.is_done()) {
    bool read_failed = false;
    auto ec = co_await relay_body(upstream->stream, upstream->buffer, *res_parser, client, res_sr,
                                  limits.upstream_timeout, limits.idle_timeout, read_failed);
    if (ec) co_return Outcome::close;  // headers are out: all we can do is cut the connection
  }

  if (upstream_keep_alive && res_parser->is_done()) pool.give_back(upstream_key, std::move(upstream));
  co_return keep_alive ? Outcome::keep_alive : Outcome::close;
}

// The one reply for a failed exchange (none when the client is the one that failed), counted;
// the connection closes after it.
template <class Stream>
Task<Outcome> fail_exchange(Stream& client, ExchangeError error, unsigned version, const RequestContext& ctx) {
  auto& counters = ctx.worker.counters();
  if (upstream_caused(error)) WorkerCounterBlock::add(counters.upstream_errors);
  if (auto reply = reply_for(error)) {
    counters.count_response(static_cast<unsigned>(reply->status));
    std::string body(reply->body);
    co_await send_simple(client, reply->status, version, std::move(body), false, ctx.limits.idle_timeout);
  }
  co_return Outcome::close;
}

// One routed request: prepared for the upstream, exchanged, the response relayed. The header is
// already read into `parser`.
template <class Stream>
Task<Outcome> proxy_request(Stream& client, ClientBuffer& client_buffer, RequestParser& parser,
                            const RouteDecision& decision, const RequestContext& ctx) {
  auto& req = parser.get();
  const auto& limits = ctx.limits;
  const Endpoint& endpoint = *decision.endpoint;
  ClientFacts facts;
  facts.version = req.version();
  facts.keep_alive = req.keep_alive();
  facts.is_head = req.method() == http::verb::head;
  facts.upgrade = asks_upgrade(req);  // request_head_problem() let only a WebSocket handshake through
  const bool chunked_in = req.chunked();

  if (endpoint.upstreams.empty()) {
    Outcome outcome = co_await fail_exchange(client, ExchangeError::no_upstream_configured, facts.version, ctx);
    co_return outcome;
  }

  if (has_token(req[http::field::expect], "100-continue") && !parser.is_done()) {
    http::response<http::empty_body> cont{http::status::continue_, facts.version};
    tcp_of(client).expires_after(limits.idle_timeout);
    auto [ec, n] = co_await http::async_write(client, cont, task_tuple);
    if (ec) co_return Outcome::close;
  }

  // RFC 9112 §3.2.2: the upstream gets origin-form, and the Host the router checked.
  if (!decision.forward_target.empty()) req.target(decision.forward_target);
  prepare_forward_request(req, ForwardFacts{ctx.peer_text, ctx.peer.is_v6(), ctx.tls, decision.authority,
                                            facts.upgrade, chunked_in});

  // A request with no body and an idempotent method (RFC 9110 §9.2.2) can be sent again when a
  // pooled connection turns out to be closed: the upstream ended it before answering a byte.
  const auto method = req.method();
  const bool bodiless = parser.is_done() && !chunked_in;
  const bool replayable = bodiless && !facts.upgrade &&
                          (method == http::verb::get || method == http::verb::head ||
                           method == http::verb::options || method == http::verb::trace ||
                           method == http::verb::put || method == http::verb::delete_);

  const ExchangeRequest request{parser,     endpoint,     facts.version, bodiless,
                                replayable, facts.is_head, facts.upgrade};
  auto& log_limits = ctx.worker.log_limits();
  const ExchangeContext exchange_ctx{ctx.worker.pool(),
                                     ctx.worker.io().get_executor(),
                                     limits,
                                     log_limits.upstream_unavailable,
                                     log_limits.upstream_timeout,
                                     {*ctx.upstream_deny, log_limits.upstream_denied}};
  UpstreamResponse response;
  const auto sent = std::chrono::steady_clock::now();
  const ExchangeError error = co_await exchange_with_upstream(client, client_buffer, request, exchange_ctx, response);
  if (error != ExchangeError::none) {
    Outcome outcome = co_await fail_exchange(client, error, facts.version, ctx);
    co_return outcome;
  }
  // From the request leaving (a pooled or new connection) to the response's head read.
  ctx.worker.counters().observe_upstream_response(std::chrono::steady_clock::now() - sent);
  Outcome outcome = co_await relay_response(client, client_buffer, response, facts, ctx);
  co_return outcome;
}

// The client's address, an IPv4-mapped IPv6 peer as IPv4 (allowlists and X-Forwarded-For speak
// IPv4 for it).
asio::ip::address peer_address(const tcp::endpoint& endpoint) {
  auto peer = endpoint.address();
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, peer.to_v6());
  return peer;
}

// Allowlists at accept time, for TLS and plain listeners alike: a peer that no endpoint of the
// listener's scope admits is closed before any byte is read or written.
bool admitted_at_accept(const RouteTable& routes, const ListenerRuntime& listener, const asio::ip::address& peer) {
  if (routes.admits(listener.config.scope, peer)) return true;
  log::proxy()->debug("connection refused listener={} peer={} reason=allowlist", listener.config.name,
                      peer.to_string());
  return false;
}

// A plain-HTTP request the router decided: the ACME HTTP-01 answer (RFC 8555 §8.3) from the
// challenge board, or the redirect to https.
template <class Stream>
Task<Outcome> answer_plain(Stream& stream, const RequestParser& parser, const RouteDecision& decision,
                           const RequestContext& ctx) {
  const auto& req = parser.get();
  const unsigned version = req.version();
  const bool keep = req.keep_alive() && parser.is_done();
  auto& counters = ctx.worker.counters();
  error_code ec;
  if (decision.action == RouteAction::acme_challenge) {
    auto board = ctx.worker.snapshots().challenges.lease();
    if (const std::string* answer = board->http01_answer(decision.token)) {
      log::proxy()->info("acme http-01 served token={} host={}", decision.token, decision.host);
      counters.count_response(200);
      std::string body = *answer;
      ec = co_await send_simple(stream, http::status::ok, version, std::move(body), keep, ctx.limits.idle_timeout, {},
                                "application/octet-stream");
    } else {
      counters.count_response(404);
      ec = co_await send_simple(stream, http::status::not_found, version, "no such challenge\n", keep,
                                ctx.limits.idle_timeout);
    }
  } else {
    counters.count_response(308);
    ec = co_await send_simple(stream, http::status::permanent_redirect, version, "", keep, ctx.limits.idle_timeout,
                              decision.location);
  }
  co_return ec || !keep ? Outcome::close : Outcome::keep_alive;
}

// A request answered by the edge itself and the connection closed after it.
struct Rejection {
  http::status status = http::status::bad_request;
  unsigned version = 11;
  std::string_view body;
  domain::Millis timeout{};
};

// What a 405 names as allowed: every method the edge relays (all but CONNECT).
constexpr std::string_view allowed_methods = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE";

// One info line for a request the edge refuses itself, within the worker's log budget.
void log_rejected(Worker& worker, std::string_view peer_text, std::string_view reason) {
  if (auto dropped = worker.log_limits().rejected_request.admit(TlsStream::coarse_now())) {
    log::proxy()->info("rejected request peer={} reason=\"{}\"{}", peer_text, reason,
                       portcullis::base::suppressed_suffix(*dropped));
  }
}

// Asks the router about the request and serves it: proxied, answered on the plain listener, or
// left in `rejection` for the loop to send. Its own coroutine, so the query and the decision take
// frame space only while a request runs, not for as long as an idle connection lives.
template <class Stream>
Task<Outcome> route_and_serve(Stream& stream, ClientBuffer& buffer, RequestParser& parser, const RequestContext& ctx,
                              const RouteTable& routes, std::string_view sni_name,
                              std::optional<Rejection>& rejection) {
  const auto& req = parser.get();
  RouteQuery query;
  query.host_fields = req.count(http::field::host);
  if (query.host_fields == 1) query.host_header = req[http::field::host];
  query.version = req.version();
  query.method = req.method();
  query.target = req.target();
  query.tls = ctx.tls;
  query.sni = sni_name;
  query.scope = ctx.listener.config.scope;
  query.redirect_port = ctx.listener.redirect_port;
  query.peer = ctx.peer;
  const RouteDecision decision = route_request(query, routes);

  if (decision.action == RouteAction::proxy) {
    Outcome outcome = co_await proxy_request(stream, buffer, parser, decision, ctx);
    co_return outcome;
  }
  if (decision.action == RouteAction::acme_challenge || decision.action == RouteAction::redirect_https) {
    Outcome outcome = co_await answer_plain(stream, parser, decision, ctx);
    co_return outcome;
  }
  if (!decision.why.empty()) log_rejected(ctx.worker, ctx.peer_text, decision.why);
  const EdgeReply reply = reply_for(decision.action);
  rejection = Rejection{reply.status, query.version, reply.body, ctx.limits.idle_timeout};
  co_return Outcome::close;
}

// The request loop shared by TLS and (for challenges/redirects) plain connections. Rejections
// leave through one send after the loop: every co_await site costs frame space for as long as the
// connection lives, idle or not.
template <class Stream>
Task<void> request_loop(Stream& stream, const RequestContext& base, std::string_view sni_name) {
  ClientBuffer buffer;
  auto& shared = base.worker.shared();
  auto& counters = base.worker.counters();
  bool first = true;
  std::optional<Rejection> rejection;
  std::string reason;  // a framing problem's text, kept for the rejection's body
  for (;;) {
    // The worker's copy of the route table, leased for this request: one version load, no shared
    // reference count. A table published meanwhile is seen by the next request.
    RoutesLease routes = base.worker.snapshots().routes.lease();
    RequestContext ctx{base.listener, base.worker, routes->limits(), &routes->upstream_deny(), base.peer, base.tls,
                       base.peer_text};
    const auto& limits = ctx.limits;

    // Waiting for the next request on a kept-alive connection is idle time; once bytes of a
    // header arrive it must complete within header_timeout.
    tcp_of(stream).expires_after(first ? limits.header_timeout : limits.idle_timeout);
    first = false;
    if (buffer.size() == 0) {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        // An idle TLS connection holds no read buffer: it is freed here and taken again once the
        // next request's bytes are readable.
        buffer.shrink_to_fit();
        auto [wec, wn] = co_await stream.async_wait_readable(task_tuple);
        if (wec) co_return;
      }
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(read_chunk), task_tuple);
      if (ec) co_return;
      buffer.commit(n);
      tcp_of(stream).expires_after(limits.header_timeout);
    }
    auto request = make_recycled<RequestParser>();
    auto& parser = *request;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(boost::none);
    error_code ec;
    if (!parse_head(buffer, parser, ec) && !ec) ec = co_await read_head(stream, buffer, parser);
    if (ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::ssl::error::stream_truncated) {
        co_return;
      }
      // Malformed or oversized header: 400 and close, never forwarded.
      log::proxy()->debug("bad request peer={} error={}", base.peer_text, ec.message());
      rejection = Rejection{http::status::bad_request, 11,
                            ec == http::error::header_limit ? "request header too large\n" : "malformed request\n",
                            limits.idle_timeout};
      break;
    }
    GaugeGuard active(counters.active_requests);
    WorkerCounterBlock::add(counters.requests);
    auto& req = parser.get();
    const unsigned version = req.version();

    if (auto problem = request_head_problem(req, base.tls)) {
      log_rejected(base.worker, base.peer_text, problem->reason);
      reason = std::string(problem->reason) + "\n";
      rejection = Rejection{problem->status, version, reason, limits.idle_timeout};
      break;
    }

    Outcome outcome = co_await route_and_serve(stream, buffer, parser, ctx, *routes, sni_name, rejection);
    if (rejection) break;
    if (outcome == Outcome::close || shared.draining.load(std::memory_order_relaxed)) co_return;
  }
  if (rejection) {
    counters.count_response(static_cast<unsigned>(rejection->status));
    std::string body(rejection->body);
    const bool not_allowed = rejection->status == http::status::method_not_allowed;
    co_await send_simple(stream, rejection->status, rejection->version, std::move(body), false, rejection->timeout,
                         {}, "text/plain; charset=utf-8", not_allowed ? allowed_methods : std::string_view());
  }
}

}  // namespace

Task<void> serve_tls_connection(Socket socket, tcp::endpoint peer_endpoint,
                                           const ListenerRuntime& listener, Worker& worker,
                                           base::ConnectionsPerIp::Lease /*lease: held for the connection's life*/) {
  auto& counters = worker.counters();
  GaugeGuard open(counters.open_connections);
  const auto peer = peer_address(peer_endpoint);
  domain::LimitsConfig limits;
  {
    const RouteTable& routes = worker.snapshots().routes.peek();
    limits = routes.limits();
    // A peer no endpoint on this listener admits gets no handshake.
    if (!admitted_at_accept(routes, listener, peer)) co_return;
  }

  TlsStream stream(std::move(socket), listener.ssl->native_handle());
  ConnectionTls conn_tls{peer, &worker.snapshots(), nullptr, {}};
  attach_connection(stream.native_handle(), &conn_tls);

  tcp_of(stream).expires_after(limits.handshake_timeout);
  auto [hec, hn] = co_await stream.async_handshake(task_tuple);
  if (hec) {
    WorkerCounterBlock::add(counters.handshake_failures);
    log::proxy()->debug("handshake failed peer={} error={}", peer.to_string(), hec.message());
    co_return;
  }
  WorkerCounterBlock::add(counters.handshakes);
  // The snapshot only had to live through the handshake: the SSL holds its own references.
  conn_tls.snapshot.reset();
  conn_tls.served = nullptr;

  const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
  std::string sni_name = sni ? base::normalize_hostname(sni) : std::string();
  const std::string peer_text = peer.to_string();
  RequestContext ctx{listener, worker, limits, nullptr, peer, true, peer_text};
  co_await request_loop(stream, ctx, sni_name);

  // Best-effort close_notify, bounded.
  tcp_of(stream).expires_after(close_notify_timeout);
  co_await stream.async_shutdown(task_tuple);
}

Task<void> serve_plain_connection(Socket socket, tcp::endpoint peer_endpoint,
                                             const ListenerRuntime& listener, Worker& worker,
                                           base::ConnectionsPerIp::Lease /*lease: held for the connection's life*/) {
  GaugeGuard open(worker.counters().open_connections);
  error_code ec;
  const auto peer = peer_address(peer_endpoint);
  domain::LimitsConfig limits;
  {
    const RouteTable& routes = worker.snapshots().routes.peek();
    limits = routes.limits();
    // A peer no endpoint on this listener admits is not redirected, not answered a challenge.
    if (!admitted_at_accept(routes, listener, peer)) co_return;
  }
  PlainStream stream(std::move(socket));
  const std::string peer_text = peer.to_string();
  RequestContext ctx{listener, worker, limits, nullptr, peer, false, peer_text};
  co_await request_loop(stream, ctx, {});
  stream.socket().shutdown(Socket::shutdown_send, ec);
}

}  // namespace portcullis::proxy
