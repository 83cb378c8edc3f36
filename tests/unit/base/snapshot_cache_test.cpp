#include "base/snapshot_cache.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using portcullis::base::Published;
using portcullis::base::SnapshotCache;

namespace {

struct Table {
  std::uint64_t serial = 0;
};

}  // namespace

TEST_CASE("a snapshot cache re-loads only when the version moved", "[unit][base]") {
  Published<Table> source(std::make_shared<const Table>(Table{0}));
  SnapshotCache<Table> cache(source);
  CHECK(cache.peek().serial == 0);
  CHECK(cache.lease()->serial == 0);
  CHECK(cache.reloads() == 1);
  for (int i = 0; i < 10; ++i) (void)cache.peek();
  CHECK(cache.reloads() == 1);

  source.publish(std::make_shared<const Table>(Table{1}));
  CHECK(cache.peek().serial == 1);
  CHECK(cache.reloads() == 2);
  CHECK(cache.peek().serial == 1);
  CHECK(cache.reloads() == 2);
}

TEST_CASE("a lease keeps its snapshot after a newer one is published", "[unit][base]") {
  auto first = std::make_shared<const Table>(Table{1});
  std::weak_ptr<const Table> watch = first;
  Published<Table> source(std::move(first));
  SnapshotCache<Table> cache(source);

  auto lease = cache.lease();
  auto copy = lease;
  source.publish(std::make_shared<const Table>(Table{2}));
  CHECK(cache.peek().serial == 2);
  // The published slot and the cache moved on; only the two leases hold the first table.
  REQUIRE_FALSE(watch.expired());
  CHECK(lease->serial == 1);
  lease.reset();
  REQUIRE_FALSE(watch.expired());
  CHECK(copy->serial == 1);
  copy.reset();
  CHECK(watch.expired());
}

TEST_CASE("a lease may outlive its cache", "[unit][base]") {
  auto first = std::make_shared<const Table>(Table{7});
  std::weak_ptr<const Table> watch = first;
  Published<Table> source(std::move(first));
  SnapshotCache<Table>::Lease lease;
  {
    SnapshotCache<Table> cache(source);
    lease = cache.lease();
  }
  CHECK(lease->serial == 7);
  source.publish(std::make_shared<const Table>(Table{8}));
  REQUIRE_FALSE(watch.expired());
  lease.reset();
  CHECK(watch.expired());
}

TEST_CASE("a cached snapshot is at least as new as the version read before it", "[unit][base]") {
  // The writer publishes serial n as version n; every reader reads the version, then takes a
  // lease, and must never see an older serial than that version.
  constexpr std::uint64_t publishes = 20000;
  constexpr int readers = 3;
  Published<Table> source(std::make_shared<const Table>(Table{0}));
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> stale{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&] {
      SnapshotCache<Table> cache(source);
      std::uint64_t last = 0;
      std::uint64_t n = 0;
      ready.fetch_add(1);
      // Bounded: at least 1,000 reads, then until the writer is done or 50 million reads.
      while ((n < 1000 || !done.load(std::memory_order_acquire)) && n < 50'000'000) {
        const std::uint64_t version = source.version();
        auto lease = cache.lease();
        if (lease->serial < version || lease->serial < last) stale.fetch_add(1);
        last = lease->serial;
        ++n;
      }
      reads.fetch_add(n);
    });
  }
  // The readers run while the writer publishes (bounded wait for them to start).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ready.load() < readers && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  for (std::uint64_t i = 1; i <= publishes; ++i) source.publish(std::make_shared<const Table>(Table{i}));
  done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  CHECK(stale.load() == 0);
  CHECK(reads.load() >= readers * 1000u);
  SnapshotCache<Table> after(source);
  CHECK(after.peek().serial == publishes);
}

TEST_CASE("the snapshots a cache lets go go to the source's reclaimer, not freed by the reader", "[unit][base]") {
  auto first = std::make_shared<const Table>(Table{1});
  std::weak_ptr<const Table> watch = first;
  Published<Table> source(std::move(first));
  std::vector<std::shared_ptr<const Table>> reclaimed;  // stands in for the control thread's queue
  source.set_reclaimer([&](std::shared_ptr<const Table> t) { reclaimed.push_back(std::move(t)); });
  SnapshotCache<Table> cache(source);

  CHECK(cache.peek().serial == 1);
  auto lease = cache.lease();
  source.publish(std::make_shared<const Table>(Table{2}));
  CHECK(cache.peek().serial == 2);
  CHECK(reclaimed.empty());  // still leased
  lease.reset();             // the last lease: handed over, still alive
  REQUIRE(reclaimed.size() == 1);
  CHECK(reclaimed[0]->serial == 1);
  REQUIRE_FALSE(watch.expired());
  reclaimed.clear();  // the reclaimer's thread frees it
  CHECK(watch.expired());

  // A cache that moves on with no lease out hands the old one over at once.
  source.publish(std::make_shared<const Table>(Table{3}));
  CHECK(cache.peek().serial == 3);
  REQUIRE(reclaimed.size() == 1);
  CHECK(reclaimed[0]->serial == 2);
}
