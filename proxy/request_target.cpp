#include "proxy/request_target.hpp"

#include <boost/url/grammar/charset.hpp>
#include <boost/url/grammar/hexdig_chars.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

namespace portcullis::proxy {
namespace {

namespace http = boost::beast::http;
namespace urls = boost::urls;

// RFC 3986 §3.3, §3.4 with RFC 9112 §3.2.1: origin-form = 1*( "/" segment ) [ "?" query ].
constexpr auto path_chars = urls::pchars + '/';
constexpr auto query_chars = urls::pchars + '/' + '?';

// Every character in `chars`, or '%' and two hex digits.
bool pct_encoded_of(std::string_view text, const urls::grammar::lut_chars& chars) noexcept {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (chars(text[i])) continue;
    if (text[i] != '%' || i + 2 >= text.size() || !urls::grammar::hexdig_chars(text[i + 1]) ||
        !urls::grammar::hexdig_chars(text[i + 2])) {
      return false;
    }
    i += 2;
  }
  return true;
}

// The character sets of Boost.URL's own origin-form rule, checked in one pass: the rule builds a
// url_view (segment and parameter counts) that the router does not need, at several times the
// cost. The fuzz target checks that both accept the same targets.
bool valid_origin_form(std::string_view target) noexcept {
  const auto q = target.find('?');
  if (!pct_encoded_of(target.substr(0, q), path_chars)) return false;
  return q == std::string_view::npos || pct_encoded_of(target.substr(q + 1), query_chars);
}

TargetProblem malformed(std::string_view* why, std::string_view reason) {
  if (why != nullptr) *why = reason;
  return TargetProblem::malformed;
}

// RFC 9112 §3.2.2: the authority of an absolute-form target is the request's host; its path and
// query become the origin-form the upstream is sent.
TargetProblem parse_absolute(http::verb method, std::string_view target, RequestTarget& out, std::string_view* why) {
  auto parsed = urls::parse_absolute_uri(target);
  if (!parsed) return malformed(why, "malformed request target");
  const urls::url_view& uri = *parsed;
  if (uri.scheme_id() != urls::scheme::http && uri.scheme_id() != urls::scheme::https) {
    return malformed(why, "request target is neither origin-form nor an http(s) URI");
  }
  if (!uri.has_authority()) return malformed(why, "absolute request target without an authority");
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error.
  if (uri.has_userinfo()) return malformed(why, "userinfo in the request target");
  out.authority = base::parse_host_authority(uri.encoded_host_and_port(), why);
  if (!out.authority) return TargetProblem::malformed;
  const std::string_view path = uri.encoded_path();
  // RFC 3986 §3.3: after an authority the path is empty or begins with "/". Boost.URL 1.81 takes
  // "http://a:443p//x" as host "a", port "443" and path "p//x"; such a target is refused.
  if (!path.empty() && !path.starts_with('/')) return malformed(why, "malformed request target");
  out.form = TargetForm::absolute;
  out.path_and_query = uri.encoded_target();
  if (path.empty() && !uri.has_query() && method == http::verb::options) {
    out.rewritten = "*";  // RFC 9112 §3.2.4
  } else {
    if (path.empty()) out.rewritten = "/";
    out.rewritten += out.path_and_query;
  }
  return TargetProblem::none;
}

}  // namespace

TargetProblem parse_request_target(http::verb method, std::string_view target, RequestTarget& out,
                                   std::string_view* why) {
  out = RequestTarget{};
  out.received = target;
  out.path_and_query = target;
  if (method == http::verb::connect) {
    if (why != nullptr) *why = "CONNECT is not supported";
    return TargetProblem::connect_refused;
  }
  if (target == "*") {
    if (method != http::verb::options) return malformed(why, "asterisk-form request target without OPTIONS");
    out.form = TargetForm::asterisk;
    return TargetProblem::none;
  }
  if (target.starts_with('/')) {
    if (!valid_origin_form(target)) return malformed(why, "malformed request target");
    out.form = TargetForm::origin;
    return TargetProblem::none;
  }
  return parse_absolute(method, target, out, why);
}

}  // namespace portcullis::proxy
