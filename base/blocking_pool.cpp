#include "base/blocking_pool.hpp"

#include "base/logging.hpp"

namespace portcullis::base {

BlockingPool::BlockingPool(std::size_t threads)
    : threads_(threads == 0 ? default_threads : threads),
      pool_(threads_),
      store_lane_(boost::asio::make_strand(pool_.get_executor())) {}

BlockingPool::~BlockingPool() {
  pool_.stop();
  pool_.join();
}

void BlockingPool::post_store(std::function<void()> f) {
  auto call = [f = std::move(f)]() noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      log::certstore()->error("store call threw error=\"{}\"", e.what());
    } catch (...) {
      log::certstore()->error("store call threw a non-standard exception");
    }
  };
  if (finished_) {
    call();
    return;
  }
  boost::asio::post(store_lane_, std::move(call));
}

void BlockingPool::finish() {
  if (finished_) return;
  finished_ = true;
  pool_.join();
}

}  // namespace portcullis::base
