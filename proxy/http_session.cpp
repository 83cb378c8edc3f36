#include "proxy/http_session.hpp"

#include <algorithm>
#include <limits>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/hostname.hpp"
#include "base/logging.hpp"
#include "proxy/forward_headers.hpp"
#include "proxy/recycled.hpp"
#include "proxy/tls_stream.hpp"

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;
// How long a closing TLS connection waits to send its close_notify before the socket just closes.
constexpr std::chrono::milliseconds close_notify_timeout{500};

using RequestParser = http::request_parser<http::buffer_body>;
using ResponseParser = http::response_parser<http::buffer_body>;
using RequestSerializer = http::serializer<true, http::buffer_body>;
using ResponseSerializer = http::serializer<false, http::buffer_body>;
// A client connection's read buffer: one recycled 4 KiB block while a request is being read.
using ClientBuffer = beast::basic_flat_buffer<ReadBufferAllocator<char>>;
using RelayChunk = std::array<char, 16 * 1024>;
// Bytes asked of the socket per read while a head is incomplete.
constexpr std::size_t read_chunk = 4096;
// A response whose body is already received whole and is at most this long leaves with its head in
// one write; longer ones are relayed chunk by chunk.
constexpr std::size_t max_inline_body = 16 * 1024;


// Decrements a shared counter when the scope ends, whatever the path out.
class CounterGuard {
 public:
  explicit CounterGuard(std::atomic<std::size_t>& c) : c_(c) { c_.fetch_add(1, std::memory_order_relaxed); }
  ~CounterGuard() { c_.fetch_sub(1, std::memory_order_relaxed); }
  CounterGuard(const CounterGuard&) = delete;
  CounterGuard& operator=(const CounterGuard&) = delete;

 private:
  std::atomic<std::size_t>& c_;
};

// The layer that carries the deadline: the beast::tcp_stream of a plain or upstream connection,
// the TlsStream itself for a client TLS connection.
template <class Stream>
auto& tcp_of(Stream& s) {
  return beast::get_lowest_layer(s);
}

// A short response of our own (errors, redirects, challenge answers).
template <class Stream>
Task<error_code> send_simple(Stream& stream, http::status status, unsigned version,
                                        std::string body, bool keep_alive, domain::Millis timeout,
                                        std::string_view location = {},
                                        std::string_view content_type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "portcullis");
  res.set(http::field::content_type, content_type);
  if (!location.empty()) res.set(http::field::location, location);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  tcp_of(stream).expires_after(timeout);
  auto [ec, n] = co_await http::async_write(stream, res, task_tuple);
  co_return ec;
}

// Parses what `buffer` holds into `parser`: true once the head is complete, false with no error
// while more bytes are needed. Beast's parser takes a head only once it is whole, so its bytes stay
// in `buffer` until then; header_limit bounds how far that grows.
template <class Buffer, bool isRequest>
bool parse_head(Buffer& buffer, http::parser<isRequest, http::buffer_body>& parser, error_code& ec) {
  if (buffer.size() == 0) return false;
  buffer.consume(parser.put(buffer.data(), ec));
  if (parser.is_header_done()) {
    ec = {};
    return true;
  }
  if (ec == http::error::need_more) ec = {};
  return false;
}

// Reads until the head in `parser` is complete (what `buffer` holds is parsed first).
template <class Stream, class Buffer, bool isRequest>
Task<error_code> read_head(Stream& stream, Buffer& buffer, http::parser<isRequest, http::buffer_body>& parser) {
  for (;;) {
    error_code ec;
    if (parse_head(buffer, parser, ec)) co_return error_code{};
    if (ec) co_return ec;
    auto [rec, n] = co_await stream.async_read_some(buffer.prepare(read_chunk), task_tuple);
    if (rec == asio::error::eof) {
      // Before any byte the stream just ended; within a head the message is cut short.
      if (!parser.got_some()) co_return error_code(http::error::end_of_stream);
      error_code eof;
      parser.put_eof(eof);
      co_return eof ? eof : error_code(http::error::partial_message);
    }
    if (rec) co_return rec;
    buffer.commit(n);
  }
}

// Writes as much of `bytes` as the socket takes now, without the reactor; returns how many.
// A short count with no error means the rest has to go through an asynchronous write.
template <class Stream>
std::size_t write_now(Stream& stream, std::string_view bytes, error_code& ec) {
  std::size_t done = 0;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    while (done < bytes.size()) {
      TlsStep step = stream.try_write(asio::buffer(bytes.data() + done, bytes.size() - done));
      if (step.kind != TlsStep::done) break;
      if (step.ec) {
        ec = step.ec;
        break;
      }
      done += step.bytes;
    }
  } else {
    auto& socket = beast::get_lowest_layer(stream).socket();
    if (!socket.non_blocking()) return 0;  // a blocking write_some would stall the worker
    while (done < bytes.size()) {
      std::size_t n = socket.write_some(asio::buffer(bytes.data() + done, bytes.size() - done), ec);
      if (ec) {
        if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
        break;
      }
      done += n;
    }
  }
  return done;
}

// The rest of `bytes` from `done` on, through the reactor (after write_now came up short).
template <class Stream>
Task<error_code> write_rest(Stream& stream, std::string_view bytes, std::size_t done, domain::Millis timeout) {
  tcp_of(stream).expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes.data() + done, bytes.size() - done), task_tuple);
  co_return ec;
}

// Relays a message body from `in` (parser already past the header) to `out` (serializer whose
// header is already written). Returns the first error; `read_failed` tells which side broke.
template <bool isRequest, class In, class Buffer, class Out>
Task<error_code> relay_body(In& in, Buffer& in_buffer,
                                       http::parser<isRequest, http::buffer_body>& parser, Out& out,
                                       http::serializer<isRequest, http::buffer_body>& sr,
                                       domain::Millis read_timeout, domain::Millis write_timeout, bool& read_failed) {
  // The slice a body is relayed through: recycled, held only while a body is in flight.
  auto slice = make_recycled<RelayChunk>();
  auto& chunk = *slice;
  read_failed = false;
  do {
    auto& body = parser.get().body();
    if (!parser.is_done()) {
      body.data = chunk.data();
      body.size = chunk.size();
      tcp_of(in).expires_after(read_timeout);
      auto [ec, n] = co_await http::async_read(in, in_buffer, parser, task_tuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        read_failed = true;
        co_return ec;
      }
      body.size = chunk.size() - body.size;
      body.data = chunk.data();
      body.more = !parser.is_done();
    } else {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    }
    tcp_of(out).expires_after(write_timeout);
    auto [ec, n] = co_await http::async_write(out, sr, task_tuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
  } while (!parser.is_done() || !sr.is_done());
  co_return error_code{};
}

// Copies raw bytes one way until EOF or error (an upgraded connection's tunnel).
template <class In, class Out>
Task<void> pump(In& in, Out& out, domain::Millis idle) {
  auto slice = make_recycled<RelayChunk>();
  auto& chunk = *slice;
  for (;;) {
    tcp_of(in).expires_after(idle);
    auto [ec, n] = co_await in.async_read_some(asio::buffer(chunk), task_tuple);
    if (ec || n == 0) co_return;
    tcp_of(out).expires_after(idle);
    auto [wec, wn] = co_await asio::async_write(out, asio::buffer(chunk.data(), n), task_tuple);
    if (wec) co_return;
  }
}

Task<std::unique_ptr<UpstreamConnection>> connect_upstream(Worker& worker,
                                                                       const domain::HostPort& target,
                                                                       domain::Millis timeout) {
  auto conn = std::make_unique<UpstreamConnection>(worker.io().get_executor());
  error_code ec;
  auto address = asio::ip::make_address(target.host, ec);
  conn->stream.expires_after(timeout);
  if (!ec) {
    auto [cec] = co_await conn->stream.async_connect(tcp::endpoint(address, target.port), task_tuple);
    if (cec) co_return nullptr;
  } else {
    Resolver resolver(worker.io().get_executor());
    auto [rec, results] = co_await resolver.async_resolve(target.host, std::to_string(target.port), task_tuple);
    if (rec) co_return nullptr;
    auto [cec, ep] = co_await conn->stream.async_connect(results, task_tuple);
    if (cec) co_return nullptr;
  }
  conn->stream.socket().set_option(tcp::no_delay(true), ec);
  conn->stream.socket().non_blocking(true, ec);  // write_now tries a write before the reactor
  co_return conn;
}

struct RequestContext {
  const ListenerRuntime& listener;
  Worker& worker;
  const domain::LimitsConfig& limits;
  asio::ip::address peer;
  bool tls = false;
  std::string_view peer_text;  // the peer's address as X-Forwarded-For gives it
};

enum class Outcome { keep_alive, close };

// One request: routed, forwarded, response relayed. The header is already read into `parser`.
template <class Stream>
Task<Outcome> proxy_request(Stream& client, ClientBuffer& client_buffer,
                                       RequestParser& parser, const Endpoint& endpoint,
                                       const RequestContext& ctx) {
  auto& req = parser.get();
  const auto& limits = ctx.limits;
  const unsigned version = req.version();
  const bool client_keep_alive = req.keep_alive();
  const bool is_head = req.method() == http::verb::head;
  const bool upgrade = req.find(http::field::upgrade) != req.end() &&
                       has_token(req[http::field::connection], "upgrade");
  const bool chunked_in = req.chunked();

  if (endpoint.upstreams.empty()) {
    co_await send_simple(client, http::status::bad_gateway, version, "no upstream configured\n", false, limits.idle_timeout);
    co_return Outcome::close;
  }

  if (has_token(req[http::field::expect], "100-continue") && !parser.is_done()) {
    http::response<http::empty_body> cont{http::status::continue_, version};
    tcp_of(client).expires_after(limits.idle_timeout);
    auto [ec, n] = co_await http::async_write(client, cont, task_tuple);
    if (ec) co_return Outcome::close;
  }

  prepare_forward_request(req, ctx.peer_text, ctx.peer.is_v6(), ctx.tls, upgrade, chunked_in);

  // A request with no body and an idempotent method (RFC 9110 §9.2.2) can be sent again when a
  // pooled connection turns out to be closed: the upstream ended it before answering a byte.
  const auto method = req.method();
  const bool bodiless = parser.is_done() && !chunked_in;
  const bool replayable = bodiless && !upgrade &&
                          (method == http::verb::get || method == http::verb::head ||
                           method == http::verb::options || method == http::verb::trace ||
                           method == http::verb::put || method == http::verb::delete_);

  // Pick an upstream: round robin, a pooled connection when one is idle, else a new one; on a
  // connect failure the next upstream is tried, each once.
  auto& pool = ctx.worker.pool();
  const std::size_t count = endpoint.upstreams.size();
  const std::size_t first = pool.next_index(endpoint.id, count);
  std::unique_ptr<UpstreamConnection> upstream;
  const std::string* upstream_key = nullptr;
  std::size_t upstream_index = 0;
  bool reused = false;
  for (std::size_t i = 0; i < count && !upstream; ++i) {
    upstream_index = (first + i) % count;
    const auto& target = endpoint.upstreams[upstream_index];
    upstream_key = &endpoint.upstream_keys[upstream_index];
    upstream = pool.take(*upstream_key, !replayable);
    reused = upstream != nullptr;
    if (!upstream) upstream = co_await connect_upstream(ctx.worker, target, limits.upstream_connect_timeout);
  }
  if (!upstream) {
    if (auto dropped = ctx.worker.log_limits().upstream_unavailable.admit(TlsStream::coarse_now())) {
      log::proxy()->warn("upstream unavailable endpoint={} tried={}{}", endpoint.id, count,
                         base::suppressed_suffix(*dropped));
    }
    co_await send_simple(client, http::status::bad_gateway, version, "upstream unavailable\n", false, limits.idle_timeout);
    co_return Outcome::close;
  }

  auto reconnect = [&]() {
    return connect_upstream(ctx.worker, endpoint.upstreams[upstream_index], limits.upstream_connect_timeout);
  };

  Recycled<ResponseParser> res_parser;
  for (;;) {
    // Header to the upstream. A pooled connection the upstream closed meanwhile may fail here,
    // before any body byte was consumed, so one retry on a fresh connection is safe. A request
    // with no body leaves as one serialised head in one write; one with a body goes through
    // Beast's serializer, which frames the body as it is relayed.
    Recycled<RequestSerializer> req_sr;
    error_code hec;
    for (;;) {
      if (bodiless) {
        ScratchString head;
        append_request_head(*head, req);
        std::size_t done = write_now(upstream->stream, *head, hec);
        if (!hec && done < head->size()) hec = co_await write_rest(upstream->stream, *head, done, limits.upstream_timeout);
      } else {
        req_sr = make_recycled<RequestSerializer>(req);
        upstream->stream.expires_after(limits.upstream_timeout);
        std::tie(hec, std::ignore) = co_await http::async_write_header(upstream->stream, *req_sr, task_tuple);
      }
      if (!hec || !reused) break;
      reused = false;
      upstream = co_await reconnect();
      if (!upstream) {
        hec = asio::error::connection_refused;
        break;
      }
    }
    if (hec) {
      co_await send_simple(client, http::status::bad_gateway, version, "upstream unavailable\n", false, limits.idle_timeout);
      co_return Outcome::close;
    }

    // Request body, streamed.
    if (!bodiless) {
      bool read_failed = false;
      auto ec = co_await relay_body(client, client_buffer, parser, upstream->stream, *req_sr,
                                    limits.idle_timeout, limits.upstream_timeout, read_failed);
      if (ec) {
        if (read_failed) {
          // The client's body was malformed or stalled: the upstream saw a partial request.
          if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension ||
              ec == http::error::body_limit) {
            co_await send_simple(client, http::status::bad_request, version, "malformed request body\n", false, limits.idle_timeout);
          }
          co_return Outcome::close;
        }
        co_await send_simple(client, http::status::bad_gateway, version, "upstream failed while receiving the request\n", false, limits.idle_timeout);
        co_return Outcome::close;
      }
    }

    // Response header; 1xx interim responses (except 101) are passed on and the next one read.
    bool interim_sent = false;
    error_code rec;
    for (;;) {
      res_parser.reset();
      res_parser = make_recycled<ResponseParser>();
      res_parser->body_limit(boost::none);
      res_parser->header_limit(64 * 1024);
      if (is_head) res_parser->skip(true);
      upstream->stream.expires_after(limits.upstream_timeout);
      rec = co_await read_head(upstream->stream, upstream->buffer, *res_parser);
      if (rec) break;
      auto status = res_parser->get().result_int();
      if (status >= 100 && status < 200 && status != 101) {
        http::response<http::empty_body> interim{res_parser->get().result(), version};
        for (const auto& f : res_parser->get()) interim.insert(f.name_string(), f.value());
        tcp_of(client).expires_after(limits.idle_timeout);
        auto [wec, wn] = co_await http::async_write(client, interim, task_tuple);
        if (wec) co_return Outcome::close;
        interim_sent = true;
        continue;
      }
      break;
    }
    if (!rec) break;
    const bool closed_unanswered = rec == http::error::end_of_stream || rec == asio::error::eof ||
                                   rec == asio::error::connection_reset || rec == asio::error::broken_pipe;
    if (reused && replayable && !interim_sent && closed_unanswered && upstream->buffer.size() == 0) {
      log::proxy()->debug("pooled upstream connection was closed, retrying endpoint={} upstream={}", endpoint.id, *upstream_key);
      reused = false;
      upstream = co_await reconnect();
      if (upstream) continue;
      co_await send_simple(client, http::status::bad_gateway, version, "upstream unavailable\n", false, limits.idle_timeout);
      co_return Outcome::close;
    }
    if (rec == beast::error::timeout) {
      if (auto dropped = ctx.worker.log_limits().upstream_timeout.admit(TlsStream::coarse_now())) {
        log::proxy()->warn("upstream timeout endpoint={} upstream={}{}", endpoint.id, *upstream_key,
                           base::suppressed_suffix(*dropped));
      }
      co_await send_simple(client, http::status::gateway_timeout, version, "upstream timed out\n", false, limits.idle_timeout);
    } else {
      co_await send_simple(client, http::status::bad_gateway, version, "upstream sent no valid response\n", false, limits.idle_timeout);
    }
    co_return Outcome::close;
  }

  auto& res = res_parser->get();
  const bool upstream_keep_alive = res.keep_alive();
  const bool switching = upgrade && res.result() == http::status::switching_protocols;
  const bool chunked_out = res.chunked();
  const bool has_length = res.has_content_length();
  strip_hop_by_hop(res, switching);
  bool keep_alive = client_keep_alive && !ctx.worker.shared().draining.load(std::memory_order_relaxed);
  if (switching) {
    res.set(http::field::connection, "upgrade");
  } else {
    // Re-frame the body for this client: chunked for HTTP/1.1 when the length is unknown,
    // close-delimited for HTTP/1.0.
    bool body_expected = !is_head && !has_length && res.result_int() != 204 && res.result_int() != 304;
    if (body_expected && (chunked_out || !res_parser->is_done())) {
      if (version >= 11) {
        res.chunked(true);
      } else {
        keep_alive = false;
      }
    }
    res.keep_alive(keep_alive);
  }
  res.version(version);

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
      if (upstream_keep_alive) pool.give_back(*upstream_key, std::move(upstream));
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

  if (upstream_keep_alive && res_parser->is_done()) pool.give_back(*upstream_key, std::move(upstream));
  co_return keep_alive ? Outcome::keep_alive : Outcome::close;
}

// The client's address, an IPv4-mapped IPv6 peer as IPv4 (allowlists and X-Forwarded-For speak
// IPv4 for it).
asio::ip::address peer_address(const tcp::endpoint& endpoint) {
  auto peer = endpoint.address();
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, peer.to_v6());
  return peer;
}

// A plain-HTTP request: the ACME HTTP-01 answer (RFC 8555 §8.3) for a challenge path, a redirect
// to https for everything else.
template <class Stream>
Task<Outcome> answer_plain(Stream& stream, const RequestParser& parser, const std::string& host,
                                      const RequestContext& ctx) {
  const auto& req = parser.get();
  const unsigned version = req.version();
  constexpr std::string_view prefix = "/.well-known/acme-challenge/";
  std::string_view target = req.target();
  const bool keep = req.keep_alive() && parser.is_done();
  error_code ec;
  if (target.starts_with(prefix)) {
    auto board = ctx.worker.shared().challenges.current();
    std::string_view token = target.substr(prefix.size());
    if (auto q = token.find('?'); q != std::string_view::npos) token = token.substr(0, q);
    if (const std::string* answer = board->http01_answer(token)) {
      log::proxy()->info("acme http-01 served token={} host={}", token, host);
      ec = co_await send_simple(stream, http::status::ok, version, *answer, keep, ctx.limits.idle_timeout, {},
                                "application/octet-stream");
    } else {
      ec = co_await send_simple(stream, http::status::not_found, version, "no such challenge\n", keep, ctx.limits.idle_timeout);
    }
  } else {
    std::string location = "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host);
    if (ctx.listener.redirect_port != 443) location += ":" + std::to_string(ctx.listener.redirect_port);
    location += target.empty() || target.front() != '/' ? std::string("/") : std::string(target);
    ec = co_await send_simple(stream, http::status::permanent_redirect, version, "", keep, ctx.limits.idle_timeout, location);
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

// The request loop shared by TLS and (for challenges/redirects) plain connections. Rejections
// leave through one send after the loop: every co_await site costs frame space for as long as the
// connection lives, idle or not.
template <class Stream>
Task<void> request_loop(Stream& stream, const RequestContext& base, std::string_view sni_name) {
  ClientBuffer buffer;
  auto& shared = base.worker.shared();
  bool first = true;
  std::optional<Rejection> rejection;
  std::string reason;  // a framing problem's text, kept for the rejection's body
  for (;;) {
    auto routes = shared.routes.current();
    RequestContext ctx{base.listener, base.worker, routes->limits(), base.peer, base.tls, base.peer_text};
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
    CounterGuard active(shared.active_requests);
    shared.requests_total.fetch_add(1, std::memory_order_relaxed);
    auto& req = parser.get();
    const unsigned version = req.version();

    if (auto problem = framing_problem(req)) {
      if (auto dropped = base.worker.log_limits().rejected_request.admit(TlsStream::coarse_now())) {
        log::proxy()->info("rejected request peer={} reason=\"{}\"{}", base.peer_text, *problem,
                           portcullis::base::suppressed_suffix(*dropped));
      }
      reason = std::string(*problem) + "\n";
      rejection = Rejection{http::status::bad_request, version, reason, limits.idle_timeout};
      break;
    }
    auto hosts = req.count(http::field::host);
    std::string host = hosts == 1 ? normalize_authority(req[http::field::host]) : std::string();
    if (host.empty() && (version >= 11 || hosts > 0)) {
      rejection = Rejection{http::status::bad_request, version, "missing or invalid Host\n", limits.idle_timeout};
      break;
    }

    Outcome outcome = Outcome::close;
    if (!ctx.tls) {
      outcome = co_await answer_plain(stream, parser, host, ctx);
    } else {
      const Endpoint* endpoint = routes->find(host, base.listener.config.scope);
      const Endpoint* sni_endpoint = sni_name.empty() ? nullptr : routes->find(sni_name, base.listener.config.scope);
      if (endpoint == nullptr) {
        rejection = Rejection{http::status::not_found, version, "unknown host\n", limits.idle_timeout};
        break;
      }
      if (!sni_name.empty() && sni_endpoint != endpoint) {
        // RFC 9110 §15.5.20: this connection's certificate was chosen for another endpoint.
        rejection = Rejection{http::status::misdirected_request, version, "misdirected request\n", limits.idle_timeout};
        break;
      }
      if (!endpoint->allowlist.allows(ctx.peer)) {
        rejection = Rejection{http::status::forbidden, version, "forbidden\n", limits.idle_timeout};
        break;
      }
      outcome = co_await proxy_request(stream, buffer, parser, *endpoint, ctx);
    }
    if (outcome == Outcome::close || shared.draining.load(std::memory_order_relaxed)) co_return;
  }
  if (rejection) {
    co_await send_simple(stream, rejection->status, rejection->version, std::string(rejection->body), false,
                         rejection->timeout);
  }
}

}  // namespace

Task<void> serve_tls_connection(Socket socket, tcp::endpoint peer_endpoint,
                                           const ListenerRuntime& listener, Worker& worker) {
  auto& shared = worker.shared();
  CounterGuard open(shared.connections);
  const auto peer = peer_address(peer_endpoint);
  auto routes = shared.routes.current();
  const auto limits = routes->limits();
  // Allowlists at accept time: a peer no endpoint on this listener admits gets no handshake.
  if (!routes->any_admits(listener.config.scope, peer)) co_return;
  routes.reset();

  TlsStream stream(std::move(socket), listener.ssl->native_handle());
  ConnectionTls conn_tls{peer, nullptr, nullptr};
  attach_connection(stream.native_handle(), &conn_tls);

  tcp_of(stream).expires_after(limits.handshake_timeout);
  auto [hec, hn] = co_await stream.async_handshake(task_tuple);
  if (hec) {
    log::proxy()->debug("handshake failed peer={} error={}", peer.to_string(), hec.message());
    co_return;
  }
  shared.handshakes_total.fetch_add(1, std::memory_order_relaxed);
  // The snapshot only had to live through the handshake: the SSL holds its own references.
  conn_tls.snapshot.reset();
  conn_tls.served = nullptr;

  const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
  std::string sni_name = sni ? base::normalize_hostname(sni) : std::string();
  const std::string peer_text = peer.to_string();
  RequestContext ctx{listener, worker, limits, peer, true, peer_text};
  co_await request_loop(stream, ctx, sni_name);

  // Best-effort close_notify, bounded.
  tcp_of(stream).expires_after(close_notify_timeout);
  co_await stream.async_shutdown(task_tuple);
}

Task<void> serve_plain_connection(Socket socket, tcp::endpoint peer_endpoint,
                                             const ListenerRuntime& listener, Worker& worker) {
  auto& shared = worker.shared();
  CounterGuard open(shared.connections);
  error_code ec;
  const auto peer = peer_address(peer_endpoint);
  PlainStream stream(std::move(socket));
  auto limits = shared.routes.current()->limits();
  const std::string peer_text = peer.to_string();
  RequestContext ctx{listener, worker, limits, peer, false, peer_text};
  co_await request_loop(stream, ctx, {});
  stream.socket().shutdown(Socket::shutdown_send, ec);
}

}  // namespace portcullis::proxy
