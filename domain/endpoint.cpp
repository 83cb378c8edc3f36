#include "domain/endpoint.hpp"

#include <algorithm>
#include <charconv>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

#include "base/quote.hpp"

namespace portcullis::domain {

std::string HostPort::to_string() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

Result<HostPort> parse_host_port(std::string_view text) {
  auto bad = [&](std::string_view why = {}) {
    std::string message = "expected \"host:port\", got " + base::quote(text);
    if (!why.empty()) message += " (" + std::string(why) + ")";
    return fail(Errc::config, std::move(message));
  };
  HostPort out;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return bad();
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(out.host, ec);
    if (ec) return bad("not an IPv6 address between the brackets");
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad();
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      return bad(fmt::format("write an IPv6 address in brackets: \"[{}]:{}\"", out.host, port));
    }
    auto ok = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
             c == '_';
    };
    if (out.host.empty() || !std::all_of(out.host.begin(), out.host.end(), ok)) return bad();
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc{} || ptr != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return bad("the port must be 1 to 65535");
  }
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

}  // namespace portcullis::domain
