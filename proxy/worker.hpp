// Worker: one thread, one io_context, its own SO_REUSEPORT acceptor per listener and its own
// upstream connection pool. A connection lives and dies on the worker that accepted it; workers
// share nothing mutable but atomics and published snapshots.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "base/log_limiter.hpp"
#include "certstore/challenge_board.hpp"
#include "domain/config.hpp"
#include "proxy/executor.hpp"
#include "proxy/route_table.hpp"
#include "proxy/tls_context.hpp"

namespace portcullis::proxy {

// Everything the workers share: read-only snapshots and a few counters.
struct SharedState {
  certstore::CertRegistry certs;
  Routes routes;
  certstore::ChallengeBoard challenges;
  std::atomic<std::size_t> connections{0};      // open client connections, all workers
  std::atomic<std::size_t> active_requests{0};  // requests between header read and response end
  std::atomic<bool> draining{false};            // SIGTERM: finish in-flight requests, then close
  std::atomic<std::uint64_t> requests_total{0};
  std::atomic<std::uint64_t> handshakes_total{0};
};

// A listener as the workers see it. The TLS context (for https) is shared by every worker.
struct ListenerRuntime {
  domain::ListenerConfig config;
  ListenerTls tls_hooks;                                   // for the certificate callback
  std::shared_ptr<boost::asio::ssl::context> ssl;          // nullptr for plain HTTP
  std::uint16_t redirect_port = 443;                       // https port the :80 listener points to
};

// A kept-alive connection to one upstream.
struct UpstreamConnection {
  explicit UpstreamConnection(const Executor& ex) : stream(ex) {}
  PlainStream stream;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since{};  // when it was last given back to the pool
};

// Per-worker pool of idle upstream connections, keyed by "host:port". Single-threaded.
// A connection idle for a while is probed (a non-blocking one-byte MSG_PEEK) before it is reused;
// one given back moments ago is not: that probe would cost a system call on every request. An
// upstream that closed it in between is caught by the request path, which retries a replayable
// request once on a fresh connection (see proxy_request).
class UpstreamPool {
 public:
  // An idle connection for `key`, or nullptr. `probe` asks for the MSG_PEEK check even on a
  // connection given back moments ago (for a request that could not be sent again).
  std::unique_ptr<UpstreamConnection> take(const std::string& key, bool probe = false);
  void give_back(const std::string& key, std::unique_ptr<UpstreamConnection> conn);
  std::size_t next_index(const std::string& endpoint_id, std::size_t count) {
    return count == 0 ? 0 : rr_[endpoint_id]++ % count;
  }
  void clear() { idle_.clear(); }

 private:
  static constexpr std::size_t max_idle_per_upstream = 64;
  static constexpr std::chrono::milliseconds probe_after{1000};
  std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
  std::unordered_map<std::string, std::size_t> rr_;
};

// Fails with Errc::network ("listener NAME: ADDRESS: Address already in use: another process
// listens there") when another socket listens on the listener's address, whoever opened it: a
// test bind without SO_REUSEPORT, which the kernel refuses while any socket listens there. Call
// before the workers bind theirs. Blocking (two system calls).
Status ensure_not_listened_on(const domain::ListenerConfig& listener);

// Budgets of the worker's log lines that clients or upstreams can cause at will: 10 a second of
// each kind per worker, the rest counted (see base::LogLimiter).
struct WorkerLogLimits {
  static constexpr std::uint32_t burst = 10;
  static constexpr std::chrono::seconds interval{1};
  base::LogLimiter rejected_request{burst, interval};
  base::LogLimiter refused_connection{burst, interval};
  base::LogLimiter accept_failed{burst, interval};
  base::LogLimiter upstream_unavailable{burst, interval};
  base::LogLimiter upstream_timeout{burst, interval};
};

class Worker {
 public:
  Worker(unsigned index, SharedState& shared, const std::vector<ListenerRuntime>& listeners);
  ~Worker();

  // Opens this worker's acceptors (SO_REUSEPORT). Blocking; call before start().
  Status listen();
  void start();           // runs the io_context on a new thread
  void stop_accepting();  // thread-safe: closes the acceptors, open connections go on
  void stop();            // thread-safe: stops the io_context; join() afterwards
  void join();

  boost::asio::io_context& io() noexcept { return io_; }
  SharedState& shared() noexcept { return shared_; }
  UpstreamPool& pool() noexcept { return pool_; }
  unsigned index() const noexcept { return index_; }
  // Only the worker's own thread may use them.
  WorkerLogLimits& log_limits() noexcept { return log_limits_; }

 private:
  Task<void> accept_loop(Acceptor& acceptor,
                                           const ListenerRuntime& listener);
  unsigned index_;
  SharedState& shared_;
  const std::vector<ListenerRuntime>& listeners_;
  // One thread runs it and no other thread touches its sockets: no per-descriptor locking.
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  UpstreamPool pool_;
  WorkerLogLimits log_limits_;
  std::thread thread_;
};

}  // namespace portcullis::proxy
