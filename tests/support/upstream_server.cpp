#include "tests/support/upstream_server.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

namespace portcullis::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t body_echo_limit = 64 * 1024;
constexpr std::size_t request_body_limit = 256ull * 1024 * 1024;
constexpr std::size_t request_header_limit = 1024 * 1024;
// How long a test upstream keeps an idle connection: longer than any proxy idle timeout in tests.
constexpr auto upstream_idle_timeout = std::chrono::seconds(120);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

std::optional<std::size_t> query_number(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == key) {
      std::size_t v = 0;
      auto value = part.substr(eq + 1);
      if (std::from_chars(value.data(), value.data() + value.size(), v).ec == std::errc{}) return v;
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return std::nullopt;
}

void add_upstream_headers(http::fields& f, std::uint16_t port, bool keep_alive) {
  f.set("X-Upstream", std::to_string(port));
  // Hop-by-hop headers the proxy must not pass on to its client (RFC 9110 §7.6.1).
  f.set(http::field::connection, keep_alive ? "keep-alive, X-Upstream-Hop" : "close, X-Upstream-Hop");
  f.set("X-Upstream-Hop", "1");
  f.set(http::field::keep_alive, "timeout=30");
}

}  // namespace

std::string pattern_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::uint32_t x = 0x9E3779B9u ^ static_cast<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x & 0xff);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

std::vector<std::string> RecordedRequest::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) out.push_back(v);
  return out;
}

std::optional<std::string> RecordedRequest::get(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return std::nullopt;
}

struct UpstreamServer::Impl {
  UpstreamServer& owner;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};

  explicit Impl(UpstreamServer& o) : owner(o) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      ++owner.connections_;
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> websocket_echo(beast::tcp_stream stream, http::request<http::empty_body> req) {
    websocket::stream<beast::tcp_stream> ws(std::move(stream));
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.set_option(websocket::stream_base::decorator([port = owner.port_](websocket::response_type& res) {
      res.set("X-Upstream", std::to_string(port));
    }));
    auto [ec] = co_await ws.async_accept(req, use_tuple);
    if (ec) co_return;
    beast::flat_buffer buffer;
    for (;;) {
      auto [rec, n] = co_await ws.async_read(buffer, use_tuple);
      if (rec) co_return;
      ++owner.ws_messages_;
      ws.text(ws.got_text());
      auto [wec, m] = co_await ws.async_write(buffer.data(), use_tuple);
      if (wec) co_return;
      buffer.consume(buffer.size());
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(request_body_limit);
      parser.header_limit(request_header_limit);
      stream.expires_after(upstream_idle_timeout);
      auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
      if (hec) co_return;
      owner.record_head(std::string(parser.get().target()));

      if (websocket::is_upgrade(parser.get())) {
        http::request<http::empty_body> head(parser.get().base());
        co_await websocket_echo(std::move(stream), std::move(head));
        co_return;
      }
      if (iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        auto [cec, cn] = co_await http::async_write(stream, cont, use_tuple);
        if (cec) co_return;
      }
      if (!parser.is_done()) {
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (bec) co_return;
      }
      http::request<http::string_body> req = parser.release();

      RecordedRequest rec;
      rec.method = std::string(req.method_string());
      rec.target = std::string(req.target());
      for (const auto& f : req) rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      rec.body_size = req.body().size();
      rec.body_sha256 = sha256_hex(req.body());
      if (rec.body_size <= body_echo_limit) rec.body = req.body();
      owner.record_request(rec);

      const auto path = path_of(req.target());
      if (path == "/close") {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
      }
      if (path == "/slow") {
        asio::steady_timer timer(ioc);
        timer.expires_after(std::chrono::milliseconds(query_number(req.target(), "ms").value_or(1000)));
        co_await timer.async_wait(use_tuple);
      }

      const bool keep_alive = req.keep_alive();
      http::response<http::string_body> res{http::status::ok, 11};
      if (path == "/download") {
        res.set(http::field::content_type, "application/octet-stream");
        res.body() = pattern_bytes(query_number(req.target(), "bytes").value_or(0));
      } else {
        boost::json::array headers;
        for (const auto& [n, v] : rec.headers) headers.push_back(boost::json::array{n, v});
        boost::json::object o;
        o["method"] = rec.method;
        o["target"] = rec.target;
        o["headers"] = std::move(headers);
        o["body_size"] = rec.body_size;
        o["body_sha256"] = rec.body_sha256;
        if (rec.body_size <= body_echo_limit) o["body"] = rec.body;
        res.set(http::field::content_type, "application/json");
        res.body() = boost::json::serialize(o);
      }
      if (req.method() == http::verb::head) res.body().clear();
      res.prepare_payload();
      add_upstream_headers(res, owner.port_, keep_alive);
      stream.expires_after(upstream_idle_timeout);
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if (wec) co_return;
      if (path == "/answer-then-close") {
        // Says keep-alive, then closes: what an upstream does when its idle timeout ends a
        // connection the proxy has just put back in its pool.
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.socket().close(ignored);
        co_return;
      }
      if (!keep_alive) {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
    }
  }
};

UpstreamServer::UpstreamServer() : impl_(std::make_unique<Impl>(*this)) {
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

UpstreamServer::~UpstreamServer() {
  impl_->ioc.stop();
  thread_.join();
  impl_.reset();
}

void UpstreamServer::record_head(std::string target) {
  std::lock_guard lock(mutex_);
  heads_.push_back(std::move(target));
}

void UpstreamServer::record_request(RecordedRequest r) {
  std::lock_guard lock(mutex_);
  requests_.push_back(std::move(r));
}

std::vector<RecordedRequest> UpstreamServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<std::string> UpstreamServer::heads() const {
  std::lock_guard lock(mutex_);
  return heads_;
}

std::size_t UpstreamServer::request_count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

std::size_t UpstreamServer::head_count() const {
  std::lock_guard lock(mutex_);
  return heads_.size();
}

void UpstreamServer::clear() {
  std::lock_guard lock(mutex_);
  requests_.clear();
  heads_.clear();
}

}  // namespace portcullis::testing
