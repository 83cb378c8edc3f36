#include "proxy/request_target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

namespace portcullis::proxy {
namespace {

namespace http = boost::beast::http;
namespace urls = boost::urls;

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
  out.form = TargetForm::absolute;
  out.path_and_query = uri.encoded_target();
  const std::string_view path = uri.encoded_path();
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
    if (!urls::parse_origin_form(target)) return malformed(why, "malformed request target");
    out.form = TargetForm::origin;
    return TargetProblem::none;
  }
  return parse_absolute(method, target, out, why);
}

}  // namespace portcullis::proxy
