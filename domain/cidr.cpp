#include "domain/cidr.hpp"

#include <algorithm>
#include <charconv>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

namespace portcullis::domain {
namespace {

namespace ip = boost::asio::ip;

// The prefix of an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2): ::ffff:0:0/96.
constexpr int mapped_prefix_bits = 96;

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

tl::unexpected<Error> not_a_cidr(std::string_view text, std::string_view why = {}) {
  std::string message = "expected a CIDR such as \"10.0.0.0/8\" or \"2001:db8::/32\", got " + quoted(text);
  if (!why.empty()) message += " (" + std::string(why) + ")";
  return fail(Errc::config, std::move(message));
}

// True when the first `prefix` bits of a and b are equal.
bool same_prefix(const std::uint8_t* a, const std::uint8_t* b, int prefix) noexcept {
  const int whole = prefix / 8;
  if (!std::equal(a, a + whole, b)) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

// Clears every bit below the prefix; returns whether any was set.
bool clear_host_bits(std::uint8_t* bytes, std::size_t size, int prefix) noexcept {
  bool had = false;
  for (std::size_t i = 0; i < size; ++i) {
    const int bit0 = static_cast<int>(i) * 8;
    std::uint8_t keep = 0xFF;
    if (bit0 >= prefix) {
      keep = 0;
    } else if (bit0 + 8 > prefix) {
      keep = static_cast<std::uint8_t>(0xFF << (8 - (prefix - bit0)));
    }
    if (bytes[i] & ~keep) had = true;
    bytes[i] &= keep;
  }
  return had;
}

}  // namespace

Result<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  if (addr_text.empty()) return not_a_cidr(text);

  boost::system::error_code ec;
  const ip::address addr = ip::make_address(std::string(addr_text), ec);
  if (ec) return not_a_cidr(text, "not an IP address");
  if (addr.is_v6() && addr.to_v6().scope_id() != 0) return not_a_cidr(text, "a zone index has no place in a CIDR");

  const int max_prefix = addr.is_v4() ? 32 : 128;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    const char* end = p.data() + p.size();
    auto [ptr, perr] = std::from_chars(p.data(), end, prefix);
    if (p.empty() || p.size() > 3 || perr != std::errc{} || ptr != end || prefix < 0 || prefix > max_prefix) {
      return not_a_cidr(text, "the prefix length must be 0 to " + std::to_string(max_prefix));
    }
  }

  Cidr out;
  out.prefix_ = prefix;
  if (addr.is_v4()) {
    const auto b = addr.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes_.begin());
  } else {
    const auto v6 = addr.to_v6();
    if (v6.is_v4_mapped() && prefix >= mapped_prefix_bits) {
      // ::ffff:10.0.0.0/104 is 10.0.0.0/8: peers are matched as IPv4, so the CIDR is stored as one.
      const auto b = ip::make_address_v4(ip::v4_mapped, v6).to_bytes();
      std::copy(b.begin(), b.end(), out.bytes_.begin());
      out.prefix_ = prefix - mapped_prefix_bits;
    } else {
      const auto b = v6.to_bytes();
      std::copy(b.begin(), b.end(), out.bytes_.begin());
      out.v6_ = true;
    }
  }

  Cidr network = out;
  if (clear_host_bits(network.bytes_.data(), network.v6_ ? 16 : 4, network.prefix_)) {
    return fail(Errc::config, std::string(text) + ": host bits set; did you mean " + network.to_string() + "?");
  }
  return out;
}

bool Cidr::contains(const ip::address& addr) const noexcept {
  if (addr.is_v4()) {
    if (v6_) return false;
    const auto b = addr.to_v4().to_bytes();
    return same_prefix(bytes_.data(), b.data(), prefix_);
  }
  const auto v6 = addr.to_v6();
  if (v6.is_v4_mapped()) {
    if (v6_) return false;
    const auto b = ip::make_address_v4(ip::v4_mapped, v6).to_bytes();
    return same_prefix(bytes_.data(), b.data(), prefix_);
  }
  if (!v6_) return false;
  const auto b = v6.to_bytes();
  return same_prefix(bytes_.data(), b.data(), prefix_);
}

std::string Cidr::to_string() const {
  std::string addr;
  if (v6_) {
    ip::address_v6::bytes_type b;
    std::copy(bytes_.begin(), bytes_.end(), b.begin());
    addr = ip::address_v6(b).to_string();
  } else {
    ip::address_v4::bytes_type b;
    std::copy(bytes_.begin(), bytes_.begin() + 4, b.begin());
    addr = ip::address_v4(b).to_string();
  }
  return addr + "/" + std::to_string(prefix_);
}

bool Allowlist::allows(const ip::address& addr) const noexcept {
  if (cidrs_.empty()) return true;
  return std::any_of(cidrs_.begin(), cidrs_.end(), [&](const Cidr& c) { return c.contains(addr); });
}

}  // namespace portcullis::domain
