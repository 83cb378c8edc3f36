#include "base/host_authority.hpp"

#include <boost/url/authority_view.hpp>
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>

#include "base/hostname.hpp"

namespace portcullis::base {
namespace {

namespace urls = boost::urls;

// RFC 1035 §2.3.4: 63 octets a label, 255 a name on the wire (253 characters as text).
constexpr std::size_t max_label = 63;
constexpr std::size_t max_name = 253;

constexpr bool name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool fail(std::string_view* why, std::string_view reason) {
  if (why != nullptr) *why = reason;
  return false;
}

// Labels of name characters, one optional trailing dot.
bool valid_name(std::string_view name, std::string_view* why) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return fail(why, "empty host");
  if (name.size() > max_name) return fail(why, "host name longer than 253 characters");
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return fail(why, "empty label in the host name");
      label = 0;
      continue;
    }
    if (!name_char(c)) return fail(why, "character not allowed in a host name");
    if (++label > max_label) return fail(why, "host name label longer than 63 characters");
  }
  if (label == 0) return fail(why, "empty label in the host name");
  return true;
}

// 1 to 5 digits, 1 to 65535 (RFC 3986 allows any number of digits; nothing sane sends more).
bool parse_port(std::string_view digits, std::uint16_t& port, std::string_view* why) {
  if (digits.empty() || digits.size() > 5) return fail(why, "port is not 1 to 65535");
  unsigned value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return fail(why, "port is not 1 to 65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return fail(why, "port is not 1 to 65535");
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

std::string HostAuthority::text() const {
  std::string out;
  out.reserve(host.size() + 8);
  if (kind == HostKind::ipv6) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  if (port != 0) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

std::optional<HostAuthority> parse_host_authority(std::string_view text, std::string_view* why) {
  if (text.empty()) {
    fail(why, "empty host");
    return std::nullopt;
  }
  HostAuthority out;
  if (text.front() != '[') {
    // A name or an IPv4 literal: both are strings of name characters, which valid_name() checks
    // more narrowly than RFC 3986's reg-name (so no userinfo, percent-encoding or second ':'
    // passes). Boost.URL tells the two apart; the whole-authority parse is kept for IP-literals,
    // as it costs more than the rest of the routing of a request.
    const auto colon = text.rfind(':');
    const std::string_view name = text.substr(0, colon);
    if (colon != std::string_view::npos && !parse_port(text.substr(colon + 1), out.port, why)) return std::nullopt;
    if (!valid_name(name, why)) return std::nullopt;
    const bool dotted_digits = name.find_first_not_of("0123456789.") == std::string_view::npos;
    out.kind = dotted_digits && urls::parse_ipv4_address(name) ? HostKind::ipv4 : HostKind::name;
    out.host = normalize_hostname(name);
    return out;
  }
  auto parsed = urls::parse_authority(text);
  if (!parsed) {
    fail(why, "not a host and port");
    return std::nullopt;
  }
  const urls::authority_view& authority = *parsed;
  if (authority.has_userinfo() || authority.host_type() != urls::host_type::ipv6) {
    fail(why, "not an IPv6 literal and port");  // IPvFuture, a zone id, text after the ']'
    return std::nullopt;
  }
  if (authority.has_port() && !parse_port(authority.port(), out.port, why)) return std::nullopt;
  out.kind = HostKind::ipv6;
  out.host = authority.host_ipv6_address().to_string();  // RFC 5952 text
  return out;
}

}  // namespace portcullis::base
