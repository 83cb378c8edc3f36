// BlockingPool: a few threads for the calls that block on a disk or a database (Storage, durable
// file writes) or burn CPU (key generation, PEM parsing), so that the control thread awaiting them
// keeps serving its timers, signals and publishes. The awaiting coroutine resumes on its own
// executor with the result; nothing the call throws reaches the pool thread.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/error.hpp"

namespace portcullis::base {

namespace detail {
// What run() hands back for a function returning T: Result<T> as it is, Status for void, and any
// other T wrapped in Result<T>.
template <class T>
struct PoolResult {
  using type = Result<T>;
};
template <class T>
struct PoolResult<tl::expected<T, Error>> {
  using type = tl::expected<T, Error>;
};
template <>
struct PoolResult<void> {
  using type = Status;
};

template <class F, class R = typename PoolResult<std::invoke_result_t<F&>>::type>
R invoke_caught(F& f) noexcept {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      f();
      return {};
    } else {
      return f();
    }
  } catch (const std::exception& e) {
    return fail(Errc::internal, std::string("blocking call threw: ") + e.what());
  } catch (...) {
    return fail(Errc::internal, "blocking call threw a non-standard exception");
  }
}
}  // namespace detail

class BlockingPool {
 public:
  static constexpr std::size_t default_threads = 2;

  explicit BlockingPool(std::size_t threads = default_threads);
  // Abandons queued calls that have not started, then joins (see finish() for the orderly end).
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  template <class F>
  using result_of = typename detail::PoolResult<std::invoke_result_t<F&>>::type;

  // Runs `f` on a pool thread, alongside other run() calls (key generation, PEM parsing, file
  // writes). The caller suspends and resumes on its own executor with f's result; an exception
  // becomes Errc::internal. Not cancellable: a cancelled caller resumes when `f` has returned and
  // sees its cancellation at its next asynchronous step; the caller stays suspended until `f` has
  // returned, so `f` may refer to the caller's locals.
  template <class F>
  boost::asio::awaitable<result_of<F>> run(F f) {
    if (finished_) co_return detail::invoke_caught(f);
    auto executor = pool_.get_executor();
    auto call = submit(executor, std::move(f));
    co_return co_await std::move(call);
  }

  // The same on the store lane: one call at a time, in the order submitted. Every Storage call
  // goes here, so a store implementation need not be thread-safe and a write is visible to every
  // call submitted after it (see docs/design-notes.md).
  template <class F>
  boost::asio::awaitable<result_of<F>> store(F f) {
    if (finished_) co_return detail::invoke_caught(f);
    auto call = submit(store_lane_, std::move(f));
    co_return co_await std::move(call);
  }

  // Queues `f` on the store lane without waiting for it (write-behind of state already kept in
  // memory, releases on an error path). `f` reports its own failure; exceptions are logged.
  void post_store(std::function<void()> f);

  // The pool's threads, for start-up work that fans out and waits (blocking the caller).
  boost::asio::thread_pool::executor_type executor() noexcept { return pool_.get_executor(); }
  std::size_t threads() const noexcept { return threads_; }

  // Lets every queued call run to its end and joins the threads. Later calls run inline on the
  // caller (the process is going down). Call from the control thread once the tasks that submit
  // have ended; idempotent.
  void finish();

 private:
  template <class Executor, class F>
  boost::asio::awaitable<result_of<F>> submit(Executor target, F f) {
    using R = result_of<F>;
    auto initiation = [target](auto handler, F fn) {
      // The caller's executor, holding outstanding work until the result is handed back, so that
      // an io_context with nothing else to do does not return from run() in between.
      auto home = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                      boost::asio::execution::outstanding_work.tracked);
      boost::asio::post(target, [fn = std::move(fn), handler = std::move(handler), home]() mutable {
        R result = detail::invoke_caught(fn);
        boost::asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
          std::move(handler)(std::move(result));
        });
      });
    };
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
        std::move(initiation), boost::asio::use_awaitable, std::move(f));
  }

  std::size_t threads_;
  boost::asio::thread_pool pool_;
  boost::asio::strand<boost::asio::thread_pool::executor_type> store_lane_;
  bool finished_ = false;
};

}  // namespace portcullis::base
