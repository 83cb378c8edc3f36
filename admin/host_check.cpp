#include "admin/host_check.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/url/parse.hpp>

namespace portcullis::admin {

std::optional<HostPattern> parse_host(std::string_view text) {
  auto authority = boost::urls::parse_authority(text);
  if (!authority || authority->has_userinfo()) return std::nullopt;
  HostPattern out;
  switch (authority->host_type()) {
    case boost::urls::host_type::ipv6:
      out.host = "[" + authority->host_ipv6_address().to_string() + "]";
      break;
    case boost::urls::host_type::ipv4:
      out.host = authority->host_ipv4_address().to_string();
      break;
    case boost::urls::host_type::name:
      // A percent-encoded name is not a DNS name a browser sends.
      if (authority->encoded_host().find('%') != std::string_view::npos) return std::nullopt;
      out.host = std::string(authority->encoded_host());
      break;
    default:
      return std::nullopt;
  }
  std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!out.host.empty() && out.host.back() == '.') out.host.pop_back();
  if (out.host.empty()) return std::nullopt;
  if (authority->has_port()) {
    // Boost.URL's port_number() wraps past 65535: the digits are read here.
    const std::string_view digits = authority->port();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

HostCheck::HostCheck(std::vector<HostPattern> allowed, std::string_view listen_host, std::uint16_t port, bool tls)
    : allowed_(std::move(allowed)), default_port_(tls ? 443 : 80) {
  if (!allowed_.empty()) return;
  for (std::string_view host : {listen_host, std::string_view("localhost"), std::string_view("127.0.0.1"),
                                std::string_view("[::1]")}) {
    const bool v6 = host.find(':') != std::string_view::npos && !host.starts_with("[");
    auto pattern = parse_host(v6 ? "[" + std::string(host) + "]" : std::string(host));
    if (!pattern) continue;
    pattern->port = port;
    if (std::find(allowed_.begin(), allowed_.end(), *pattern) == allowed_.end()) allowed_.push_back(*pattern);
  }
}

bool HostCheck::allows(std::string_view host) const {
  auto given = parse_host(host);
  if (!given) return false;
  const std::uint16_t port = given->port.value_or(default_port_);
  return std::any_of(allowed_.begin(), allowed_.end(), [&](const HostPattern& p) {
    return p.host == given->host && (!p.port || *p.port == port);
  });
}

}  // namespace portcullis::admin
