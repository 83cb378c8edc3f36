// AsyncMutex: mutual exclusion between coroutines of one executor, held across suspensions (a
// change that reads, writes the store through the pool and publishes must not interleave with
// another). A waiter suspends; nothing blocks a thread.
#pragma once

#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

namespace portcullis::base {

// Every call on the executor's thread. Waiters are served in the order they arrived. The mutex
// must outlive every holder and waiter.
class AsyncMutex {
 public:
  explicit AsyncMutex(boost::asio::any_io_executor executor) : gate_(std::move(executor), 1) {}

  // Unlocks on destruction (also when the holder's coroutine is destroyed or throws).
  class Lock {
   public:
    Lock() = default;
    explicit Lock(AsyncMutex* mutex) : mutex_(mutex) {}
    Lock(Lock&& other) noexcept : mutex_(std::exchange(other.mutex_, nullptr)) {}
    Lock& operator=(Lock&& other) noexcept {
      if (this != &other) {
        release();
        mutex_ = std::exchange(other.mutex_, nullptr);
      }
      return *this;
    }
    ~Lock() { release(); }
    explicit operator bool() const noexcept { return mutex_ != nullptr; }

   private:
    void release() {
      if (mutex_) std::exchange(mutex_, nullptr)->unlock();
    }
    AsyncMutex* mutex_ = nullptr;
  };

  // Completes once the caller holds the mutex; an empty Lock when the wait was cancelled.
  boost::asio::awaitable<Lock> lock() {
    // The channel holds one value: a send completes when its slot is free, and waits otherwise.
    auto [ec] = co_await gate_.async_send(boost::system::error_code{},
                                          boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return Lock{};
    co_return Lock{this};
  }

 private:
  void unlock() {
    gate_.try_receive([](boost::system::error_code) {});
  }
  boost::asio::experimental::channel<void(boost::system::error_code)> gate_;
};

}  // namespace portcullis::base
