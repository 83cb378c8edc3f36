#include "base/async_mutex.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace {

namespace asio = boost::asio;
using portcullis::base::AsyncMutex;
using namespace std::chrono_literals;

constexpr auto run_deadline = 10s;

}  // namespace

TEST_CASE("an async mutex is held across suspensions and handed to waiters in arrival order", "[unit][base]") {
  asio::io_context io;
  AsyncMutex mutex(io.get_executor());
  std::vector<std::string> events;
  auto holder = [&](std::string name) -> asio::awaitable<void> {
    auto lock = co_await mutex.lock();
    REQUIRE(lock);
    events.push_back(name + " in");
    // Suspends while holding it: nobody else may enter meanwhile.
    asio::steady_timer timer(io, 5ms);
    co_await timer.async_wait(asio::use_awaitable);
    co_await asio::post(io, asio::use_awaitable);
    events.push_back(name + " out");
  };
  int ended = 0;
  for (const char* name : {"a", "b", "c"}) {
    asio::co_spawn(io, holder(name), [&](std::exception_ptr e) { ended += e ? 0 : 1; });
  }
  io.run_for(run_deadline);
  CHECK(ended == 3);
  CHECK(events == std::vector<std::string>{"a in", "a out", "b in", "b out", "c in", "c out"});
}

TEST_CASE("a lock released by a moved-from holder is released once", "[unit][base]") {
  asio::io_context io;
  AsyncMutex mutex(io.get_executor());
  int entered = 0;
  auto task = [&]() -> asio::awaitable<void> {
    AsyncMutex::Lock outer;
    {
      auto lock = co_await mutex.lock();
      outer = std::move(lock);
    }
    ++entered;
    outer = AsyncMutex::Lock{};  // released here
    auto again = co_await mutex.lock();
    ++entered;
  };
  asio::co_spawn(io, task(), [](std::exception_ptr) {});
  io.run_for(run_deadline);
  CHECK(entered == 2);
}
