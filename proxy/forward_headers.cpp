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

std::optional<std::string_view> framing_problem(const http::fields& fields) {
  std::size_t content_lengths = 0, transfer_encodings = 0;
  std::string_view te;
  for (const auto& f : fields) {
    if (f.name() == http::field::content_length) ++content_lengths;
    if (f.name() == http::field::transfer_encoding) {
      ++transfer_encodings;
      te = f.value();
    }
  }
  if (content_lengths > 1) return "several Content-Length fields";
  if (transfer_encodings > 0 && content_lengths > 0) return "both Content-Length and Transfer-Encoding";
  if (transfer_encodings > 1) return "several Transfer-Encoding fields";
  if (transfer_encodings == 1) {
    auto last = te.substr(te.rfind(',') == std::string_view::npos ? 0 : te.rfind(',') + 1);
    while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
    if (!beast::iequals(last, "chunked")) return "Transfer-Encoding does not end in chunked";
  }
  return std::nullopt;
}

void prepare_forward_request(http::request<http::buffer_body>& req, const boost::asio::ip::address& peer,
                             bool tls, bool upgrade, bool chunked_in) {
  prepare_forward_request(req, peer.to_string(), peer.is_v6(), tls, upgrade, chunked_in);
}

void prepare_forward_request(http::request<http::buffer_body>& req, std::string_view peer_text, bool peer_v6,
                             bool tls, bool upgrade, bool chunked_in) {
  std::string host(req[http::field::host]);
  strip_hop_by_hop(req, upgrade);
  req.erase(http::field::expect);
  const std::string_view proto = tls ? "https" : "http";
  req.set("X-Forwarded-For", peer_text);
  req.set("X-Forwarded-Proto", proto);
  req.set("X-Forwarded-Host", host);
  std::string forwarded;
  forwarded.reserve(32 + peer_text.size() + host.size());
  forwarded += "for=";
  if (peer_v6) {
    forwarded += "\"[";
    forwarded += peer_text;
    forwarded += "]\"";
  } else {
    forwarded += peer_text;
  }
  forwarded += ";host=\"";
  forwarded += host;
  forwarded += "\";proto=";
  forwarded += proto;
  req.set(http::field::forwarded, forwarded);
  if (upgrade) req.set(http::field::connection, "upgrade");
  if (chunked_in) req.chunked(true);
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
