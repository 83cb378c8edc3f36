#include "base/connections_per_ip.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <random>

namespace portcullis::base {
namespace {

// SplitMix64's finaliser: every input bit moves every output bit.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

std::uint64_t random_key() {
  std::random_device device;
  return std::uint64_t{device()} << 32 | device();
}

}  // namespace

ConnectionsPerIp::ConnectionsPerIp(std::size_t buckets)
    : mask_(std::bit_ceil(std::max<std::size_t>(buckets, 2)) - 1),
      key0_(random_key()),
      key1_(random_key()),
      counters_(new std::atomic<std::uint32_t>[2 * (mask_ + 1)]) {
  for (std::size_t i = 0; i < 2 * (mask_ + 1); ++i) counters_[i].store(0, std::memory_order_relaxed);
}

std::pair<std::size_t, std::size_t> ConnectionsPerIp::slots(const boost::asio::ip::address& client) const noexcept {
  std::uint64_t high = 0, low = 0;
  if (client.is_v4() || (client.is_v6() && client.to_v6().is_v4_mapped())) {
    const auto v4 = client.is_v4() ? client.to_v4()
                                   : boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, client.to_v6());
    low = v4.to_uint();
    high = 1;  // tells the families apart
  } else {
    const auto bytes = client.to_v6().to_bytes();
    std::memcpy(&high, bytes.data(), 8);
    std::memcpy(&low, bytes.data() + 8, 8);
  }
  const std::uint64_t h0 = mix(mix(high ^ key0_) ^ low);
  const std::uint64_t h1 = mix(mix(high ^ key1_) ^ low ^ key0_);
  return {static_cast<std::size_t>(h0) & mask_, (mask_ + 1) + (static_cast<std::size_t>(h1) & mask_)};
}

ConnectionsPerIp::Lease ConnectionsPerIp::try_acquire(const boost::asio::ip::address& client,
                                                      std::uint32_t cap) noexcept {
  const auto [a, b] = slots(client);
  const auto first = counters_[a].fetch_add(1, std::memory_order_relaxed) + 1;
  const auto second = counters_[b].fetch_add(1, std::memory_order_relaxed) + 1;
  if (cap != 0 && std::min(first, second) > cap) {
    counters_[a].fetch_sub(1, std::memory_order_relaxed);
    counters_[b].fetch_sub(1, std::memory_order_relaxed);
    return {};
  }
  return Lease(this, a, b);
}

std::uint32_t ConnectionsPerIp::count(const boost::asio::ip::address& client) const noexcept {
  const auto [a, b] = slots(client);
  return std::min(counters_[a].load(std::memory_order_relaxed), counters_[b].load(std::memory_order_relaxed));
}

void ConnectionsPerIp::Lease::release() noexcept {
  if (owner_ == nullptr) return;
  owner_->counters_[first_].fetch_sub(1, std::memory_order_relaxed);
  owner_->counters_[second_].fetch_sub(1, std::memory_order_relaxed);
  owner_ = nullptr;
}

}  // namespace portcullis::base
