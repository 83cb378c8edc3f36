// Cidr and Allowlist: the per-endpoint IP allowlist, checked at accept time for IPv4 and IPv6.
// An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is matched as IPv4.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "base/error.hpp"

namespace portcullis::domain {

class Cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (= /32 or /128). Host bits set below the
  // prefix are an error ("10.0.0.1/8: host bits set; did you mean 10.0.0.0/8?").
  static Result<Cidr> parse(std::string_view text);
  bool contains(const boost::asio::ip::address& addr) const noexcept;
  std::string to_string() const;

 private:
  std::array<std::uint8_t, 16> bytes_{};
  bool v6_ = false;
  int prefix_ = 0;
};

class Allowlist {
 public:
  Allowlist() = default;
  explicit Allowlist(std::vector<Cidr> cidrs) : cidrs_(std::move(cidrs)) {}
  bool open() const noexcept { return cidrs_.empty(); }
  bool allows(const boost::asio::ip::address& addr) const noexcept;

 private:
  std::vector<Cidr> cidrs_;
};

}  // namespace portcullis::domain
