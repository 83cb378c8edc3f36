#include "admin/admin_server.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "base/accept_errors.hpp"
#include "base/logging.hpp"
#include "admin/token.hpp"

namespace portcullis::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// After an answer to a request that is not read whole (413, 400), what the client still sends is
// read and dropped, up to this much for this long, before the close: closing with unread bytes
// resets the connection, and a client could lose the answer before it reads it.
constexpr std::chrono::seconds linger_deadline{2};
constexpr std::size_t linger_bytes = 4 * 1024 * 1024;
// The TLS handshake must finish within this.
constexpr std::chrono::seconds tls_handshake_deadline{10};

// Ends the sending side with a FIN. Over TLS without close_notify: every answer is delimited by
// its Content-Length, and a bidirectional TLS shutdown would wait on a client still sending.
template <class Stream>
void close_send(Stream& stream) {
  boost::system::error_code ec;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
}

Response problem(const Request& req, http::status status, std::string detail) {
  return problem_response({status, "about:blank", "", std::move(detail), {}}, req.version(), req.keep_alive());
}

// The path (percent-decoded) and query of an origin-form target, or nothing when it is not one.
struct Target {
  std::string path;
  std::map<std::string, std::string, std::less<>> query;
};
std::optional<Target> parse_target(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  Target out;
  out.path = std::string(url->path());
  for (auto param : url->params()) out.query.emplace(std::string(param.key), std::string(param.value));
  return out;
}

}  // namespace

AdminServer::AdminServer(asio::io_context& control, AdminServerOptions options, const Router& router)
    : control_(control),
      options_(std::move(options)),
      router_(router),
      acceptor_(control),
      tls_(options_.tls ? std::make_unique<asio::ssl::context>(options_.tls.release()) : nullptr),
      hosts_(options_.allowed_hosts, options_.listen.host, options_.listen.port, tls_ != nullptr),
      tasks_(control.get_executor(), log::admin()) {}

AdminServer::~AdminServer() = default;

Status AdminServer::listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.listen.host, ec);
  if (ec) return fail(Errc::config, "admin.listen: " + options_.listen.to_string() + ": " + ec.message());
  tcp::endpoint endpoint(address, options_.listen.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::network, "admin.listen " + options_.listen.to_string() + ": " + ec.message());
  hosts_ = HostCheck(options_.allowed_hosts, options_.listen.host, port(), tls_ != nullptr);
  return {};
}

std::uint16_t AdminServer::port() const {
  boost::system::error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void AdminServer::start() { tasks_.spawn("admin accept", accept_loop()); }

asio::awaitable<void> AdminServer::shutdown() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  tasks_.stop();
  co_await tasks_.wait();
}

asio::awaitable<void> AdminServer::accept_loop() {
  asio::steady_timer pause(control_);
  for (;;) {
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor_.async_accept(peer, use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      const bool exhausted = base::is_resource_exhaustion(ec);
      if (auto dropped = accept_log_.admit(std::chrono::steady_clock::now())) {
        log::admin()->warn("accept failed error=\"{}\"{}{}", ec.message(),
                           exhausted ? " paused_ms=" + std::to_string(base::accept_pause.count()) : std::string(),
                           base::suppressed_suffix(*dropped));
      }
      if (exhausted) {
        // Out of descriptors: accepting at once would spin the control thread.
        pause.expires_after(base::accept_pause);
        co_await pause.async_wait(use_tuple);
      }
      continue;
    }
    const char* reason = nullptr;
    base::ConnectionsPerIp::Lease lease;
    if (connections_ >= options_.max_connections) {
      reason = "max_connections";
    } else {
      lease = per_ip_.try_acquire(peer.address(), options_.max_connections_per_ip);
      if (!lease.held() && options_.max_connections_per_ip != 0) reason = "max_connections_per_ip";
    }
    if (reason != nullptr) {
      if (auto dropped = refused_log_.admit(std::chrono::steady_clock::now())) {
        log::admin()->warn("connection refused peer={} reason={}{}", peer.address().to_string(), reason,
                           base::suppressed_suffix(*dropped));
      }
      continue;  // the socket closes as it goes out of scope
    }
    tasks_.spawn("admin session", session(std::move(socket), std::move(lease)));
  }
}

namespace {

// Writes `res` (which closes the connection), then reads and drops what the client still sends,
// bounded in bytes and time, before the close: closing with unread bytes resets the connection,
// and the client could lose the answer before it reads it.
template <class Stream>
asio::awaitable<void> answer_and_close(Stream& stream, Response& res, std::chrono::seconds timeout) {
  beast::get_lowest_layer(stream).expires_after(timeout);
  auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
  if (wec) co_return;
  close_send(stream);
  beast::get_lowest_layer(stream).expires_after(linger_deadline);
  std::array<char, 4096> scratch;
  for (std::size_t dropped = 0; dropped < linger_bytes;) {
    auto [rec, rn] = co_await stream.async_read_some(asio::buffer(scratch), use_tuple);
    if (rec) break;
    dropped += rn;
  }
}

}  // namespace

asio::awaitable<void> AdminServer::session(tcp::socket socket, base::ConnectionsPerIp::Lease /*held till the end*/) {
  ++connections_;
  struct Count {
    std::size_t& n;
    ~Count() { --n; }
  } count{connections_};
  if (!tls_) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
  beast::get_lowest_layer(stream).expires_after(tls_handshake_deadline);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (ec) {
    log::admin()->debug("TLS handshake failed error=\"{}\"", ec.message());
    co_return;
  }
  co_await serve(stream);
}

template <class Stream>
asio::awaitable<void> AdminServer::serve(Stream& stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    // No body limit on the head: Beast would answer a Content-Length past it (413) before the
    // token is checked. The limit is set, and the length checked, once the token admits it.
    parser.body_limit(boost::none);
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    beast::get_lowest_layer(stream).expires_after(options_.request_timeout);
    // The head first: a request the token does not admit is answered before its body is read.
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!ec) {
      if (auto refused = refuse_head(parser.get())) {
        refused->keep_alive(false);
        co_await answer_and_close(stream, *refused, options_.request_timeout);
        co_return;
      }
      parser.body_limit(options_.max_body_bytes);  // chunks are counted against it as they come
      if (parser.content_length().value_or(0) > options_.max_body_bytes) {
        ec = http::error::body_limit;
      } else {
        auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        ec = body_ec;
      }
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted || ec == beast::error::timeout ||
        ec == asio::ssl::error::stream_truncated) {
      co_return;
    }
    if (ec) {
      // Past the limit, or not HTTP: answered once, then the connection closes (its rest is unread).
      Request head;
      if (parser.is_header_done()) head.base() = parser.get().base();
      head.keep_alive(false);
      Response res = ec == http::error::body_limit
                         ? problem(head, http::status::payload_too_large,
                                   fmt::format("the body is larger than {} bytes", options_.max_body_bytes))
                         : problem(head, http::status::bad_request, "not an HTTP/1.1 request: " + ec.message());
      co_await answer_and_close(stream, res, options_.request_timeout);
      co_return;
    }
    Request req = parser.release();
    const auto started = std::chrono::steady_clock::now();
    Response res = co_await handle(req);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    // The target's path only: a query could carry anything, the headers carry the token.
    log::admin()->info("request method={} path={} status={} elapsed_ms={}", std::string(req.method_string()),
                       std::string(req.target().substr(0, req.target().find('?'))), res.result_int(), ms);
    beast::get_lowest_layer(stream).expires_after(options_.request_timeout);
    boost::system::error_code wec;
    if (req.method() == http::verb::head) {
      // RFC 9110 §9.3.2: the GET's header fields (Content-Length included), no content.
      http::response<http::empty_body> head{res.base()};
      auto [ec_head, n_head] = co_await http::async_write(stream, head, use_tuple);
      wec = ec_head;
    } else {
      auto [ec_full, n_full] = co_await http::async_write(stream, res, use_tuple);
      wec = ec_full;
    }
    if (wec || !res.keep_alive()) {
      close_send(stream);
      co_return;
    }
  }
}

std::optional<Response> AdminServer::refuse_head(const Request& req) {
  // Before anything else, so a page on another name (DNS rebinding) learns nothing, not even
  // whether a route exists. RFC 9110 §15.5.20: 421, this server does not answer for that name.
  if (!hosts_.allows(req[http::field::host])) {
    if (auto dropped = host_refusals_.admit(std::chrono::steady_clock::now())) {
      log::admin()->warn("request refused: Host not in admin.allowed_hosts host={}{}",
                         std::string(req[http::field::host]), base::suppressed_suffix(*dropped));
    }
    return problem(req, http::status::misdirected_request,
                   "the Host header names no host this admin listener answers for; add it to "
                   "[admin] allowed_hosts if it is yours");
  }
  auto target = parse_target(req.target());
  if (!target) return problem(req, http::status::bad_request, "the request target is not a path and a query");
  // HEAD is GET without the content (RFC 9110 §9.3.2).
  const auto method = req.method() == http::verb::head ? http::verb::get : req.method();
  auto match = router_.match(method, target->path);
  const bool open = match.route && !match.route->needs_token;
  if (open || bearer_matches(req[http::field::authorization], options_.token)) return std::nullopt;
  Response res = problem(req, http::status::unauthorized,
                         req[http::field::authorization].empty()
                             ? "this route needs Authorization: Bearer <token> (the token file is in the data "
                               "folder unless [admin] sets one)"
                             : "the bearer token is not the admin token");
  // RFC 6750 §3: the scheme, and the error when a token was given.
  res.set(http::field::www_authenticate, req[http::field::authorization].empty()
                                             ? "Bearer realm=\"portcullis\""
                                             : "Bearer realm=\"portcullis\", error=\"invalid_token\"");
  return res;
}

asio::awaitable<Response> AdminServer::handle(const Request& req) {
  if (auto refused = refuse_head(req)) co_return std::move(*refused);
  auto target = parse_target(req.target());
  const auto method = req.method() == http::verb::head ? http::verb::get : req.method();
  auto match = router_.match(method, target->path);
  if (!match.route) {
    if (match.allowed.empty()) {
      co_return problem(req, http::status::not_found, fmt::format("no route {}", target->path));
    }
    Response res = problem(req, http::status::method_not_allowed,
                           fmt::format("{} has no {}; it has {}", target->path, std::string(req.method_string()),
                                       allow_header(match.allowed)));
    res.set(http::field::allow, allow_header(match.allowed));
    co_return res;
  }
  match.params.query = std::move(target->query);
  try {
    auto call = match.route->handler(req, match.params);
    co_return co_await std::move(call);
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::operation_aborted) throw;  // the drain: the session ends
    log::admin()->error("request failed method={} path={} error=\"{}\"", std::string(req.method_string()),
                        target->path, e.what());
  } catch (const std::exception& e) {
    log::admin()->error("request failed method={} path={} error=\"{}\"", std::string(req.method_string()),
                        target->path, e.what());
  }
  co_return problem(req, http::status::internal_server_error, "the request failed; the log says why");
}

}  // namespace portcullis::admin
