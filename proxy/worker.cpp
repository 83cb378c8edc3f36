#include "proxy/worker.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/accept_errors.hpp"
#include "base/logging.hpp"
#include "proxy/http_session.hpp"
#include "proxy/tls_stream.hpp"

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

}  // namespace

Status ensure_not_listened_on(const domain::ListenerConfig& listener) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(listener.address.host, ec);
  if (ec) {
    return fail(Errc::config,
                "listener " + listener.name + ": address " + listener.address.to_string() + ": " + ec.message());
  }
  tcp::endpoint endpoint(address, listener.address.port);
  asio::io_context io;
  tcp::acceptor probe(io);
  probe.open(endpoint.protocol(), ec);
  // SO_REUSEADDR as the workers set it: a port left in TIME_WAIT is no reason to refuse.
  if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && address.is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  if (ec == asio::error::address_in_use) {
    return fail(Errc::network, "listener " + listener.name + ": " + listener.address.to_string() + ": " +
                                   ec.message() + ": another process listens there");
  }
  if (ec) {
    return fail(Errc::network, "listener " + listener.name + ": " + listener.address.to_string() + ": " + ec.message());
  }
  return {};
}

Worker::Worker(unsigned index, SharedState& shared, const std::vector<ListenerRuntime>& listeners)
    : index_(index),
      shared_(shared),
      listeners_(listeners),
      counters_(shared.counters.add()),
      snapshots_(shared.certs, shared.routes, shared.challenges) {}

Worker::~Worker() {
  stop();
  join();
}

Status Worker::listen() {
  for (const auto& listener : listeners_) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(listener.config.address.host, ec);
    if (ec) {
      return fail(Errc::config, "listener " + listener.config.name + ": address " +
                                    listener.config.address.to_string() + ": " + ec.message());
    }
    tcp::endpoint endpoint(address, listener.config.address.port);
    auto acceptor = std::make_unique<Acceptor>(io_.get_executor());
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) {
      // Every worker binds its own acceptor; the kernel spreads connections across them.
      int one = 1;
      if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        ec.assign(errno, boost::system::system_category());
      }
    }
    if (!ec && address.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    // Accepted sockets inherit it: no setsockopt per connection.
    if (!ec) acceptor->set_option(tcp::no_delay(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return fail(Errc::network, "listener " + listener.config.name + ": " +
                                     listener.config.address.to_string() + ": " + ec.message());
    }
    acceptors_.push_back(std::move(acceptor));
  }
  return {};
}

Task<void> Worker::accept_loop(Acceptor& acceptor, const ListenerRuntime& listener) {
  Timer pause(io_.get_executor());
  for (;;) {
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor.async_accept(peer, task_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      const bool exhausted = base::is_resource_exhaustion(ec);
      if (auto dropped = log_limits_.accept_failed.admit(TlsStream::coarse_now())) {
        log::proxy()->warn("accept failed listener={} error=\"{}\"{}{}", listener.config.name, ec.message(),
                           exhausted ? " paused_ms=" + std::to_string(base::accept_pause.count()) : std::string(),
                           base::suppressed_suffix(*dropped));
      }
      if (exhausted) {
        // Out of descriptors: the socket stays readable, so accepting at once would spin. The
        // backlog holds new connections while open ones close.
        WorkerCounterBlock::add(counters_.accept_pauses);
        pause.expires_after(base::accept_pause);
        co_await pause.async_wait(task_tuple);
      }
      continue;
    }
    if (shared_.draining.load(std::memory_order_relaxed)) continue;
    const auto& limits = snapshots_.routes.peek().limits();
    if (shared_.counters.open_connections() >= limits.max_connections) {
      WorkerCounterBlock::add(counters_.refused_max_connections);
      if (auto dropped = log_limits_.refused_connection.admit(TlsStream::coarse_now())) {
        log::proxy()->warn("connection refused listener={} reason=max_connections limit={}{}", listener.config.name,
                           limits.max_connections, base::suppressed_suffix(*dropped));
      }
      continue;  // the socket closes as it goes out of scope
    }
    auto lease = shared_.connections_per_ip.try_acquire(peer.address(), limits.max_connections_per_ip);
    if (!lease.held() && limits.max_connections_per_ip != 0) {
      WorkerCounterBlock::add(counters_.refused_per_ip);
      if (auto dropped = log_limits_.refused_per_ip.admit(TlsStream::coarse_now())) {
        log::proxy()->warn("connection refused listener={} peer={} reason=max_connections_per_ip limit={}{}",
                           listener.config.name, peer.address().to_string(), limits.max_connections_per_ip,
                           base::suppressed_suffix(*dropped));
      }
      continue;  // closed before the TLS handshake: the socket closes as it goes out of scope
    }
    if (listener.config.protocol == domain::Protocol::https) {
      asio::co_spawn(io_.get_executor(),
                     serve_tls_connection(std::move(socket), peer, listener, *this, std::move(lease)), asio::detached);
    } else {
      asio::co_spawn(io_.get_executor(),
                     serve_plain_connection(std::move(socket), peer, listener, *this, std::move(lease)),
                     asio::detached);
    }
  }
}

void Worker::start() {
  for (std::size_t i = 0; i < acceptors_.size(); ++i) {
    asio::co_spawn(io_.get_executor(), accept_loop(*acceptors_[i], listeners_[i]), asio::detached);
  }
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      log::proxy()->critical("worker {} stopped by an exception: {}", index_, e.what());
      std::abort();
    }
  });
}

void Worker::stop_accepting() {
  asio::post(io_, [this] {
    for (auto& acceptor : acceptors_) {
      boost::system::error_code ec;
      acceptor->close(ec);
    }
  });
}

void Worker::stop() { io_.stop(); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace portcullis::proxy
