#include "proxy/forward_headers.hpp"

#include <string>
#include <vector>

#include <boost/beast/core/string.hpp>

namespace portcullis::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

std::string_view trim(std::string_view item) {
  while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
  while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
  return item;
}

}  // namespace

bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    if (beast::iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

void strip_hop_by_hop(http::fields& fields, bool keep_upgrade) {
  // Extra names the Connection header lists (rare: usually only keep-alive, close or upgrade).
  std::vector<std::string> named;
  for (auto it = fields.find(http::field::connection); it != fields.end() && it->name() == http::field::connection; ++it) {
    std::string_view value = it->value();
    while (!value.empty()) {
      auto comma = value.find(',');
      auto item = trim(value.substr(0, comma));
      if (!item.empty() && !beast::iequals(item, "keep-alive") && !beast::iequals(item, "close") &&
          !beast::iequals(item, "upgrade")) {
        named.emplace_back(item);
      }
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  auto is_named = [&](std::string_view name) {
    for (const auto& n : named) {
      if (beast::iequals(n, name)) return true;
    }
    return false;
  };
  // One pass over the fields, comparing known names by their enum.
  for (auto it = fields.begin(); it != fields.end();) {
    bool drop = false;
    switch (it->name()) {
      case http::field::connection:
      case http::field::keep_alive:
      case http::field::proxy_connection:
      case http::field::proxy_authenticate:
      case http::field::proxy_authorization:
      case http::field::te:
      case http::field::trailer:
      case http::field::transfer_encoding:
        drop = true;
        break;
      case http::field::upgrade:
        drop = !keep_upgrade;
        break;
      default:
        drop = !named.empty() && is_named(it->name_string());
        break;
    }
    it = drop ? fields.erase(it) : std::next(it);
  }
}

namespace {

// The items of a comma-separated list, empty ones skipped (RFC 9110 §5.6.1).
template <class F>
void for_each_item(std::string_view list, F&& f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

constexpr char lower_dash(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  return c == '_' ? '-' : c;
}

bool same_field_name(std::string_view name, std::string_view lower) noexcept {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (lower_dash(name[i]) != lower[i]) return false;
  }
  return true;
}

// Lower case, '-' for '_'.
constexpr std::string_view client_asserted_names[] = {
    "forwarded",          "x-forwarded-for",      "x-forwarded-host", "x-forwarded-proto",
    "x-forwarded-port",   "x-forwarded-server",   "x-forwarded-scheme", "x-forwarded-ssl",
    "x-forwarded-prefix", "x-real-ip",            "true-client-ip",   "x-client-ip",
    "client-ip",          "x-cluster-client-ip",  "x-original-forwarded-for", "x-scheme",
    "front-end-https",    "x-original-url",       "x-rewrite-url",    "http2-settings",
};

}  // namespace

bool client_asserted_field(std::string_view name) noexcept {
  for (std::string_view known : client_asserted_names) {
    if (same_field_name(name, known)) return true;
  }
  return false;
}

std::optional<RequestProblem> framing_problem(const http::fields& fields) {
  std::size_t content_lengths = 0, transfer_encodings = 0;
  std::string_view te;
  for (const auto& f : fields) {
    if (f.name() == http::field::content_length) ++content_lengths;
    if (f.name() == http::field::transfer_encoding) {
      ++transfer_encodings;
      te = f.value();
    }
  }
  if (content_lengths > 1) return RequestProblem{http::status::bad_request, "several Content-Length fields"};
  if (transfer_encodings > 0 && content_lengths > 0) {
    return RequestProblem{http::status::bad_request, "both Content-Length and Transfer-Encoding"};
  }
  if (transfer_encodings > 1) return RequestProblem{http::status::bad_request, "several Transfer-Encoding fields"};
  if (transfer_encodings == 1) {
    std::size_t codings = 0;
    std::string_view last;
    for_each_item(te, [&](std::string_view item) {
      ++codings;
      last = item;
    });
    // RFC 9112 §6.3: a request whose final coding is not chunked has no reliable length.
    if (!beast::iequals(last, "chunked")) {
      return RequestProblem{http::status::bad_request, "Transfer-Encoding does not end in chunked"};
    }
    // RFC 9112 §6.1: a coding the server does not understand is 501; only chunked is relayed.
    if (codings != 1) return RequestProblem{http::status::not_implemented, "transfer coding other than chunked"};
  }
  return std::nullopt;
}

bool asks_upgrade(const http::request_header<>& req) {
  return req.find(http::field::upgrade) != req.end() && has_token(req[http::field::connection], "upgrade");
}

std::optional<RequestProblem> upgrade_problem(const http::request_header<>& req) {
  if (!asks_upgrade(req)) return std::nullopt;
  const bool websocket = req.count(http::field::upgrade) == 1 &&
                         beast::iequals(trim(req[http::field::upgrade]), "websocket") &&
                         req.method() == http::verb::get && req.version() == 11;
  if (websocket) return std::nullopt;
  return RequestProblem{http::status::bad_request, "upgrade to a protocol other than websocket"};
}

std::optional<RequestProblem> request_head_problem(const http::request_header<>& req, bool relayed) {
  if (auto problem = framing_problem(req)) return problem;
  if (req.version() < 11 && req.find(http::field::transfer_encoding) != req.end()) {
    return RequestProblem{http::status::bad_request, "Transfer-Encoding in an HTTP/1.0 request"};
  }
  return relayed ? upgrade_problem(req) : std::nullopt;
}

void prepare_forward_request(http::request<http::buffer_body>& req, const ForwardFacts& facts) {
  strip_hop_by_hop(req, facts.upgrade);
  req.erase(http::field::expect);
  for (auto it = req.begin(); it != req.end();) {
    it = client_asserted_field(it->name_string()) ? req.erase(it) : std::next(it);
  }
  const std::string_view proto = facts.tls ? "https" : "http";
  std::string forwarded;
  forwarded.reserve(40 + facts.peer_text.size() + facts.authority.size());
  forwarded += "for=";
  if (facts.peer_v6) {
    // RFC 7239 §6: an IPv6 node is "[v6]", which must be quoted.
    forwarded += "\"[";
    forwarded += facts.peer_text;
    forwarded += "]\"";
  } else {
    forwarded += facts.peer_text;
  }
  if (!facts.authority.empty()) {
    // Quoted whatever it holds (a port's ':' needs it, RFC 7239 §4); parse_host_authority lets
    // no '"' or backslash through.
    forwarded += ";host=\"";
    forwarded += facts.authority;
    forwarded += '"';
    req.set(http::field::host, facts.authority);
    req.set("X-Forwarded-Host", facts.authority);
  }
  forwarded += ";proto=";
  forwarded += proto;
  req.set("X-Forwarded-For", facts.peer_text);
  req.set("X-Real-IP", facts.peer_text);
  req.set("X-Forwarded-Proto", proto);
  req.set(http::field::forwarded, forwarded);
  if (facts.upgrade) req.set(http::field::connection, "upgrade");
  if (facts.chunked_in) req.chunked(true);
  req.version(11);
}

namespace {

void append_version(std::string& out, unsigned version) {
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
}

void append_fields(std::string& out, const http::fields& fields) {
  for (const auto& f : fields) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace

void append_request_head(std::string& out, const http::request_header<>& req) {
  out += req.method_string();
  out += ' ';
  out += req.target();
  out += ' ';
  append_version(out, req.version());
  out += "\r\n";
  append_fields(out, req);
}

void append_response_head(std::string& out, const http::response_header<>& res) {
  append_version(out, res.version());
  const unsigned status = res.result_int();
  out += ' ';
  out += static_cast<char>('0' + status / 100 % 10);
  out += static_cast<char>('0' + status / 10 % 10);
  out += static_cast<char>('0' + status % 10);
  out += ' ';
  out += res.reason();
  out += "\r\n";
  append_fields(out, res);
}

}  // namespace portcullis::proxy
