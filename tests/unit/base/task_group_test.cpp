#include "base/task_group.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <sstream>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/sinks/ostream_sink.h>

namespace {

namespace asio = boost::asio;
using portcullis::base::TaskGroup;
using namespace std::chrono_literals;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Far longer than any test runs: a task waiting this long only ends by cancellation.
constexpr auto forever = std::chrono::hours(1);
// Bound on io_context::run_for: the tests finish in milliseconds; this only stops a hang.
constexpr auto run_deadline = 10s;

// A logger whose lines the test reads.
struct CapturedLog {
  std::ostringstream text;
  std::shared_ptr<spdlog::logger> logger = [this] {
    auto l = std::make_shared<spdlog::logger>("task_group_test",
                                              std::make_shared<spdlog::sinks::ostream_sink_st>(text));
    l->set_level(spdlog::level::debug);
    l->set_pattern("%l %v");
    return l;
  }();
  std::string str() const { return text.str(); }
};

// A coroutine that owns `body`, a capturing lambda coroutine: called as a temporary, the lambda
// would be destroyed before the coroutine that refers to its captures runs.
template <class F>
asio::awaitable<void> owned(F body) {
  co_await body();
}

// Runs `body` as a coroutine on `io` and records that it ended without an exception.
void start(asio::io_context& io, std::function<asio::awaitable<void>()> body, bool& ended) {
  asio::co_spawn(io, std::move(body), [&ended](std::exception_ptr e) { ended = !e; });
}

}  // namespace

TEST_CASE("a task group runs its tasks and wait() returns once the last one has freed its slot", "[unit][base]") {
  asio::io_context io;
  CapturedLog log;
  TaskGroup group(io.get_executor(), log.logger);
  int ran = 0;
  for (int i = 0; i < 3; ++i) {
    auto id = group.spawn("count", owned([&ran, &io]() -> asio::awaitable<void> {
      asio::steady_timer timer(io, 1ms);
      co_await timer.async_wait(use_tuple);
      ++ran;
    }));
    CHECK(id.has_value());
  }
  CHECK(group.size() == 3);
  bool waited = false;
  start(io, [&]() -> asio::awaitable<void> { co_await group.wait(); }, waited);
  io.run_for(run_deadline);
  CHECK(ran == 3);
  CHECK(waited);
  CHECK(group.size() == 0);
  CHECK(log.str().find("task failed") == std::string::npos);
}

TEST_CASE("stop() wakes a task waiting on a timer with operation_aborted and wait() returns at once", "[unit][base]") {
  asio::io_context io;
  CapturedLog log;
  TaskGroup group(io.get_executor(), log.logger);
  boost::system::error_code seen;
  bool took_stop = false;
  group.spawn("sleeper", owned([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, forever);
    auto [ec] = co_await timer.async_wait(use_tuple);
    seen = ec;
    took_stop = true;
  }));
  // A task that ignores the aborted wait and waits again: Asio throws at that second co_await.
  group.spawn("stubborn", owned([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, forever);
    for (;;) {
      co_await timer.async_wait(use_tuple);
      timer.expires_after(forever);
    }
  }));
  bool waited = false;
  const auto began = std::chrono::steady_clock::now();
  start(io, [&]() -> asio::awaitable<void> {
    // Let both tasks reach their timers first.
    asio::steady_timer tick(io, 1ms);
    co_await tick.async_wait(use_tuple);
    CHECK(group.size() == 2);
    group.stop();
    co_await group.wait();
  }, waited);
  io.run_for(run_deadline);
  CHECK(waited);
  CHECK(std::chrono::steady_clock::now() - began < 5s);
  CHECK(took_stop);
  CHECK(seen == asio::error::operation_aborted);
  CHECK(group.size() == 0);
  CHECK(group.stopped());
  // Stopped, not failed: the thrown operation_aborted after a cancellation is the normal end.
  CHECK(log.str().find("debug task stopped name=\"stubborn\"") != std::string::npos);
  CHECK(log.str().find("task failed") == std::string::npos);
}

TEST_CASE("an exception escaping a task is logged with the task's name and the other tasks run on", "[unit][base]") {
  asio::io_context io;
  CapturedLog log;
  TaskGroup group(io.get_executor(), log.logger);
  bool other_done = false;
  group.spawn("boom", owned([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, 1ms);
    co_await timer.async_wait(use_tuple);
    throw std::runtime_error("kaput");
  }));
  group.spawn("steady", owned([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, 20ms);
    co_await timer.async_wait(use_tuple);
    other_done = true;
  }));
  bool waited = false;
  start(io, [&]() -> asio::awaitable<void> { co_await group.wait(); }, waited);
  io.run_for(run_deadline);
  CHECK(waited);
  CHECK(other_done);
  CHECK(log.str().find("error task failed name=\"boom\" error=\"kaput\"") != std::string::npos);
  CHECK(group.size() == 0);
}

TEST_CASE("cancel() stops one task and leaves the others running", "[unit][base]") {
  asio::io_context io;
  CapturedLog log;
  TaskGroup group(io.get_executor(), log.logger);
  bool first_aborted = false, second_done = false;
  auto first = group.spawn("first", owned([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, forever);
    auto [ec] = co_await timer.async_wait(use_tuple);
    first_aborted = ec == asio::error::operation_aborted;
  }));
  group.spawn("second", owned([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, 30ms);
    auto [ec] = co_await timer.async_wait(use_tuple);
    second_done = !ec;
  }));
  REQUIRE(first);
  bool waited = false;
  start(io, [&]() -> asio::awaitable<void> {
    asio::steady_timer tick(io, 1ms);
    co_await tick.async_wait(use_tuple);
    group.cancel(*first);
    group.cancel(*first);  // a second cancel is a no-op
    co_await group.wait();
  }, waited);
  io.run_for(run_deadline);
  CHECK(waited);
  CHECK(first_aborted);
  CHECK(second_done);
  CHECK_FALSE(group.stopped());
}

TEST_CASE("after stop() a task group refuses new tasks and a task stopped before its first step never runs",
          "[unit][base]") {
  asio::io_context io;
  CapturedLog log;
  TaskGroup group(io.get_executor(), log.logger);
  bool early_ran = false, late_ran = false;
  REQUIRE(group.spawn("early", owned([&]() -> asio::awaitable<void> {
    early_ran = true;
    co_return;
  })));
  group.stop();
  group.stop();  // idempotent
  CHECK_FALSE(group.spawn("late", owned([&]() -> asio::awaitable<void> {
    late_ran = true;
    co_return;
  })));
  CHECK(group.size() == 1);
  bool waited = false;
  start(io, [&]() -> asio::awaitable<void> { co_await group.wait(); }, waited);
  io.run_for(run_deadline);
  CHECK(waited);
  CHECK_FALSE(early_ran);
  CHECK_FALSE(late_ran);
  CHECK(group.size() == 0);
  CHECK(log.str().find("task not started name=\"late\" reason=stopping") != std::string::npos);
  CHECK(log.str().find("task failed") == std::string::npos);
}

TEST_CASE("wait() on an empty task group returns at once, and a cancelled waiter stops waiting", "[unit][base]") {
  asio::io_context io;
  CapturedLog log;
  TaskGroup group(io.get_executor(), log.logger);
  bool empty_waited = false;
  start(io, [&]() -> asio::awaitable<void> { co_await group.wait(); }, empty_waited);
  io.run_for(run_deadline);
  CHECK(empty_waited);

  io.restart();
  group.spawn("sleeper", owned([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, forever);
    co_await timer.async_wait(use_tuple);
  }));
  asio::cancellation_signal waiter_signal;
  bool waiter_ended = false;
  asio::co_spawn(io, group.wait(),
                 asio::bind_cancellation_slot(waiter_signal.slot(), [&](std::exception_ptr) { waiter_ended = true; }));
  asio::steady_timer later(io, 5ms);
  later.async_wait([&](boost::system::error_code) { waiter_signal.emit(asio::cancellation_type::terminal); });
  for (auto until = std::chrono::steady_clock::now() + run_deadline;
       !waiter_ended && std::chrono::steady_clock::now() < until;) {
    io.run_one_for(run_deadline);
  }
  CHECK(waiter_ended);
  CHECK(group.size() == 1);
  // Clean up: the sleeper goes too.
  group.stop();
  bool waited = false;
  start(io, [&]() -> asio::awaitable<void> { co_await group.wait(); }, waited);
  io.run_for(run_deadline);
  CHECK(waited);
  CHECK(group.size() == 0);
}
