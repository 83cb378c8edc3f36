// ConnectionsPerIp: how many connections each client address holds, shared by every thread that
// accepts (the proxy's workers, the admin listener, the DNS server's TCP side), without a mutex.
//
// The kernel spreads one address's connections over the workers' SO_REUSEPORT acceptors by a hash
// of the four-tuple, not evenly: a per-worker share of the cap (cap / workers) would refuse a
// client behind a NAT well below the cap as soon as one worker got more than its share. So the
// count is process-wide, in a fixed table of atomic counters (a count-min sketch): an address
// raises two counters chosen by a keyed hash (a random key per process, so nobody outside can aim
// at another address's counters), and its count is the smaller of the two. Two addresses share
// both counters only by a double collision; then the count is too high, never too low, and a
// connection may be refused early. With the default 2 x 65,536
// counters and 20,000 connections at most 20 counters of each row can stand at a cap of 1,000, so
// an address is refused early with a probability below (20 / 65,536)^2 ≈ 1e-7. Memory is fixed
// (512 KiB at the default size) whatever the number of addresses.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include <boost/asio/ip/address.hpp>

namespace portcullis::base {

class ConnectionsPerIp {
 public:
  static constexpr std::size_t default_buckets = 65'536;

  // A connection's hold on its address's counters, released on destruction. Movable; an empty
  // lease (default, or moved from) holds nothing.
  class Lease {
   public:
    Lease() noexcept = default;
    Lease(Lease&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), first_(other.first_), second_(other.second_) {}
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        first_ = other.first_;
        second_ = other.second_;
      }
      return *this;
    }
    ~Lease() { release(); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    bool held() const noexcept { return owner_ != nullptr; }

   private:
    friend class ConnectionsPerIp;
    Lease(ConnectionsPerIp* owner, std::size_t first, std::size_t second) noexcept
        : owner_(owner), first_(first), second_(second) {}
    void release() noexcept;
    ConnectionsPerIp* owner_ = nullptr;
    std::size_t first_ = 0, second_ = 0;
  };

  // `buckets`: counters per row, rounded up to a power of two. The key is drawn at random.
  explicit ConnectionsPerIp(std::size_t buckets = default_buckets);

  // One more connection from `client` if it holds fewer than `cap` (0: no cap, always admitted);
  // an empty lease when it is at the cap. Thread-safe, lock-free: two atomic additions (and two
  // subtractions on a refusal). Threads racing at the cap see the two counters in different
  // orders, so the count may end up to one per racing thread on either side of the cap: a
  // bound for exhaustion, not an exact quota. An IPv4-mapped IPv6 address counts as its IPv4 one.
  Lease try_acquire(const boost::asio::ip::address& client, std::uint32_t cap) noexcept;

  // The count of `client` as the table sees it (an upper bound of the truth). Thread-safe.
  std::uint32_t count(const boost::asio::ip::address& client) const noexcept;

 private:
  std::pair<std::size_t, std::size_t> slots(const boost::asio::ip::address& client) const noexcept;

  std::size_t mask_;
  std::uint64_t key0_, key1_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> counters_;  // two rows of mask_ + 1
};

}  // namespace portcullis::base
