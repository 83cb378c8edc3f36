// Recycled<T>: per-thread free lists for the objects a request needs only while it runs (parsers,
// serializers, the relay chunk). A worker reuses the same few blocks for every request instead of
// a malloc/free of a few KiB each time, and an idle connection holds none of them.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::proxy {

namespace detail {

// The free blocks of one type on this thread; freed when the thread ends.
template <class T>
class FreeBlocks {
 public:
  static FreeBlocks& local() {
    thread_local FreeBlocks blocks;
    return blocks;
  }
  void* take() {
    if (free_.empty()) return ::operator new(sizeof(T), std::align_val_t(alignof(T)));
    void* p = free_.back();
    free_.pop_back();
    return p;
  }
  void give_back(void* p) noexcept {
    if (free_.size() < max_free) {
      try {
        free_.push_back(p);
        return;
      } catch (...) {
      }
    }
    ::operator delete(p, std::align_val_t(alignof(T)));
  }
  ~FreeBlocks() {
    for (void* p : free_) ::operator delete(p, std::align_val_t(alignof(T)));
  }

 private:
  // Enough for the requests one worker has in flight at once under load; beyond, plain delete.
  static constexpr std::size_t max_free = 256;
  std::vector<void*> free_;
};

}  // namespace detail

template <class T>
struct RecycledDelete {
  void operator()(T* p) const noexcept {
    p->~T();
    detail::FreeBlocks<T>::local().give_back(p);
  }
};

// May be destroyed on any thread: the block joins that thread's free list.
template <class T>
using Recycled = std::unique_ptr<T, RecycledDelete<T>>;

template <class T, class... Args>
Recycled<T> make_recycled(Args&&... args) {
  void* p = detail::FreeBlocks<T>::local().take();
  try {
    // Default-initialised when there are no arguments: a relay chunk is not zero-filled.
    if constexpr (sizeof...(Args) == 0) {
      return Recycled<T>(new (p) T);
    } else {
      return Recycled<T>(new (p) T(std::forward<Args>(args)...));
    }
  } catch (...) {
    detail::FreeBlocks<T>::local().give_back(p);
    throw;
  }
}

// Allocator for a connection's read buffer (beast::basic_flat_buffer): requests fit in one 4 KiB
// block from this thread's free list; larger headers take the heap.
struct alignas(16) ReadBlock {
  char bytes[4096];
};

template <class T>
struct ReadBufferAllocator {
  using value_type = T;
  ReadBufferAllocator() noexcept = default;
  template <class U>
  ReadBufferAllocator(const ReadBufferAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n * sizeof(T) <= sizeof(ReadBlock)) return static_cast<T*>(detail::FreeBlocks<ReadBlock>::local().take());
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) <= sizeof(ReadBlock)) return detail::FreeBlocks<ReadBlock>::local().give_back(p);
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const ReadBufferAllocator<U>&) const noexcept { return true; }
};

// A string for one serialised message head (and a short body): taken from this thread's free list
// with its capacity, given back when the scope ends, so a request does not allocate one. An idle
// connection holds none.
class ScratchString {
 public:
  ScratchString() {
    auto& free = free_list();
    if (!free.empty()) {
      text_ = std::move(free.back());
      free.pop_back();
    }
    text_.clear();
  }
  ~ScratchString() {
    auto& free = free_list();
    if (free.size() < max_free && text_.capacity() <= max_kept_capacity) {
      try {
        free.push_back(std::move(text_));
      } catch (...) {
      }
    }
  }
  ScratchString(const ScratchString&) = delete;
  ScratchString& operator=(const ScratchString&) = delete;
  std::string& operator*() noexcept { return text_; }
  std::string* operator->() noexcept { return &text_; }

 private:
  static constexpr std::size_t max_free = 64;
  static constexpr std::size_t max_kept_capacity = 32 * 1024;
  static std::vector<std::string>& free_list() {
    thread_local std::vector<std::string> free;
    return free;
  }
  std::string text_;
};

}  // namespace portcullis::proxy
