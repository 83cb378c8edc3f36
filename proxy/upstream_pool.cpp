#include "proxy/upstream_pool.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "base/logging.hpp"
#include "base/quote.hpp"
#include "proxy/tls_stream.hpp"

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// A pooled connection the upstream has closed (or sent unsolicited bytes on) is not reusable.
bool still_usable(UpstreamConnection& conn) {
  auto& socket = conn.stream.socket();
  if (!socket.is_open() || conn.buffer.size() != 0) return false;
  char probe;
  ssize_t n = ::recv(socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Whether the guard lets `address` through; a refusal is logged within the worker's budget.
bool allowed(const UpstreamGuard& guard, const domain::HostPort& target, const asio::ip::address& address) {
  auto rule = guard.deny.rule_for(address, target.port);
  if (!rule) return true;
  if (auto dropped = guard.denied_log.admit(TlsStream::coarse_now())) {
    log::proxy()->warn("upstream address denied upstream={} address={} rule=\"{}\"{}", base::quote(target.to_string()),
                       address.to_string(), *rule, base::suppressed_suffix(*dropped));
  }
  return false;
}

}  // namespace

Task<std::unique_ptr<UpstreamConnection>> connect_upstream(Executor executor, const domain::HostPort& target,
                                                           domain::Millis timeout, const UpstreamGuard& guard) {
  auto conn = std::make_unique<UpstreamConnection>(executor);
  error_code ec;
  auto address = asio::ip::make_address(target.host, ec);
  // One deadline for the name's resolution and the connect together: a resolver that does not
  // answer must not hold the request past upstream_connect_timeout.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!ec) {
    if (!allowed(guard, target, address)) co_return nullptr;
    conn->stream.expires_at(deadline);
    auto [cec] = co_await conn->stream.async_connect(tcp::endpoint(address, target.port), task_tuple);
    if (cec) co_return nullptr;
  } else {
    // The timer cancels the lookup at the deadline (the lookup runs on Asio's resolver thread and
    // completes as operation_aborted). The timer holds the resolver weakly: a lookup that
    // completed first leaves nothing for a late timer to touch.
    auto resolver = std::make_shared<Resolver>(executor);
    Timer limit(executor);
    limit.expires_at(deadline);
    limit.async_wait([weak = std::weak_ptr<Resolver>(resolver)](error_code wec) {
      if (wec) return;
      if (auto r = weak.lock()) r->cancel();
    });
    const std::string port = std::to_string(target.port);
    auto [rec, results] = co_await resolver->async_resolve(target.host, port, task_tuple);
    limit.cancel();
    if (rec) co_return nullptr;
    // Checked after every resolution, not when the endpoint was saved: a name may resolve
    // elsewhere at any time (DNS rebinding).
    std::vector<tcp::endpoint> permitted;
    for (const auto& entry : results) {
      if (allowed(guard, target, entry.endpoint().address())) permitted.push_back(entry.endpoint());
    }
    if (permitted.empty()) co_return nullptr;
    conn->stream.expires_at(deadline);
    auto [cec, ep] = co_await conn->stream.async_connect(permitted, task_tuple);
    if (cec) co_return nullptr;
  }
  conn->stream.socket().set_option(tcp::no_delay(true), ec);
  conn->stream.socket().non_blocking(true, ec);  // write_now tries a write before the reactor
  co_return conn;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take(const std::string& key, bool probe) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& stack = it->second;
  const auto now = TlsStream::coarse_now();
  while (!stack.empty()) {
    auto conn = std::move(stack.back());
    stack.pop_back();
    bool usable = false;
    if (!probe && now - conn->idle_since < probe_after) {
      usable = conn->buffer.size() == 0 && conn->stream.socket().is_open();
    } else {
      usable = still_usable(*conn);
    }
    if (usable) return conn;
  }
  return nullptr;
}

void UpstreamPool::give_back(const std::string& key, std::unique_ptr<UpstreamConnection> conn) {
  if (conn->buffer.size() != 0 || !conn->stream.socket().is_open()) return;
  auto& stack = idle_[key];
  if (stack.size() >= max_idle_per_upstream) return;
  conn->stream.expires_never();
  conn->idle_since = TlsStream::coarse_now();
  stack.push_back(std::move(conn));
}

Task<UpstreamLease> UpstreamPool::acquire(const Endpoint& endpoint, bool replayable, Executor executor,
                                          domain::Millis connect_timeout, const UpstreamGuard& guard) {
  UpstreamLease lease;
  const std::size_t count = endpoint.upstreams.size();
  const std::size_t first = next_index(endpoint.id, count);
  for (std::size_t i = 0; i < count && !lease.connection; ++i) {
    lease.index = (first + i) % count;
    lease.key = &endpoint.upstream_keys[lease.index];
    lease.connection = take(*lease.key, !replayable);
    lease.reused = lease.connection != nullptr;
    if (!lease.connection) {
      const auto& target = endpoint.upstreams[lease.index];
      lease.connection = co_await connect_upstream(executor, target, connect_timeout, guard);
    }
  }
  co_return lease;
}

}  // namespace portcullis::proxy
