// Published<T>: one immutable snapshot shared by the control thread (writer) and the workers
// (readers). Readers never lock; a writer builds the next snapshot beside the live one and
// publishes it. Used for CertSnapshot (CertRegistry), the route table and the challenge board.
// A reader on a hot path keeps a SnapshotCache (base/snapshot_cache.hpp) instead of calling
// current() each time: current() takes libstdc++'s spin lock and bumps the shared reference count.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace portcullis::base {

template <class T>
class Published {
 public:
  explicit Published(std::shared_ptr<const T> initial = std::make_shared<const T>())
      : current_(std::move(initial)) {}

  // Thread-safe, lock-free for readers. Never returns nullptr.
  std::shared_ptr<const T> current() const noexcept { return current_.load(std::memory_order_acquire); }

  // Thread-safe. In-flight readers keep the old snapshot alive until they drop it. The version is
  // bumped after the snapshot is stored: a reader that sees version v and then calls current()
  // gets the snapshot published as v or a newer one.
  void publish(std::shared_ptr<const T> next) noexcept {
    current_.store(std::move(next), std::memory_order_release);
    version_.fetch_add(1, std::memory_order_acq_rel);
  }

  // Bumped on every publish; lets a worker cache current() and re-load only on change.
  std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }

  // Where the readers' caches (SnapshotCache) hand the snapshots they let go. The reader that
  // drops the last reference frees the snapshot, and freeing a large one (an index of 100,000
  // names) takes tens of milliseconds, which must not run on a worker between two handshakes: the
  // reclaimer moves it to a thread where that wait harms nobody. Set before any reader starts.
  // Unset, a snapshot is freed where it is let go.
  using Reclaimer = std::function<void(std::shared_ptr<const T>)>;
  void set_reclaimer(Reclaimer reclaimer) { reclaimer_ = std::move(reclaimer); }

  // Hands `snapshot` to the reclaimer (if any; if it fails, the snapshot is freed here).
  void let_go(std::shared_ptr<const T> snapshot) const noexcept {
    if (!snapshot || !reclaimer_) return;
    try {
      reclaimer_(std::move(snapshot));
    } catch (...) {
    }
  }

 private:
  std::atomic<std::shared_ptr<const T>> current_;
  std::atomic<std::uint64_t> version_{0};
  Reclaimer reclaimer_;
};

}  // namespace portcullis::base
