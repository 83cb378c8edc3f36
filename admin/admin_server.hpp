// AdminServer: the admin API's listener — HTTP/1.1 (Boost.Beast) on the control thread's
// io_context, one coroutine per connection, each a task of a base::TaskGroup so the drain stops
// and awaits them. Speaks TLS when configured, refuses a Host it does not know (421), checks the
// bearer token on the request's head before its body is read, bounds the body (413), and answers
// every error as a problem document. Never logs a header's or a body's content.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "admin/host_check.hpp"
#include "admin/router.hpp"
#include "base/connections_per_ip.hpp"
#include "base/error.hpp"
#include "base/log_limiter.hpp"
#include "base/ossl.hpp"
#include "base/secret_bytes.hpp"
#include "base/task_group.hpp"
#include "domain/endpoint.hpp"

namespace portcullis::admin {

struct AdminServerOptions {
  domain::HostPort listen{"127.0.0.1", 9900};
  base::SecretBytes token;
  // A body past this is refused with 413 before it is read (a PEM chain and its key fit many times).
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  // A request's header and body must arrive within this; an idle keep-alive connection closes.
  std::chrono::seconds request_timeout{30};
  // At most this many connections at once; more are closed at accept.
  std::size_t max_connections = 64;
  // [admin] cert_file/key_file: a context from certstore::new_policy_ctx with the certificate;
  // null: plain HTTP.
  base::SslCtxPtr tls;
  // [admin] allowed_hosts; empty: the listen address and the loopback names with the port.
  std::vector<HostPattern> allowed_hosts;
  // At most this many from one client address at once; more are closed at accept. 0 = no cap.
  std::uint32_t max_connections_per_ip = 32;
};

class AdminServer {
 public:
  // `router` must outlive the server. Every call on `control`'s thread.
  AdminServer(boost::asio::io_context& control, AdminServerOptions options, const Router& router);
  ~AdminServer();

  // Binds the listener. Errors name the address.
  Status listen();
  // Accepts connections from now on (a task of the server's group).
  void start();
  // Closes the listener, cancels every connection and completes once they have ended.
  boost::asio::awaitable<void> shutdown();

  // The bound port (listen() on port 0 picks one).
  std::uint16_t port() const;

  // One request through the router: token, routing, the handler. Exposed for tests.
  boost::asio::awaitable<Response> handle(const Request& req);
  // The answer to a request whose head (no body yet) is refused before its body is read: a
  // target that is not a path, or a route that needs the token without the right one (401).
  // nullopt when the request may go on. Called by the session as soon as the header is read.
  std::optional<Response> refuse_head(const Request& head);

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket, base::ConnectionsPerIp::Lease lease);
  // The requests of one connection, over TCP or TLS.
  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& stream);

  boost::asio::io_context& control_;
  AdminServerOptions options_;
  const Router& router_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  HostCheck hosts_;
  // Refused Hosts are a line any client can cause: at most 10 a second (control thread only).
  base::LogLimiter host_refusals_{10, std::chrono::seconds(1)};
  std::size_t connections_ = 0;
  base::ConnectionsPerIp per_ip_{1024};
  base::LogLimiter refused_log_{10, std::chrono::seconds(1)};
  base::LogLimiter accept_log_{10, std::chrono::seconds(1)};
  // Last member: destroyed first; shutdown() ends its tasks.
  base::TaskGroup tasks_;
};

}  // namespace portcullis::admin
