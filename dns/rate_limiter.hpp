// Response rate limiting for the UDP side of the DNS server: a token bucket per client network
// (/24 for IPv4, /56 for IPv6), so one network cannot make the server reflect a flood of answers
// at a spoofed victim. Over the limit, every `slip`-th response is sent truncated (TC=1, nothing
// but the question) and the rest dropped: a real resolver behind that network retries over TCP,
// which is not limited, while a victim receives no more than the attacker sent.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

namespace portcullis::dns {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict { answer, slip, drop };

  // Networks remembered at most. Past it the network seen least recently is forgotten to make
  // room for a new one: a flood from many networks costs the buckets of the idlest ones, never
  // those of a network still sending (which would go unlimited if every bucket were cleared).
  static constexpr std::size_t max_networks = 65'536;

  // `per_second` responses a second per network, with a burst of as many; 0 turns limiting off.
  // `slip` 0 drops every limited response; 1 truncates every one. `capacity`: networks remembered.
  explicit RateLimiter(std::uint32_t per_second, unsigned slip = 2, std::size_t capacity = max_networks)
      : rate_(per_second), slip_(slip), capacity_(capacity == 0 ? 1 : capacity) {}

  // Called once per response about to be sent to `client`. Not thread-safe: one per server thread.
  Verdict check(const boost::asio::ip::address& client, Clock::time_point now);

  // The network a client belongs to, as a key (exposed for tests).
  static std::uint64_t network_of(const boost::asio::ip::address& client) noexcept;
  std::size_t networks() const noexcept { return index_.size(); }
  // Whether `client`'s network has a bucket now (exposed for tests).
  bool remembers(const boost::asio::ip::address& client) const { return index_.contains(network_of(client)); }

 private:
  struct Bucket {
    std::uint64_t key = 0;
    double tokens = 0;
    Clock::time_point last;
    std::uint64_t limited = 0;  // responses over the limit so far, for the slip rotation
  };
  Bucket& bucket_of(std::uint64_t key, Clock::time_point now);

  std::uint32_t rate_;
  unsigned slip_;
  std::size_t capacity_;
  std::list<Bucket> recency_;  // least recently seen first; a seen bucket moves to the back
  std::unordered_map<std::uint64_t, std::list<Bucket>::iterator> index_;
};

}  // namespace portcullis::dns
