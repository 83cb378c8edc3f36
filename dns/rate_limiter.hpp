// Response rate limiting for the UDP side of the DNS server: a token bucket per client network
// (/24 for IPv4, /56 for IPv6), so one network cannot make the server reflect a flood of answers
// at a spoofed victim. Over the limit, every `slip`-th response is sent truncated (TC=1, nothing
// but the question) and the rest dropped: a real resolver behind that network retries over TCP,
// which is not limited, while a victim receives no more than the attacker sent.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

namespace portcullis::dns {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict { answer, slip, drop };

  // Networks remembered at most; past it, the full buckets (idle networks) are forgotten, and if
  // that is not enough, every bucket (a flood from many networks briefly goes unlimited rather
  // than growing memory without bound).
  static constexpr std::size_t max_networks = 65'536;

  // `per_second` responses a second per network, with a burst of as many; 0 turns limiting off.
  // `slip` 0 drops every limited response; 1 truncates every one.
  explicit RateLimiter(std::uint32_t per_second, unsigned slip = 2) : rate_(per_second), slip_(slip) {}

  // Called once per response about to be sent to `client`. Not thread-safe: one per server thread.
  Verdict check(const boost::asio::ip::address& client, Clock::time_point now);

  // The network a client belongs to, as a key (exposed for tests).
  static std::uint64_t network_of(const boost::asio::ip::address& client) noexcept;
  std::size_t networks() const noexcept { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
    std::uint64_t limited = 0;  // responses over the limit so far, for the slip rotation
  };
  void forget_idle(Clock::time_point now);

  std::uint32_t rate_;
  unsigned slip_;
  std::unordered_map<std::uint64_t, Bucket> buckets_;
};

}  // namespace portcullis::dns
