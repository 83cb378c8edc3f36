#include "proxy/worker_counters.hpp"

#include <cstdint>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "proxy/worker.hpp"

using namespace portcullis::proxy;

TEST_CASE("each worker's counter block has cache lines of its own", "[unit][proxy][counters]") {
  STATIC_REQUIRE(alignof(WorkerCounterBlock) >= 64);
  STATIC_REQUIRE(sizeof(WorkerCounterBlock) % alignof(WorkerCounterBlock) == 0);
  WorkerCounters counters;
  auto& a = counters.add();
  auto& b = counters.add();
  CHECK(reinterpret_cast<std::uintptr_t>(&a) % counter_block_alignment == 0);
  CHECK(reinterpret_cast<std::uintptr_t>(&b) % counter_block_alignment == 0);
  CHECK(counters.size() == 2);
}

TEST_CASE("the drain flag shares no cache line with anything else", "[unit][proxy][counters]") {
  SharedState shared;
  const auto base = reinterpret_cast<std::uintptr_t>(&shared);
  const auto flag = reinterpret_cast<std::uintptr_t>(&shared.draining);
  CHECK(flag % counter_block_alignment == 0);
  // Every other member lies before the flag's line, and the flag's line is the struct's own end.
  CHECK(reinterpret_cast<std::uintptr_t>(&shared.active_requests) + sizeof(shared.active_requests) <= flag);
  CHECK(flag + counter_block_alignment <= base + sizeof(SharedState));
  CHECK(alignof(SharedState) >= counter_block_alignment);
}

TEST_CASE("counters written by their own workers add up", "[unit][proxy][counters]") {
  constexpr std::size_t workers = 4;
  constexpr std::uint64_t per_worker = 100000;
  WorkerCounters counters;
  std::vector<WorkerCounterBlock*> blocks;
  for (std::size_t i = 0; i < workers; ++i) blocks.push_back(&counters.add());

  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto& block = *blocks[w];
      for (std::uint64_t i = 0; i < per_worker; ++i) {
        WorkerCounterBlock::add(block.requests);
        block.count_response(i % 2 == 0 ? 200 : 502);
        GaugeGuard open(block.open_connections);
        if (i % 10 == 0) WorkerCounterBlock::add(block.upstream_errors);
      }
      WorkerCounterBlock::add(block.handshakes, w + 1);
    });
  }
  // A reader meanwhile sees sums that only grow and never an open connection count past workers.
  std::uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto now = counters.sum();
    CHECK(now.requests >= last);
    CHECK(now.open_connections <= workers);
    last = now.requests;
  }
  for (auto& t : threads) t.join();

  const auto total = counters.sum();
  CHECK(total.requests == workers * per_worker);
  CHECK(total.responses[1] == workers * per_worker / 2);
  CHECK(total.responses[4] == workers * per_worker / 2);
  CHECK(total.responses[0] == 0);
  CHECK(total.upstream_errors == workers * per_worker / 10);
  CHECK(total.open_connections == 0);
  CHECK(total.handshakes == 1 + 2 + 3 + 4);
  CHECK(counters.open_connections() == 0);
  for (std::size_t w = 0; w < workers; ++w) {
    CHECK(counters.read(w).requests == per_worker);
    CHECK(counters.read(w).handshakes == w + 1);
  }
}

TEST_CASE("responses are counted by status class", "[unit][proxy][counters]") {
  WorkerCounters counters;
  auto& block = counters.add();
  for (unsigned status : {100u, 101u, 200u, 204u, 308u, 404u, 421u, 502u, 504u, 99u, 600u}) {
    block.count_response(status);
  }
  const auto v = counters.read(0);
  CHECK(v.responses == std::array<std::uint64_t, 5>{2, 2, 1, 2, 2});
}

TEST_CASE("the drain loop's in-flight count is the workers' sum", "[unit][proxy][counters]") {
  WorkerCounters counters;
  InFlightRequests in_flight(counters);
  auto& a = counters.add();
  auto& b = counters.add();
  CHECK(in_flight.load() == 0);
  {
    GaugeGuard one(a.active_requests);
    GaugeGuard two(b.active_requests);
    GaugeGuard three(b.active_requests);
    CHECK(in_flight.load() == 3);
  }
  CHECK(in_flight.load() == 0);
}
