// The request target (RFC 9112 §3.2): which of the four forms a request line carries, whether its
// method allows that form, and what an upstream is sent instead. Parsed with Boost.URL. The router
// asks it first, so an absolute-form target's authority is checked as Host is, and the upstream
// only ever sees origin-form (or "*" for OPTIONS).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>

#include "base/host_authority.hpp"

namespace portcullis::proxy {

enum class TargetForm {
  origin,     // "/path?query"
  absolute,   // "http://host:port/path?query": the authority is the request's host (§3.2.2)
  authority,  // "host:port", CONNECT only
  asterisk,   // "*", OPTIONS only
};

enum class TargetProblem {
  none,
  malformed,          // 400: not a valid target of any form, or a form the method does not take
  connect_refused,    // 405: CONNECT (tunnels are not offered)
};

struct RequestTarget {
  TargetForm form = TargetForm::origin;
  // origin-form and asterisk-form: the target as received, which the upstream gets unchanged.
  std::string_view received;
  // The path and query, a view of `received`: all of it in origin-form, what follows the
  // authority in absolute-form ("" or "?q" when the path is empty), "*" in asterisk-form.
  std::string_view path_and_query;
  // absolute-form: the origin-form the upstream gets instead ("/" for an empty path; "*" for an
  // OPTIONS whose path is empty, RFC 9112 §3.2.4), and the authority, checked as Host is.
  std::string rewritten;
  std::optional<base::HostAuthority> authority;

  // What the upstream is sent; a view of `received` or of `rewritten`.
  std::string_view forward() const noexcept { return form == TargetForm::absolute ? rewritten : received; }
};

// Classifies `target` for `method`:
//   - CONNECT, whatever its target: connect_refused;
//   - "*": only with OPTIONS;
//   - "/...": RFC 3986 origin-form (path-absolute, optional query), percent-encoding well formed;
//   - otherwise an absolute URI with scheme http or https, an authority that passes
//     base::parse_host_authority (no userinfo, port 1-65535), and no fragment;
//   - anything else (authority-form without CONNECT, other schemes, bytes outside RFC 3986):
//     malformed.
// `why` (when given) gets a short phrase for the log and the 400 body. Thread-safe, pure.
TargetProblem parse_request_target(boost::beast::http::verb method, std::string_view target, RequestTarget& out,
                                   std::string_view* why = nullptr);

}  // namespace portcullis::proxy
