// The one place host names are normalised, validated and matched. Normalised means lower-case
// ASCII with one trailing dot removed; every index (routes, certificates, challenges) holds names
// in that form, so a lookup normalises once and compares bytes. Used by every folder above base/.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::base {

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `host` normalised into `out` (replacing its contents). Reuses out's capacity: a caller that keeps
// the string across lookups allocates only when a name outgrows it.
void normalize_hostname_into(std::string& out, std::string_view host);
std::string normalize_hostname(std::string_view host);

// A host name normalised without allocating, for the handshake and request paths. Views the input
// when it already is in normal form; copies into the stack buffer only when it has upper case or a
// trailing dot. RFC 1035 §2.3.4 caps a name at 255 octets; a longer one is !ok() and matches nothing.
class LowerHost {
 public:
  static constexpr std::size_t max_length = 255;

  explicit LowerHost(std::string_view host) noexcept {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (host.size() > max_length) {
      ok_ = false;
      return;
    }
    bool has_upper = false;
    for (char c : host) has_upper |= (c >= 'A' && c <= 'Z');
    if (!has_upper) {
      view_ = host;
      return;
    }
    for (std::size_t i = 0; i < host.size(); ++i) buffer_[i] = ascii_lower(host[i]);
    view_ = std::string_view(buffer_.data(), host.size());
  }
  LowerHost(const LowerHost&) = delete;  // view_ may point into buffer_
  LowerHost& operator=(const LowerHost&) = delete;

  bool ok() const noexcept { return ok_; }
  std::string_view view() const noexcept { return view_; }

 private:
  std::array<char, max_length> buffer_;
  std::string_view view_;
  bool ok_ = true;
};

// True for an IPv4 or IPv6 literal ("10.0.0.1", "::1", "fe80::1%eth0").
bool is_ip_address(std::string_view text);

// Why `name` (normalised) is not a host name Portcullis serves, or std::nullopt when it is one.
// The rules: RFC 1035/1123 labels of 1 to 63 characters a-z, 0-9 and "-", neither first nor last;
// at most 253 characters; not an IP address; the last label not all digits; a wildcard only as
// the whole leftmost label "*." followed by at least two labels. The reason is a phrase for an
// error message ("empty label", "a label is longer than 63 characters").
std::optional<std::string> hostname_problem(std::string_view name);

constexpr bool is_wildcard(std::string_view name) noexcept { return name.starts_with("*."); }

// The part after the first label ("a.example.com" -> "example.com"); empty when there is none.
constexpr std::string_view parent_of(std::string_view host) noexcept {
  std::size_t dot = host.find('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return host.substr(dot + 1);
}

// RFC 6125 §6.4.3, restricted as CAs issue them: a wildcard is a whole left-most label "*." and
// matches exactly one non-empty label, so "*.example.com" covers "a.example.com" but neither
// "example.com" nor "a.b.example.com". Both sides are normalised.
constexpr bool name_matches(std::string_view pattern, std::string_view host) noexcept {
  if (pattern == host) return true;
  if (!is_wildcard(pattern) || pattern.size() < 3) return false;
  std::string_view parent = parent_of(host);
  return !parent.empty() && parent == pattern.substr(2);
}

}  // namespace portcullis::base
