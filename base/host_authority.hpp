// The one check of a request's host authority (RFC 9110 §7.2, RFC 3986 §3.2.2): the Host field
// and the authority of an absolute-form request target both pass through it, on every listener,
// before a host name routes a request or reaches a forwarded header. Parsed with Boost.URL, then
// narrowed to what a served name can be.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::base {

enum class HostKind { name, ipv4, ipv6 };

struct HostAuthority {
  std::string host;        // normalised: lower case, no trailing dot; an IPv6 literal without brackets
  std::uint16_t port = 0;  // 0: no port given
  HostKind kind = HostKind::name;

  // The canonical text: "app.example.com", "app.example.com:8443", "[2001:db8::1]:443".
  std::string text() const;
  // The same host and port (a missing port matches only a missing port).
  bool operator==(const HostAuthority&) const = default;
};

// Parses `text` as `host [ ":" port ]` where host is
//   - an IPv4 literal (dotted decimal, RFC 3986 dec-octets),
//   - an IPv6 literal in brackets (RFC 5952 text afterwards), or
//   - a name of labels of 1 to 63 letters, digits, '-' and '_', at most 253 characters plus one
//     optional trailing dot (RFC 3986's reg-name narrowed: no percent-encoding and no sub-delims
//     such as ',' ';' '=' or quotes, which no DNS name carries and which would break out of a
//     Forwarded field);
// and port is 1 to 5 digits with a value from 1 to 65535. No userinfo, no IPvFuture, no zone id.
// nullopt for anything else, with `why` (when given) a short phrase for the 400 response.
// Thread-safe, pure.
std::optional<HostAuthority> parse_host_authority(std::string_view text, std::string_view* why = nullptr);

}  // namespace portcullis::base
