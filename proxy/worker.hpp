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

#include "base/connections_per_ip.hpp"
#include "base/log_limiter.hpp"
#include "certstore/challenge_board.hpp"
#include "domain/config.hpp"
#include "proxy/executor.hpp"
#include "proxy/route_table.hpp"
#include "proxy/tls_context.hpp"
#include "proxy/upstream_pool.hpp"
#include "proxy/worker_counters.hpp"
#include "proxy/worker_snapshots.hpp"

namespace portcullis::proxy {

// Everything the workers share: read-only snapshots, each worker's counters and the drain flag.
// Workers write nothing here on the request path: they read the snapshots through their own
// caches (WorkerSnapshots) and write only their own counter block.
struct SharedState {
  certstore::CertRegistry certs;
  Routes routes;
  certstore::ChallengeBoard challenges;
  WorkerCounters counters;                     // one block per worker, on its own cache lines
  InFlightRequests active_requests{counters};  // the drain loop's count of requests in flight
  // Connections per client address across every worker (limits.max_connections_per_ip): a
  // process-wide lock-free table, not a share per worker (see base/connections_per_ip.hpp).
  base::ConnectionsPerIp connections_per_ip;
  // SIGTERM: finish in-flight requests, then close. Read by every worker on every request, so it
  // sits alone on its cache lines (the last member, aligned): no write elsewhere invalidates it.
  alignas(counter_block_alignment) std::atomic<bool> draining{false};
};

// A listener as the workers see it. The TLS context (for https) is shared by every worker.
struct ListenerRuntime {
  domain::ListenerConfig config;
  ListenerTls tls_hooks;                                   // for the certificate callback
  std::shared_ptr<boost::asio::ssl::context> ssl;          // nullptr for plain HTTP
  std::uint16_t redirect_port = 443;                       // https port the :80 listener points to
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
  base::LogLimiter refused_per_ip{burst, interval};
  base::LogLimiter upstream_unavailable{burst, interval};
  base::LogLimiter upstream_timeout{burst, interval};
  base::LogLimiter upstream_denied{burst, interval};
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
  WorkerSnapshots& snapshots() noexcept { return snapshots_; }
  // Written only by the worker's own thread; read anywhere through shared().counters.
  WorkerCounterBlock& counters() noexcept { return counters_; }

 private:
  Task<void> accept_loop(Acceptor& acceptor,
                                           const ListenerRuntime& listener);
  unsigned index_;
  SharedState& shared_;
  const std::vector<ListenerRuntime>& listeners_;
  WorkerCounterBlock& counters_;
  // Declared before io_: destroyed after it, so the leases of connections still pending when the
  // io_context is destroyed are released while the caches exist.
  WorkerSnapshots snapshots_;
  // One thread runs it and no other thread touches its sockets: no per-descriptor locking.
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  UpstreamPool pool_;
  WorkerLogLimits log_limits_;
  std::thread thread_;
};

}  // namespace portcullis::proxy
