// Per-worker counters: requests by status class, handshakes, upstream errors, open connections,
// requests in flight and the upstream response time histogram. Each worker writes only its own block, on its own cache lines, with relaxed
// single-writer stores (no locked read-modify-write, no line shared with another writer); readers
// (the drain loop, the connection limit, a metrics endpoint) add the blocks up.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace portcullis::proxy {

// Two cache lines: Intel's spatial prefetcher fetches lines in 128-byte pairs, so a block aligned
// to 64 bytes only could still share a prefetched pair with its neighbour.
inline constexpr std::size_t counter_block_alignment = 128;

// The upstream response time histogram's bucket bounds (seconds; Prometheus' default buckets), and
// the same in microseconds, which the worker compares against.
inline constexpr std::array<double, 11> upstream_response_bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                 0.5,   1,    2.5,   5,    10};
inline constexpr std::array<std::uint64_t, 11> upstream_response_bounds_us{
    5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};
inline constexpr std::size_t upstream_response_buckets = upstream_response_bounds.size() + 1;  // + above 10 s

// A plain reading of one block or of their sum.
struct CounterValues {
  std::array<std::uint64_t, 5> responses{};  // [0] = 1xx ... [4] = 5xx
  std::uint64_t requests = 0;                // request heads read
  std::uint64_t handshakes = 0;
  std::uint64_t handshake_failures = 0;
  std::uint64_t upstream_errors = 0;  // requests answered 502/504 (or cut) because of an upstream
  std::uint64_t open_connections = 0;
  std::uint64_t active_requests = 0;  // between a request's head and the end of its response
  // Connections closed at accept: over limits.max_connections_per_ip, over limits.max_connections.
  std::uint64_t refused_per_ip = 0;
  std::uint64_t refused_max_connections = 0;
  std::uint64_t accept_pauses = 0;  // accept failed for want of descriptors (EMFILE...) and paused
  // Upstream responses by time to their head (not cumulative: [i] counts those up to bound i and
  // above bound i-1; the last, those above 10 s), and the sum of those times in microseconds.
  std::array<std::uint64_t, upstream_response_buckets> upstream_response{};
  std::uint64_t upstream_response_us = 0;

  CounterValues& operator+=(const CounterValues& other) noexcept;
};

// One worker's counters. Written only by the owning worker's thread; read from any thread.
class alignas(counter_block_alignment) WorkerCounterBlock {
 public:
  using Counter = std::atomic<std::uint64_t>;

  // Single writer: a relaxed load and store, not a locked fetch_add. Owner thread only.
  static void add(Counter& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void sub(Counter& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }

  // Counts a response by its status class; a status outside 100..599 is not counted.
  void count_response(unsigned status) noexcept {
    if (status >= 100 && status < 600) add(responses[status / 100 - 1]);
  }

  // Counts one upstream response by the time from the request to its head. Owner thread only.
  void observe_upstream_response(std::chrono::steady_clock::duration elapsed) noexcept {
    const auto us = static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
    std::size_t i = 0;
    while (i < upstream_response_bounds_us.size() && us > upstream_response_bounds_us[i]) ++i;
    add(upstream_response[i]);
    add(upstream_response_us, us);
  }

  CounterValues read() const noexcept;

  std::array<Counter, 5> responses{};
  Counter requests{0};
  Counter handshakes{0};
  Counter handshake_failures{0};
  Counter upstream_errors{0};
  Counter open_connections{0};
  Counter active_requests{0};
  Counter refused_per_ip{0};
  Counter refused_max_connections{0};
  Counter accept_pauses{0};
  std::array<Counter, upstream_response_buckets> upstream_response{};
  Counter upstream_response_us{0};
};
static_assert(alignof(WorkerCounterBlock) == counter_block_alignment);
static_assert(sizeof(WorkerCounterBlock) % counter_block_alignment == 0);

// Raises a gauge of the owning worker for as long as the scope lives (connections, requests).
class GaugeGuard {
 public:
  explicit GaugeGuard(WorkerCounterBlock::Counter& c) noexcept : c_(c) { WorkerCounterBlock::add(c_); }
  ~GaugeGuard() { WorkerCounterBlock::sub(c_); }
  GaugeGuard(const GaugeGuard&) = delete;
  GaugeGuard& operator=(const GaugeGuard&) = delete;

 private:
  WorkerCounterBlock::Counter& c_;
};

// Every worker's block. Blocks are added while the workers are built (before any reader runs
// concurrently with add()); reads are thread-safe at any time after that.
class WorkerCounters {
 public:
  static constexpr std::size_t max_workers = 1024;

  // A new block for the next worker. Not thread-safe against another add(); throws
  // std::length_error past max_workers.
  WorkerCounterBlock& add();
  std::size_t size() const noexcept { return count_.load(std::memory_order_acquire); }
  // One worker's reading; `worker` < size().
  CounterValues read(std::size_t worker) const noexcept { return blocks_[worker]->read(); }
  // All workers added up. Each counter is read once, relaxed: a sum, not a consistent cut.
  CounterValues sum() const noexcept;
  // Open client connections of all workers (the max_connections check at accept).
  std::uint64_t open_connections() const noexcept;

 private:
  std::array<std::unique_ptr<WorkerCounterBlock>, max_workers> blocks_{};
  std::atomic<std::size_t> count_{0};
};

// The drain loop's "requests still in flight", added up over the workers' blocks.
class InFlightRequests {
 public:
  explicit InFlightRequests(const WorkerCounters& counters) noexcept : counters_(counters) {}
  std::uint64_t load() const noexcept { return counters_.sum().active_requests; }

 private:
  const WorkerCounters& counters_;
};

}  // namespace portcullis::proxy
