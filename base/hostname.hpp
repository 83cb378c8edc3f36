// Host name helpers shared by CertBundle and CertSnapshot: lower-casing into a stack buffer (the
// SNI path must not allocate) and RFC 6125 name matching. Used by certstore (CertBundle, CertSnapshot).
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace portcullis::base {

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A host name lower-cased with one trailing dot removed. Views the input when it already is in
// that form; copies into the stack buffer only when it has upper case or a trailing dot.
// RFC 1035 §2.3.4 caps a name at 255 octets; a longer one is !ok() and matches nothing.
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

// The part after the first label ("a.example.com" -> "example.com"); empty when there is none.
constexpr std::string_view parent_of(std::string_view host) noexcept {
  std::size_t dot = host.find('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return host.substr(dot + 1);
}

// RFC 6125 §6.4.3, restricted as CAs issue them: a wildcard is a whole left-most label "*." and
// matches exactly one non-empty label, so "*.example.com" covers "a.example.com" but neither
// "example.com" nor "a.b.example.com". Both sides are lower-case without a trailing dot.
constexpr bool name_matches(std::string_view pattern, std::string_view host) noexcept {
  if (pattern == host) return true;
  if (!pattern.starts_with("*.") || pattern.size() < 3) return false;
  std::string_view parent = parent_of(host);
  return !parent.empty() && parent == pattern.substr(2);
}

}  // namespace portcullis::base
