#include "proxy/worker_counters.hpp"

#include <stdexcept>

namespace portcullis::proxy {

CounterValues& CounterValues::operator+=(const CounterValues& other) noexcept {
  for (std::size_t i = 0; i < responses.size(); ++i) responses[i] += other.responses[i];
  requests += other.requests;
  handshakes += other.handshakes;
  handshake_failures += other.handshake_failures;
  upstream_errors += other.upstream_errors;
  open_connections += other.open_connections;
  active_requests += other.active_requests;
  refused_per_ip += other.refused_per_ip;
  refused_max_connections += other.refused_max_connections;
  accept_pauses += other.accept_pauses;
  for (std::size_t i = 0; i < upstream_response.size(); ++i) upstream_response[i] += other.upstream_response[i];
  upstream_response_us += other.upstream_response_us;
  return *this;
}

CounterValues WorkerCounterBlock::read() const noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  CounterValues v;
  for (std::size_t i = 0; i < responses.size(); ++i) v.responses[i] = responses[i].load(relaxed);
  v.requests = requests.load(relaxed);
  v.handshakes = handshakes.load(relaxed);
  v.handshake_failures = handshake_failures.load(relaxed);
  v.upstream_errors = upstream_errors.load(relaxed);
  v.open_connections = open_connections.load(relaxed);
  v.active_requests = active_requests.load(relaxed);
  v.refused_per_ip = refused_per_ip.load(relaxed);
  v.refused_max_connections = refused_max_connections.load(relaxed);
  v.accept_pauses = accept_pauses.load(relaxed);
  for (std::size_t i = 0; i < upstream_response.size(); ++i) v.upstream_response[i] = upstream_response[i].load(relaxed);
  v.upstream_response_us = upstream_response_us.load(relaxed);
  return v;
}

WorkerCounterBlock& WorkerCounters::add() {
  const std::size_t n = count_.load(std::memory_order_relaxed);
  if (n == max_workers) throw std::length_error("worker counters: more than 1024 workers");
  blocks_[n] = std::make_unique<WorkerCounterBlock>();
  count_.store(n + 1, std::memory_order_release);
  return *blocks_[n];
}

CounterValues WorkerCounters::sum() const noexcept {
  CounterValues total;
  const std::size_t n = size();
  for (std::size_t i = 0; i < n; ++i) total += blocks_[i]->read();
  return total;
}

std::uint64_t WorkerCounters::open_connections() const noexcept {
  std::uint64_t total = 0;
  const std::size_t n = size();
  for (std::size_t i = 0; i < n; ++i) total += blocks_[i]->open_connections.load(std::memory_order_relaxed);
  return total;
}

}  // namespace portcullis::proxy
