#include "base/hostname.hpp"

#include <algorithm>

#include <boost/asio/ip/address.hpp>

#include "base/quote.hpp"

namespace portcullis::base {
namespace {

constexpr std::size_t max_hostname_length = 253;  // RFC 1035 §2.3.4, without the trailing dot
constexpr std::size_t max_label_length = 63;

bool is_ldh(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

void normalize_hostname_into(std::string& out, std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  out.assign(host);
  for (char& c : out) c = ascii_lower(c);
}

std::string normalize_hostname(std::string_view host) {
  std::string out;
  normalize_hostname_into(out, host);
  return out;
}

bool is_ip_address(std::string_view text) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(text), ec);
  return !ec;
}

std::optional<std::string> hostname_problem(std::string_view name) {
  if (name.empty()) return "empty";
  if (is_ip_address(name)) return "an IP address is not a hostname";
  if (name.size() > max_hostname_length) return "longer than 253 characters";
  std::size_t labels = 0;
  bool wildcard = false;
  std::string_view last;
  for (std::string_view rest = name;;) {
    const auto dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    const bool first = labels++ == 0;
    last = label;
    if (label.empty()) return "empty label";
    if (label.find('*') != std::string_view::npos) {
      if (label != "*" || !first) return "a wildcard \"*\" must be the whole leftmost label";
      wildcard = true;
    } else {
      if (label.size() > max_label_length) return "a label is longer than 63 characters";
      for (char c : label) {
        if (!is_ldh(c)) return "character " + quote(std::string_view(&c, 1)) + " is not allowed in a hostname";
      }
      if (label.front() == '-' || label.back() == '-') return "a label may not start or end with \"-\"";
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (wildcard && labels < 3) return "a wildcard needs at least two labels after \"*.\"";
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "the last label may not be all digits";
  }
  return std::nullopt;
}

}  // namespace portcullis::base
