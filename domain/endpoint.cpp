#include "domain/endpoint.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

#include "base/hostname.hpp"
#include "base/quote.hpp"

namespace portcullis::domain {
namespace {

constexpr std::size_t max_label_length = 63;  // RFC 1035 §2.3.4: an id is one DNS label

using base::quote;

class ProblemList {
 public:
  explicit ProblemList(std::vector<Problem>& out) : out_(out) {}
  void add(std::string_view field, std::optional<std::size_t> item, std::string message) {
    out_.push_back({Place{0, field, item}, std::move(message)});
  }
  void missing(std::string_view field, std::string_view what) {
    add(field, std::nullopt, fmt::format("expected {}, got nothing (the key is required)", what));
  }

 private:
  std::vector<Problem>& out_;
};

void check_id(const EndpointSpec& spec, EndpointCheck& check, ProblemList& problems) {
  if (!spec.id) return problems.missing("id", expects::id);
  if (!valid_endpoint_id(*spec.id)) {
    problems.add("id", std::nullopt, fmt::format("expected {}, got {}", expects::id, quote(*spec.id)));
  }
  // Kept even when invalid: messages about the endpoint's other fields name it by what was written.
  check.endpoint.id = *spec.id;
}

void check_hostnames(const EndpointSpec& spec, EndpointCheck& check, ProblemList& problems) {
  if (!spec.hostnames) return problems.missing("hostnames", expects::hostnames);
  if (spec.hostnames->empty()) {
    return problems.add("hostnames", std::nullopt, "expected at least one hostname, got an empty array");
  }
  std::string wildcard;
  for (std::size_t i = 0; i < spec.hostnames->size(); ++i) {
    const std::string& written = (*spec.hostnames)[i];
    std::string name = base::normalize_hostname(written);
    if (auto why = base::hostname_problem(name)) {
      problems.add("hostnames", i, fmt::format("expected {}, got {} ({})", expects::hostname, quote(written), *why));
      continue;
    }
    if (base::is_wildcard(name)) {
      if (!wildcard.empty()) {
        problems.add("hostnames", i,
                     fmt::format("expected at most one wildcard hostname per endpoint, got {} (the other is {})",
                                 quote(name), quote(wildcard)));
        continue;
      }
      wildcard = name;
    }
    check.endpoint.hostnames.push_back(std::move(name));
    check.hostname_items.push_back(i);
  }
}

void check_upstreams(const EndpointSpec& spec, EndpointCheck& check, ProblemList& problems) {
  if (!spec.upstreams) return problems.missing("upstreams", expects::upstreams);
  if (spec.upstreams->empty()) {
    return problems.add("upstreams", std::nullopt,
                        fmt::format("expected at least one {}, got an empty array", expects::upstream));
  }
  for (std::size_t i = 0; i < spec.upstreams->size(); ++i) {
    auto hp = parse_host_port((*spec.upstreams)[i]);
    if (!hp) {
      problems.add("upstreams", i, hp.error().message());
      continue;
    }
    check.endpoint.upstreams.push_back(std::move(*hp));
    check.upstream_items.push_back(i);
  }
}

void check_allowlist(const EndpointSpec& spec, EndpointCheck& check, ProblemList& problems) {
  for (std::size_t i = 0; i < spec.ip_allowlist.size(); ++i) {
    auto cidr = Cidr::parse(spec.ip_allowlist[i]);
    if (!cidr) {
      problems.add("ip_allowlist", i, cidr.error().message());
      continue;
    }
    check.endpoint.ip_allowlist.push_back(*cidr);
  }
}

}  // namespace

std::string Place::path() const {
  return item ? fmt::format("{}[{}]", field, *item) : std::string(field);
}

std::string list_path(const Place& place) {
  std::string out = fmt::format("endpoint[{}]", place.endpoint);
  if (!place.field.empty()) out += "." + place.path();
  return out;
}

bool valid_endpoint_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > max_label_length) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  return std::all_of(id.begin(), id.end(), ok) && id.front() != '-' && id.back() != '-';
}

EndpointCheck validate(const EndpointSpec& spec) {
  EndpointCheck check;
  ProblemList problems(check.problems);
  check_id(spec, check, problems);
  check_hostnames(spec, check, problems);
  check.endpoint.scope = spec.scope;
  check_upstreams(spec, check, problems);
  check_allowlist(spec, check, problems);
  check.endpoint.managed_https = spec.managed_https;
  return check;
}

std::vector<Problem> validate_together(const std::vector<EndpointCheck>& checks, const Cite& cite) {
  std::vector<Problem> problems;
  std::map<std::string_view, Place> ids;                                    // id -> its first place
  std::map<std::string_view, std::pair<std::string, Place>> owners;         // hostname -> (label, place)
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const EndpointConfig& e = checks[i].endpoint;
    if (valid_endpoint_id(e.id)) {
      const Place here{i, "id", std::nullopt};
      if (auto [it, fresh] = ids.try_emplace(e.id, here); !fresh) {
        problems.push_back({here, fmt::format("expected a unique endpoint id, got {} (also {})", quote(e.id),
                                              cite(it->second))});
      }
    }
    const std::string label = e.id.empty() ? cite(Place{i, {}, std::nullopt}) : quote(e.id);
    for (std::size_t h = 0; h < e.hostnames.size(); ++h) {
      const std::string& name = e.hostnames[h];
      const Place here{i, "hostnames", checks[i].hostname_items.at(h)};
      auto [it, fresh] = owners.try_emplace(name, label, here);
      if (fresh) continue;
      const auto& [other, other_place] = it->second;
      problems.push_back(
          {here, other == label
                     ? fmt::format("{} is listed twice in endpoint {} (also {})", quote(name), label, cite(other_place))
                     : fmt::format("{} belongs to endpoint {} and to endpoint {} ({}); a hostname may belong to "
                                   "only one endpoint",
                                   quote(name), other, label, cite(other_place))});
    }
  }
  return problems;
}

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
