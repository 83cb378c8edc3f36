#include "base/connections_per_ip.hpp"

#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using portcullis::base::ConnectionsPerIp;
using boost::asio::ip::make_address;

TEST_CASE("connections per ip: an address is admitted up to its cap, others are not affected", "[unit][base]") {
  ConnectionsPerIp table;
  const auto a = make_address("192.0.2.1");
  const auto b = make_address("192.0.2.2");
  std::vector<ConnectionsPerIp::Lease> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(table.try_acquire(a, 3));
    REQUIRE(held.back().held());
  }
  CHECK_FALSE(table.try_acquire(a, 3).held());
  CHECK(table.count(a) == 3);
  // The refusal left no count behind.
  CHECK_FALSE(table.try_acquire(a, 3).held());
  CHECK(table.count(a) == 3);
  CHECK(table.try_acquire(b, 3).held());
  // A connection that ends frees its place.
  held.pop_back();
  CHECK(table.count(a) == 2);
  CHECK(table.try_acquire(a, 3).held());
}

TEST_CASE("connections per ip: cap 0 admits every connection, v4-mapped counts as v4, moves keep one hold",
          "[unit][base]") {
  ConnectionsPerIp table(16);
  std::vector<ConnectionsPerIp::Lease> held;
  for (int i = 0; i < 100; ++i) held.push_back(table.try_acquire(make_address("198.51.100.7"), 0));
  CHECK(table.count(make_address("198.51.100.7")) == 100);
  held.clear();
  auto v4 = table.try_acquire(make_address("203.0.113.5"), 1);
  REQUIRE(v4.held());
  CHECK_FALSE(table.try_acquire(make_address("::ffff:203.0.113.5"), 1).held());
  ConnectionsPerIp::Lease moved = std::move(v4);
  CHECK(moved.held());
  CHECK_FALSE(v4.held());  // NOLINT(bugprone-use-after-move): the moved-from lease is empty
  CHECK(table.count(make_address("203.0.113.5")) == 1);
  moved = ConnectionsPerIp::Lease();
  CHECK(table.count(make_address("203.0.113.5")) == 0);
}

TEST_CASE("connections per ip: threads racing at the cap stay within one connection each of it", "[unit][base]") {
  ConnectionsPerIp table;
  const auto a = make_address("2001:db8::1");
  constexpr std::uint32_t cap = 100;
  std::vector<std::vector<ConnectionsPerIp::Lease>> held(4);
  std::vector<std::thread> threads;
  for (auto& mine : held) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto lease = table.try_acquire(a, cap);
        if (lease.held()) mine.push_back(std::move(lease));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::size_t admitted = 0;
  for (const auto& mine : held) admitted += mine.size();
  CHECK(admitted <= cap + 3);
  CHECK(admitted >= cap - 3);
  CHECK(table.count(a) == admitted);
}

TEST_CASE("connections per ip: 20 addresses at a cap of 1,000 leave every other address its room", "[unit][base]") {
  // The sketch over-counts an address only when both its counters are raised to the cap by
  // others: with 20,000 connections at most 20 counters of each row get there.
  ConnectionsPerIp table;
  constexpr std::uint32_t cap = 1'000;
  std::vector<ConnectionsPerIp::Lease> held;
  for (std::uint32_t heavy = 0; heavy < 20; ++heavy) {
    for (std::uint32_t i = 0; i < cap; ++i) {
      held.push_back(table.try_acquire(boost::asio::ip::address_v4(0xC6336400u + heavy), cap));
      REQUIRE(held.back().held());
    }
  }
  std::size_t refused = 0;
  for (std::uint32_t i = 0; i < 50'000; ++i) {
    if (!table.try_acquire(boost::asio::ip::address_v4(0x0A000000u + i), cap).held()) ++refused;
  }
  CHECK(refused == 0);
}
