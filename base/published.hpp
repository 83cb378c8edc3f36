// Published<T>: one immutable snapshot shared by the control thread (writer) and the workers
// (readers). Readers never lock; a writer builds the next snapshot beside the live one and
// publishes it. Used for CertSnapshot (CertRegistry), the route table and the challenge board.
#pragma once

#include <atomic>
#include <memory>

namespace portcullis::base {

template <class T>
class Published {
 public:
  explicit Published(std::shared_ptr<const T> initial = std::make_shared<const T>())
      : current_(std::move(initial)) {}

  // Thread-safe, lock-free for readers. Never returns nullptr.
  std::shared_ptr<const T> current() const noexcept { return current_.load(std::memory_order_acquire); }

  // Thread-safe. In-flight readers keep the old snapshot alive until they drop it.
  void publish(std::shared_ptr<const T> next) noexcept {
    current_.store(std::move(next), std::memory_order_release);
    version_.fetch_add(1, std::memory_order_acq_rel);
  }

  // Bumped on every publish; lets a worker cache current() and re-load only on change.
  unsigned long version() const noexcept { return version_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::shared_ptr<const T>> current_;
  std::atomic<unsigned long> version_{0};
};

}  // namespace portcullis::base
