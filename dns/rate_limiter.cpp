#include "dns/rate_limiter.hpp"

#include <algorithm>

namespace portcullis::dns {

std::uint64_t RateLimiter::network_of(const boost::asio::ip::address& client) noexcept {
  if (client.is_v6() && client.to_v6().is_v4_mapped()) {
    return network_of(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, client.to_v6()));
  }
  if (client.is_v4()) {
    // The top bit tells the families apart; the /24 is the address without its last octet.
    return (std::uint64_t{1} << 63) | (client.to_v4().to_uint() >> 8);
  }
  const auto bytes = client.to_v6().to_bytes();
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < 7; ++i) key = key << 8 | bytes[i];  // the /56
  return key;
}

RateLimiter::Bucket& RateLimiter::bucket_of(std::uint64_t key, Clock::time_point now) {
  if (auto it = index_.find(key); it != index_.end()) {
    recency_.splice(recency_.end(), recency_, it->second);  // now the most recently seen
    return *it->second;
  }
  const Bucket fresh{key, static_cast<double>(rate_), now, 0};
  if (index_.size() >= capacity_) {
    // Full: the least recently seen network gives up its bucket, whose node is reused.
    index_.erase(recency_.front().key);
    recency_.splice(recency_.end(), recency_, recency_.begin());
    recency_.back() = fresh;
  } else {
    recency_.push_back(fresh);
  }
  index_.emplace(key, std::prev(recency_.end()));
  return recency_.back();
}

RateLimiter::Verdict RateLimiter::check(const boost::asio::ip::address& client, Clock::time_point now) {
  if (rate_ == 0) return Verdict::answer;
  Bucket& bucket = bucket_of(network_of(client), now);
  const double elapsed = std::chrono::duration<double>(now - bucket.last).count();
  bucket.tokens = std::min<double>(rate_, bucket.tokens + std::max(0.0, elapsed) * rate_);
  bucket.last = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return Verdict::answer;
  }
  ++bucket.limited;
  return slip_ != 0 && bucket.limited % slip_ == 0 ? Verdict::slip : Verdict::drop;
}

}  // namespace portcullis::dns
