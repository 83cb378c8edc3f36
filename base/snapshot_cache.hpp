// SnapshotCache<T>: one thread's copy of a Published<T> snapshot, re-loaded only when the
// published version moves. A look-up costs one acquire load of the version instead of
// Published::current()'s spin lock and shared reference count, which every worker would otherwise
// write on every request and handshake (one cache line bouncing between all cores).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "base/published.hpp"

namespace portcullis::base {

// Owned and used by one thread (a worker); not thread-safe. Leases keep the snapshot they were
// taken from alive with a count of that thread's own (no atomics), so a request suspended across
// a publish still reads the table it started with. Every Lease must be released on the owning
// thread; leases may outlive the cache (the last one frees the snapshot).
template <class T>
class SnapshotCache {
  struct Holder {
    const Published<T>* source;
    std::shared_ptr<const T> snapshot;
    std::size_t leases = 0;
    bool retired = false;  // the cache moved on; the last lease deletes it
  };

  // The snapshot goes to the source's reclaimer (Published::set_reclaimer), not freed here.
  static void release(Holder* holder) noexcept {
    holder->source->let_go(std::move(holder->snapshot));
    delete holder;
  }

 public:
  // A counted reference to one snapshot, for as long as a connection or request needs it.
  class Lease {
   public:
    Lease() = default;
    explicit Lease(Holder* holder) noexcept : holder_(holder) { ++holder_->leases; }
    Lease(const Lease& other) noexcept : holder_(other.holder_) {
      if (holder_) ++holder_->leases;
    }
    Lease(Lease&& other) noexcept : holder_(std::exchange(other.holder_, nullptr)) {}
    Lease& operator=(Lease other) noexcept {
      std::swap(holder_, other.holder_);
      return *this;
    }
    ~Lease() { reset(); }

    void reset() noexcept {
      if (holder_ == nullptr) return;
      if (--holder_->leases == 0 && holder_->retired) release(holder_);
      holder_ = nullptr;
    }
    explicit operator bool() const noexcept { return holder_ != nullptr; }
    const T& operator*() const noexcept { return *holder_->snapshot; }
    const T* operator->() const noexcept { return holder_->snapshot.get(); }
    const T* get() const noexcept { return holder_ ? holder_->snapshot.get() : nullptr; }
    // The shared owner, for a consumer that keeps the snapshot past the lease (copying it costs
    // the shared reference count again).
    const std::shared_ptr<const T>& shared() const noexcept { return holder_->snapshot; }

   private:
    Holder* holder_ = nullptr;
  };

  explicit SnapshotCache(const Published<T>& source) : source_(&source) {}
  ~SnapshotCache() { retire(); }
  SnapshotCache(const SnapshotCache&) = delete;
  SnapshotCache& operator=(const SnapshotCache&) = delete;

  // The snapshot at least as new as the version published when the call began. Re-loads from the
  // source only when its version moved since the last call.
  Lease lease() { return Lease(refresh()); }

  // The same snapshot without a lease: valid until the next call on this cache, so only for a
  // read that finishes before the thread runs anything else (no co_await in between).
  const T& peek() { return *refresh()->snapshot; }

  // Times the snapshot was re-loaded from the source (for tests).
  std::uint64_t reloads() const noexcept { return reloads_; }

 private:
  Holder* refresh() {
    // Acquire: pairs with publish()'s version bump, which follows the store of the snapshot.
    const std::uint64_t version = source_->version();
    if (holder_ == nullptr || version != version_) {
      auto next = source_->current();
      retire();
      holder_ = new Holder{source_, std::move(next)};
      version_ = version;
      ++reloads_;
    }
    return holder_;
  }

  void retire() noexcept {
    if (holder_ == nullptr) return;
    if (holder_->leases == 0) {
      release(holder_);
    } else {
      holder_->retired = true;
    }
    holder_ = nullptr;
  }

  const Published<T>* source_;
  Holder* holder_ = nullptr;
  std::uint64_t version_ = 0;
  std::uint64_t reloads_ = 0;
};

}  // namespace portcullis::base
