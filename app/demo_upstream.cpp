#include "app/demo_upstream.hpp"

#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/logging.hpp"

namespace portcullis::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds demo_idle_timeout{30};

asio::awaitable<void> serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    stream.expires_after(demo_idle_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
    if (ec) co_return;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::server, "portcullis-demo");
    res.body() = "Hello from the Portcullis demo upstream.\n"
                 "host: " + std::string(req[http::field::host]) + "\n" +
                 "path: " + std::string(req.target()) + "\n" +
                 "x-forwarded-for: " + std::string(req["X-Forwarded-For"]) + "\n" +
                 "x-forwarded-proto: " + std::string(req["X-Forwarded-Proto"]) + "\n";
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
    if (ec) co_return;
    asio::co_spawn(acceptor->get_executor(), serve(std::move(socket)), asio::detached);
  }
}

}  // namespace

Status start_demo_upstream(asio::io_context& io, const domain::HostPort& listen) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(listen.host, ec);
  if (ec) return fail(Errc::config, "demo.listen: " + listen.to_string() + ": " + ec.message());
  auto acceptor = std::make_shared<tcp::acceptor>(io);
  tcp::endpoint endpoint(address, listen.port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::network, "demo upstream " + listen.to_string() + ": " + ec.message());
  asio::co_spawn(io, accept_loop(acceptor), asio::detached);
  log::proxy()->info("demo upstream listening address={}", listen.to_string());
  return {};
}

}  // namespace portcullis::app
