#include "base/blocking_pool.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace {

namespace asio = boost::asio;
using portcullis::Errc;
using portcullis::Result;
using portcullis::Status;
using portcullis::base::BlockingPool;
using namespace std::chrono_literals;

// Bound on io_context::run_for: the calls end in milliseconds; this only stops a hang.
constexpr auto run_deadline = 10s;

// Runs `body` as a coroutine on `io` until it ends (bounded), and reports whether it ended cleanly.
template <class F>
bool run_to_end(asio::io_context& io, F body) {
  bool ended = false;
  asio::co_spawn(io, std::move(body), [&ended](std::exception_ptr e) { ended = !e; });
  io.run_for(run_deadline);
  return ended;
}

}  // namespace

TEST_CASE("a pool call runs off the caller's thread and resumes it on its own thread with the result",
          "[unit][base]") {
  asio::io_context io;
  BlockingPool pool;
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on, resumed_on;
  Result<int> got = 0;
  REQUIRE(run_to_end(io, [&]() -> asio::awaitable<void> {
    got = co_await pool.run([&] {
      ran_on = std::this_thread::get_id();
      return 42;
    });
    resumed_on = std::this_thread::get_id();
  }));
  REQUIRE(got);
  CHECK(*got == 42);
  CHECK(ran_on != caller);
  CHECK(resumed_on == caller);
}

TEST_CASE("a pool call passes a Result through, turns void into Status and an exception into an Error",
          "[unit][base]") {
  asio::io_context io;
  BlockingPool pool;
  Result<std::string> failed = std::string();
  Status done = portcullis::fail(Errc::internal, "not run");
  Result<int> thrown = 0;
  REQUIRE(run_to_end(io, [&]() -> asio::awaitable<void> {
    failed = co_await pool.store([]() -> Result<std::string> { return portcullis::fail(Errc::storage, "disk full"); });
    done = co_await pool.run([] {});
    thrown = co_await pool.run([]() -> int { throw std::runtime_error("boom"); });
  }));
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code() == Errc::storage);
  CHECK(failed.error().message() == "disk full");
  CHECK(done);
  REQUIRE_FALSE(thrown);
  CHECK(thrown.error().code() == Errc::internal);
  CHECK(thrown.error().message().find("boom") != std::string::npos);
}

TEST_CASE("store calls run one at a time in the order submitted, even from concurrent coroutines",
          "[unit][base]") {
  asio::io_context io;
  BlockingPool pool(4);
  std::atomic<int> running{0}, most{0};
  std::vector<int> order;  // appended by store calls only, which never overlap
  auto call = [&](int n) -> asio::awaitable<void> {
    auto done = co_await pool.store([&, n] {
      int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(5ms);  // the blocking work a store call stands for
      order.push_back(n);
      --running;
    });
    REQUIRE(done);
  };
  for (int n = 0; n < 8; ++n) asio::co_spawn(io, call(n), asio::detached);
  io.run_for(run_deadline);
  CHECK(most.load() == 1);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("finish lets queued store calls run to their end, and later calls run inline", "[unit][base]") {
  asio::io_context io;
  BlockingPool pool;
  std::atomic<int> posted{0};
  for (int i = 0; i < 5; ++i) {
    pool.post_store([&] {
      std::this_thread::sleep_for(2ms);
      ++posted;
    });
  }
  pool.finish();
  CHECK(posted.load() == 5);
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  REQUIRE(run_to_end(io, [&]() -> asio::awaitable<void> {
    auto got = co_await pool.store([&] { ran_on = std::this_thread::get_id(); });
    REQUIRE(got);
  }));
  CHECK(ran_on == caller);
}
