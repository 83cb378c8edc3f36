#include "acme/http_client.hpp"

#include <optional>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "base/logging.hpp"

namespace portcullis::acme {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string describe(const boost::system::error_code& ec) {
  // TLS errors carry OpenSSL's reason ("certificate verify failed"); say so plainly.
  return ec.message();
}

tl::unexpected<Error> io_error(std::string_view step, std::string_view peer, const boost::system::error_code& ec,
                               std::chrono::milliseconds deadline) {
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted)
    return fail(Errc::timeout, fmt::format("{} {}: deadline of {} ms expired", step, peer, deadline.count()));
  return fail(Errc::network, fmt::format("{} {}: {}", step, peer, describe(ec)));
}

// A request of a stopped task (Asio per-operation cancellation, e.g. at shutdown) ends with its
// pending step aborted: that is a stop, not a deadline or a network failure.
tl::unexpected<Error> stopped(std::string_view step, std::string_view peer) {
  return fail(Errc::cancelled, fmt::format("{} {}: stopped", step, peer));
}

bool is_cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

bool is_stale_connection_error(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

}  // namespace

struct HttpClient::Connection {
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  std::optional<beast::tcp_stream> plain;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point last_used{};

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

std::string HttpResponse::header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : std::string(it->value());
}

std::vector<std::string> HttpResponse::header_values(std::string_view name) const {
  std::vector<std::string> out;
  auto [first, last] = headers.equal_range(name);
  for (auto it = first; it != last; ++it) out.emplace_back(it->value());
  return out;
}

HttpClient::HttpClient(asio::any_io_executor executor, HttpClientOptions options)
    : executor_(std::move(executor)), options_(std::move(options)), tls_(ssl::context::tls_client) {}

HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(asio::any_io_executor executor, HttpClientOptions options) {
  std::unique_ptr<HttpClient> client(new HttpClient(std::move(executor), std::move(options)));
  boost::system::error_code ec;
  SSL_CTX_set_min_proto_version(client->tls_.native_handle(), TLS1_2_VERSION);
  client->tls_.set_verify_mode(ssl::verify_peer, ec);
  if (client->options_.ca_bundle.empty()) {
    client->tls_.set_default_verify_paths(ec);
    if (ec) return fail(Errc::config, fmt::format("system trust store: {}", ec.message()));
  } else {
    client->tls_.load_verify_file(client->options_.ca_bundle.string(), ec);
    if (ec)
      return fail(Errc::config, fmt::format("ca_bundle {}: cannot load: {}", client->options_.ca_bundle.string(),
                                            ec.message()));
  }
  return client;
}

void HttpClient::close_idle() { idle_.clear(); }

asio::awaitable<Result<std::unique_ptr<HttpClient::Connection>>> HttpClient::connect(const std::string& scheme,
                                                                                    const std::string& host,
                                                                                    const std::string& port) {
  const auto deadline = options_.timeouts.connect;
  const std::string peer = fmt::format("{}:{}", host, port);
  auto conn = std::make_unique<Connection>();

  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  const bool ip_literal = !ec;
  std::vector<tcp::endpoint> endpoints;
  if (ip_literal) {
    endpoints.emplace_back(address, static_cast<unsigned short>(std::stoi(port)));
  } else {
    tcp::resolver resolver(executor_);
    asio::steady_timer timer(executor_, deadline);
    auto outcome = co_await (resolver.async_resolve(host, port, use_tuple) || timer.async_wait(use_tuple));
    if (outcome.index() == 1) co_return io_error("resolve", peer, asio::error::operation_aborted, deadline);
    auto [rec, results] = std::get<0>(std::move(outcome));
    if (rec) co_return io_error("resolve", peer, rec, deadline);
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }

  if (scheme == "https") {
    conn->tls.emplace(executor_, tls_);
  } else {
    conn->plain.emplace(executor_);
  }
  auto& tcp_stream = conn->tcp();
  tcp_stream.expires_after(deadline);
  auto [cec, connected] = co_await tcp_stream.async_connect(endpoints, use_tuple);
  if (cec) co_return io_error("connect", peer, cec, deadline);
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);

  if (conn->tls) {
    SSL* ssl_handle = conn->tls->native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    if (ip_literal) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());  // RFC 6066 §3: no SNI for an IP literal
    } else {
      SSL_set_tlsext_host_name(ssl_handle, host.c_str());
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
    auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
      long verify = SSL_get_verify_result(ssl_handle);
      if (verify != X509_V_OK)
        co_return fail(Errc::network, fmt::format("TLS handshake with {}: certificate verify failed: {}", peer,
                                                  X509_verify_cert_error_string(verify)));
      co_return io_error("TLS handshake with", peer, hec, deadline);
    }
  }
  co_return conn;
}

asio::awaitable<Result<HttpResponse>> HttpClient::request(HttpRequest request) {
  auto parsed = boost::urls::parse_uri(request.url);
  if (!parsed) co_return fail(Errc::invalid_input, fmt::format("invalid URL \"{}\": {}", request.url, parsed.error().message()));
  const std::string scheme(parsed->scheme());
  if (scheme != "https" && scheme != "http")
    co_return fail(Errc::invalid_input, fmt::format("invalid URL \"{}\": expected https", request.url));
  const std::string host(parsed->host_address());
  // port_number() is 0 for an empty or out-of-range port; connect() needs a valid one.
  if (parsed->has_port() && parsed->port_number() == 0)
    co_return fail(Errc::invalid_input, fmt::format("invalid URL \"{}\": expected a port from 1 to 65535", request.url));
  const std::string port = parsed->has_port() ? std::to_string(parsed->port_number()) : (scheme == "https" ? "443" : "80");
  std::string target(parsed->encoded_target());
  if (target.empty()) target = "/";
  const std::string origin = fmt::format("{}://{}:{}", scheme, host, port);
  std::string host_header(parsed->encoded_host_and_port());

  http::request<http::string_body> req{request.method, target, 11};
  req.set(http::field::host, host_header);
  req.set(http::field::user_agent, options_.user_agent);
  if (!request.accept.empty()) req.set(http::field::accept, request.accept);
  if (!request.content_type.empty()) req.set(http::field::content_type, request.content_type);
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.body() = std::move(request.body);
  req.keep_alive(true);
  req.prepare_payload();

  const auto deadline = options_.timeouts.request;
  // One retry, only when a reused keep-alive connection turns out to be closed by the peer.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> conn;
    bool reused = false;
    auto& pool = idle_[origin];  // used before the first co_await only
    const auto now = std::chrono::steady_clock::now();
    while (!pool.empty() && !conn) {
      auto candidate = std::move(pool.back());
      pool.pop_back();
      if (now - candidate->last_used < options_.timeouts.idle) conn = std::move(candidate);
    }
    if (conn) {
      reused = true;
    } else {
      auto fresh = co_await connect(scheme, host, port);
      if (!fresh) {
        const auto state = co_await asio::this_coro::cancellation_state;
        if (is_cancelled(state)) co_return stopped("connect", origin);
        co_return tl::unexpected(fresh.error());
      }
      conn = std::move(*fresh);
    }

    auto& tcp_stream = conn->tcp();
    tcp_stream.expires_after(deadline);
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.body_limit);
    if (request.method == http::verb::head) parser.skip(true);

    boost::system::error_code ec;
    if (conn->tls) {
      std::tie(ec, std::ignore) = co_await http::async_write(*conn->tls, req, use_tuple);
      if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(*conn->tls, conn->buffer, parser, use_tuple);
    } else {
      std::tie(ec, std::ignore) = co_await http::async_write(*conn->plain, req, use_tuple);
      if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(*conn->plain, conn->buffer, parser, use_tuple);
    }
    if (ec) {
      const auto state = co_await asio::this_coro::cancellation_state;
      if (is_cancelled(state))
        co_return stopped(fmt::format("{} {}", http::to_string(request.method), request.url), origin);
      if (reused && attempt == 0 && is_stale_connection_error(ec)) {
        log::acme()->debug("http stale keep-alive connection origin={} error=\"{}\"; reconnecting", origin,
                           ec.message());
        continue;
      }
      co_return io_error(fmt::format("{} {}", http::to_string(request.method), request.url), origin, ec, deadline);
    }

    auto res = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.headers = res.base();
    out.body = std::move(res.body());
    // Look the pool up again: other requests may have changed idle_ while this one waited.
    auto& idle_pool = idle_[origin];
    if (res.keep_alive() && idle_pool.size() < options_.max_idle_per_origin) {
      tcp_stream.expires_never();
      conn->last_used = std::chrono::steady_clock::now();
      idle_pool.push_back(std::move(conn));
    }
    co_return out;
  }
  co_return fail(Errc::network, fmt::format("{}: connection closed by the peer", origin));
}

}  // namespace portcullis::acme
