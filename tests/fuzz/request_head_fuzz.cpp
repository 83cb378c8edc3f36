// libFuzzer target for the HTTP request path of the data plane, without a socket: the first input
// byte picks the connection (TLS or plain listener, its scope, the client's address, SNI), the rest
// is a request head as a client sends it. It goes through what the session does: Beast's parser,
// request_head_problem(), route_request() against a fixed route table, and for a proxied request
// the target rewrite and prepare_forward_request(). Each step must hold its promise:
//   - a proxied request leaves with an origin-form target (or "*" for OPTIONS), a Host and
//     forwarding fields built only from an authority that parse_host_authority() accepts again
//     unchanged, and no field a client may not assert other than the edge's own;
//   - the rewritten head parses again, with the same target and Host;
//   - parse_host_authority() and parse_request_target() on the raw input are stable (what they
//     accept re-parses to the same value), and their one-pass fast paths agree with Boost.URL's
//     full rules: an origin-form target is accepted exactly when urls::parse_origin_form accepts
//     it, and a Host without brackets only when urls::parse_authority finds the same host and port.
// Built by `make fuzz` (clang-14, -fsanitize=fuzzer,address,undefined; see tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>

#include "base/host_authority.hpp"
#include "base/hostname.hpp"
#include "proxy/forward_headers.hpp"
#include "proxy/request_router.hpp"
#include "proxy/request_target.hpp"
#include "proxy/route_table.hpp"

namespace {

using namespace portcullis;
namespace http = boost::beast::http;

domain::EndpointConfig endpoint(std::string id, std::vector<std::string> names, domain::Scope scope,
                                std::vector<std::string> allow = {}) {
  domain::EndpointConfig e;
  e.id = std::move(id);
  e.hostnames = std::move(names);
  e.scope = scope;
  e.upstreams = {domain::HostPort{"127.0.0.1", 9000}};
  for (const auto& cidr : allow) e.ip_allowlist.push_back(*domain::Cidr::parse(cidr));
  return e;
}

const proxy::RouteTable& routes() {
  static const proxy::RouteTable table(
      {
          endpoint("app", {"app.example.com", "www.example.com"}, domain::Scope::external),
          endpoint("wild", {"*.wild.example.com"}, domain::Scope::external),
          endpoint("office", {"office.example.com"}, domain::Scope::external, {"10.0.0.0/8", "2001:db8::/32"}),
          endpoint("int", {"svc.internal.example"}, domain::Scope::internal),
      },
      {});
  return table;
}

void require(bool ok) {
  if (!ok) std::abort();
}

// What parse_host_authority() accepts, it accepts again in its canonical text, unchanged.
void check_authority_stable(std::string_view text) {
  const auto first = base::parse_host_authority(text);
  if (!first) return;
  if (!text.starts_with('[')) {
    const auto boost_view = boost::urls::parse_authority(text);
    require(boost_view.has_value() && !boost_view->has_userinfo());
    require(base::normalize_hostname(boost_view->encoded_host()) == first->host);
    require(boost_view->has_port() == (first->port != 0));
  }
  const std::string canonical = first->text();
  const auto again = base::parse_host_authority(canonical);
  require(again && *again == *first && again->text() == canonical);
}

void check_target(std::string_view text) {
  if (text.starts_with('/')) {
    proxy::RequestTarget target;
    const bool ours = proxy::parse_request_target(http::verb::get, text, target) == proxy::TargetProblem::none;
    require(ours == boost::urls::parse_origin_form(text).has_value());
  }
  for (auto method : {http::verb::get, http::verb::options, http::verb::connect}) {
    proxy::RequestTarget target;
    if (proxy::parse_request_target(method, text, target) != proxy::TargetProblem::none) continue;
    const std::string_view forward = target.forward();
    require(forward.starts_with('/') || (forward == "*" && method == http::verb::options));
    if (target.authority) check_authority_stable(target.authority->text());
  }
}

// The forwarded head, serialised and parsed again, says what the edge decided.
void check_forwarded(const http::request<http::buffer_body>& req, const proxy::RouteDecision& decision) {
  require(req.target().starts_with('/') || (req.target() == "*" && req.method() == http::verb::options));
  require(!decision.authority.empty());
  const auto authority = base::parse_host_authority(decision.authority);
  require(authority && authority->text() == decision.authority);
  require(req.count(http::field::host) == 1 && req[http::field::host] == decision.authority);
  require(req["X-Forwarded-Host"] == decision.authority);
  for (const auto& field : req) {
    const std::string_view name = field.name_string();
    if (!proxy::client_asserted_field(name)) continue;
    // Only the edge's own: one each, by their exact names.
    require(name == "X-Forwarded-For" || name == "X-Real-IP" || name == "X-Forwarded-Proto" ||
            name == "X-Forwarded-Host" || field.name() == http::field::forwarded);
    require(req.count(name) == 1);
  }
  std::string head;
  proxy::append_request_head(head, req);
  http::request_parser<http::empty_body> again;
  again.eager(false);
  boost::beast::error_code ec;
  again.put(boost::asio::buffer(head), ec);
  require(!ec || ec == http::error::need_more);
  require(again.is_header_done());
  require(again.get().target() == req.target());
  require(again.get()[http::field::host] == decision.authority);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::uint8_t flags = data[0];
  check_authority_stable(input);
  check_target(input);

  http::request_parser<http::buffer_body> parser;
  parser.header_limit(8192);
  parser.body_limit(boost::none);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(input.data(), input.size()), ec);
  if (!parser.is_header_done()) return 0;
  auto& req = parser.get();

  const bool tls = (flags & 1) == 0;
  if (proxy::request_head_problem(req, tls)) return 0;

  static const auto inside = boost::asio::ip::make_address("10.1.2.3");
  static const auto outside = boost::asio::ip::make_address("192.0.2.7");
  static const auto inside_v6 = boost::asio::ip::make_address("2001:db8::5");
  static const std::string_view snis[] = {"", "app.example.com", "x.wild.example.com", "office.example.com"};
  proxy::RouteQuery query;
  query.host_fields = req.count(http::field::host);
  if (query.host_fields == 1) query.host_header = req[http::field::host];
  query.version = req.version();
  query.method = req.method();
  query.target = req.target();
  query.tls = tls;
  query.sni = snis[(flags >> 1) & 3];
  query.scope = (flags & 8) != 0 ? domain::Scope::internal : domain::Scope::external;
  query.redirect_port = (flags & 16) != 0 ? 8443 : 443;
  query.peer = (flags & 32) != 0 ? inside : ((flags & 64) != 0 ? inside_v6 : outside);
  const proxy::RouteDecision decision = proxy::route_request(query, routes());

  switch (decision.action) {
    case proxy::RouteAction::proxy: {
      require(tls && decision.endpoint != nullptr);
      if (!decision.forward_target.empty()) req.target(decision.forward_target);
      const std::string peer = query.peer.to_string();
      proxy::prepare_forward_request(req, proxy::ForwardFacts{peer, query.peer.is_v6(), tls, decision.authority,
                                                              proxy::asks_upgrade(req), req.chunked()});
      check_forwarded(req, decision);
      break;
    }
    case proxy::RouteAction::redirect_https:
      require(!tls && decision.location.starts_with("https://"));
      require(decision.location.find_first_of(" \r\n\"") == std::string::npos);
      break;
    default:
      require(decision.endpoint == nullptr);
      break;
  }
  return 0;
}
