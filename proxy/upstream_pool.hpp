// The upstream side of a worker: its pool of idle kept-alive connections per upstream, the round
// robin over an endpoint's upstreams, and opening a new connection when none is idle. One pool per
// worker, used only on its thread: no locks, and a connection never changes threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>

#include "base/log_limiter.hpp"
#include "domain/config.hpp"
#include "domain/upstream_deny.hpp"
#include "proxy/executor.hpp"
#include "proxy/route_table.hpp"

namespace portcullis::proxy {

// A kept-alive connection to one upstream.
struct UpstreamConnection {
  explicit UpstreamConnection(const Executor& ex) : stream(ex) {}
  PlainStream stream;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since{};  // when it was last given back to the pool
};

// A connection for one request, with where it goes.
struct UpstreamLease {
  std::unique_ptr<UpstreamConnection> connection;  // nullptr: every upstream failed to connect
  const std::string* key = nullptr;                // the pool key ("host:port") of the upstream
  std::size_t index = 0;                           // which of the endpoint's upstreams
  bool reused = false;                             // taken from the pool, not newly connected
};

// Where a new upstream connection may not go: the deny list (RouteTable::upstream_deny), asked
// about every address, a literal or each one a name resolves to, and the worker's budget for the
// lines about the addresses refused. Worker thread only.
struct UpstreamGuard {
  const domain::UpstreamDeny& deny;
  base::LogLimiter& denied_log;
};

// A new connection to `target` (an address, or a name resolved first), TCP_NODELAY and
// non-blocking; nullptr when resolving or connecting fails or `timeout` passes. An address the
// guard denies is never connected to: it is skipped and logged, and when a name resolves to
// denied addresses only (a rebinding, say), the result is nullptr as for a failed connect.
Task<std::unique_ptr<UpstreamConnection>> connect_upstream(Executor executor, const domain::HostPort& target,
                                                           domain::Millis timeout, const UpstreamGuard& guard);

// Per-worker pool of idle upstream connections, keyed by "host:port". Single-threaded.
// A connection idle for a while is probed (a non-blocking one-byte MSG_PEEK) before it is reused;
// one given back moments ago is not: that probe would cost a system call on every request. An
// upstream that closed it in between is caught by the exchange, which retries a replayable
// request once on a fresh connection (see upstream_exchange.hpp).
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

  // A connection to one of `endpoint`'s upstreams (at least one): round robin, an idle pooled
  // connection when there is one, else a new one; on a connect failure the next upstream is
  // tried, each once. `replayable`: the request could be sent again on a fresh connection, so a
  // recently pooled one is reused without a probe.
  Task<UpstreamLease> acquire(const Endpoint& endpoint, bool replayable, Executor executor,
                              domain::Millis connect_timeout, const UpstreamGuard& guard);

 private:
  static constexpr std::size_t max_idle_per_upstream = 64;
  static constexpr std::chrono::milliseconds probe_after{1000};
  std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
  std::unordered_map<std::string, std::size_t> rr_;
};

}  // namespace portcullis::proxy
