// DnsServer: the platform zone's authoritative server on UDP and TCP. A small data plane of its
// own: one thread with its own io_context (never the proxy's workers), which reads the zone the
// control thread publishes (ZoneRegistry) and never locks. TCP carries several length-framed
// queries per connection (RFC 7766), with an idle timeout and a connection cap; UDP answers go
// through response rate limiting (dns/rate_limiter.hpp).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "base/connections_per_ip.hpp"
#include "base/error.hpp"
#include "base/log_limiter.hpp"
#include "base/metrics_writer.hpp"
#include "base/task_group.hpp"
#include "dns/rate_limiter.hpp"
#include "dns/zone.hpp"
#include "domain/endpoint.hpp"

namespace portcullis::dns {

struct DnsServerOptions {
  std::vector<domain::HostPort> listen;  // IP literals; port 0 picks one (the same for UDP and TCP)
  // RFC 7766 §6.2.3 suggests seconds, not minutes: a connection with no query this long is closed.
  std::chrono::milliseconds tcp_idle_timeout{10'000};
  std::uint32_t tcp_max_queries = 1'000;  // answers per connection, then it closes (RFC 7766 §6.2.1)
  std::size_t max_tcp_connections = 256;  // past it a new connection is closed at once
  std::uint32_t tcp_max_connections_per_ip = 64;  // per client address; past it closed at once; 0 = no cap
  std::uint32_t rate_limit = 100;         // UDP responses a second per client network; 0 = off
  unsigned slip = 2;                      // every slip-th limited response goes out truncated
};

class DnsServer {
 public:
  DnsServer(const ZoneRegistry& zone, DnsServerOptions options);
  // Stops the thread if stop() was not called.
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Binds UDP and TCP on every address (before start(), on the caller's thread). An error names
  // the address and the system's words: "dns.listen 127.0.0.1:53: udp: Address already in use".
  Status listen();
  // Starts the server's thread. Call once, after listen() succeeded.
  void start();
  // Closes every socket, stops the connections' tasks and joins the thread, within a bounded
  // deadline. Blocking; call from the thread that called start(). Idempotent.
  void stop();

  // The bound addresses (port 0 resolved), in the order of options.listen.
  std::vector<boost::asio::ip::udp::endpoint> local_endpoints() const;

  // Counters, written by the server's thread alone (a relaxed load and store, no locked
  // read-modify-write on the query path), readable from any thread.
  struct Counters {
    using Counter = std::atomic<std::uint64_t>;
    Counter udp_queries{0}, tcp_queries{0}, dropped{0}, rate_limited{0}, tcp_refused{0}, tcp_refused_per_ip{0};
    Counter accept_pauses{0};
    std::array<Counter, 16> responses_by_rcode{};  // answers sent, by their header's RCODE (RFC 1035 §4.1.1)
    static void add(Counter& c, std::uint64_t n = 1) noexcept {
      c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
  };
  const Counters& counters() const noexcept { return counters_; }
  // portcullis_dns_queries_total{rcode} and the queries left unanswered. Any thread.
  void write_metrics(base::MetricsWriter& out) const;

 private:
  boost::asio::awaitable<void> serve_udp(boost::asio::ip::udp::socket& socket);
  boost::asio::awaitable<void> accept(boost::asio::ip::tcp::acceptor& acceptor);
  boost::asio::awaitable<void> serve_tcp(boost::asio::ip::tcp::socket socket, base::ConnectionsPerIp::Lease lease);
  boost::asio::awaitable<void> shut_down();

  const ZoneRegistry& zone_;
  DnsServerOptions options_;
  // Before io_: a TCP session's frame, destroyed with io_ when it outlives the stop deadline,
  // still gives back its count and its lease.
  std::size_t tcp_connections_ = 0;  // the server thread's alone
  // Past max_tcp_connections_per_ip; a small table: the server holds few TCP connections.
  base::ConnectionsPerIp tcp_per_ip_{4096};
  // First of the rest: destroyed last, after the sockets and tasks that live on it.
  boost::asio::io_context io_{1};
  std::vector<std::unique_ptr<boost::asio::ip::udp::socket>> udp_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> tcp_;
  base::TaskGroup tasks_;
  RateLimiter limiter_;
  base::LogLimiter accept_log_{10, std::chrono::seconds(1)};
  base::LogLimiter refused_log_{10, std::chrono::seconds(1)};
  Counters counters_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace portcullis::dns
