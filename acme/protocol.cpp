#include "acme/protocol.hpp"

#include <ctime>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "acme/jws.hpp"

namespace portcullis::acme {
namespace json = boost::json;

namespace {

constexpr std::size_t quoted_body_limit = 200;

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

Result<json::object> parse_object(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return fail(Errc::acme, fmt::format("{}: invalid JSON: {}", what, ec.message()));
  if (!v.is_object()) return fail(Errc::acme, fmt::format("{}: expected a JSON object", what));
  return std::move(v.as_object());
}

std::optional<AcmeProblem> optional_problem(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return std::nullopt;
  return problem_from_json(it->value(), 0);
}

Challenge challenge_from(const json::object& o) {
  Challenge c;
  c.type = str(o, "type");
  c.url = str(o, "url");
  c.status = str(o, "status");
  c.token = str(o, "token");
  c.error = optional_problem(o, "error");
  return c;
}

std::string quote_body(std::string_view body) {
  std::string out(body.substr(0, quoted_body_limit));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

const Challenge* Authorization::challenge(std::string_view type) const {
  for (const auto& c : challenges)
    if (c.type == type) return &c;
  return nullptr;
}

Result<Directory> parse_directory(std::string_view body) {
  auto o = parse_object(body, "directory");
  if (!o) return tl::unexpected(o.error());
  Directory d;
  d.new_nonce = str(*o, "newNonce");
  d.new_account = str(*o, "newAccount");
  d.new_order = str(*o, "newOrder");
  d.revoke_cert = str(*o, "revokeCert");
  d.key_change = str(*o, "keyChange");
  d.renewal_info = str(*o, "renewalInfo");
  if (auto it = o->find("meta"); it != o->end() && it->value().is_object()) {
    const auto& meta = it->value().get_object();
    d.terms_of_service = str(meta, "termsOfService");
    if (auto e = meta.find("externalAccountRequired"); e != meta.end() && e->value().is_bool())
      d.external_account_required = e->value().get_bool();
    if (auto p = meta.find("profiles"); p != meta.end() && p->value().is_object())
      for (const auto& [name, description] : p->value().get_object())
        d.profiles[std::string(name)] = description.is_string() ? std::string(description.get_string()) : "";
    if (auto c = meta.find("caaIdentities"); c != meta.end() && c->value().is_array())
      for (const auto& identity : c->value().get_array())
        if (identity.is_string()) d.caa_identities.emplace_back(identity.get_string());
  }
  if (d.new_nonce.empty() || d.new_account.empty() || d.new_order.empty())
    return fail(Errc::acme, "directory: missing newNonce, newAccount or newOrder");
  return d;
}

Result<Order> parse_order(std::string_view body) {
  auto o = parse_object(body, "order");
  if (!o) return tl::unexpected(o.error());
  Order order;
  order.status = str(*o, "status");
  order.finalize = str(*o, "finalize");
  order.certificate = str(*o, "certificate");
  order.replaces = str(*o, "replaces");
  order.profile = str(*o, "profile");
  order.error = optional_problem(*o, "error");
  if (auto it = o->find("identifiers"); it != o->end() && it->value().is_array())
    for (const auto& id : it->value().get_array())
      if (id.is_object()) order.names.push_back(str(id.get_object(), "value"));
  if (auto it = o->find("authorizations"); it != o->end() && it->value().is_array())
    for (const auto& url : it->value().get_array())
      if (url.is_string()) order.authorizations.emplace_back(url.get_string());
  if (order.status.empty()) return fail(Errc::acme, "order: missing status");
  return order;
}

Result<Authorization> parse_authorization(std::string_view body) {
  auto o = parse_object(body, "authorization");
  if (!o) return tl::unexpected(o.error());
  Authorization a;
  a.status = str(*o, "status");
  if (auto it = o->find("identifier"); it != o->end() && it->value().is_object())
    a.identifier = str(it->value().get_object(), "value");
  if (auto it = o->find("wildcard"); it != o->end() && it->value().is_bool()) a.wildcard = it->value().get_bool();
  if (auto it = o->find("challenges"); it != o->end() && it->value().is_array())
    for (const auto& c : it->value().get_array())
      if (c.is_object()) a.challenges.push_back(challenge_from(c.get_object()));
  if (a.status.empty()) return fail(Errc::acme, "authorization: missing status");
  return a;
}

Result<Challenge> parse_challenge(std::string_view body) {
  auto o = parse_object(body, "challenge");
  if (!o) return tl::unexpected(o.error());
  return challenge_from(*o);
}

Result<RenewalInfo> parse_renewal_info(std::string_view body) {
  auto o = parse_object(body, "renewalInfo");
  if (!o) return tl::unexpected(o.error());
  auto it = o->find("suggestedWindow");
  if (it == o->end() || !it->value().is_object())
    return fail(Errc::acme, "renewalInfo: missing suggestedWindow");
  const auto& window = it->value().get_object();
  auto start = parse_rfc3339(str(window, "start"));
  auto end = parse_rfc3339(str(window, "end"));
  if (!start || !end)
    return fail(Errc::acme, fmt::format("renewalInfo: suggestedWindow needs RFC 3339 start and end, got {}",
                                        json::serialize(window)));
  if (*end < *start) return fail(Errc::acme, "renewalInfo: suggestedWindow ends before it starts");
  RenewalInfo info;
  info.window_start = *start;
  info.window_end = *end;
  info.explanation_url = str(*o, "explanationURL");
  return info;
}

AcmeProblem problem_from_json(const json::value& value, int status) {
  AcmeProblem p;
  p.status = status;
  if (!value.is_object()) return p;
  const auto& o = value.get_object();
  p.type = str(o, "type");
  p.detail = str(o, "detail");
  if (auto it = o.find("status"); it != o.end() && it->value().is_int64() && status == 0)
    p.status = static_cast<int>(it->value().get_int64());
  if (auto it = o.find("identifier"); it != o.end() && it->value().is_object())
    p.identifier = str(it->value().get_object(), "value");
  if (auto it = o.find("subproblems"); it != o.end() && it->value().is_array())
    for (const auto& sub : it->value().get_array()) p.subproblems.push_back(problem_from_json(sub, 0));
  return p;
}

AcmeProblem parse_problem(int status, std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    AcmeProblem p;
    p.status = status;
    p.detail = quote_body(body);
    return p;
  }
  return problem_from_json(v, status);
}

Error problem_error(std::string_view step, std::string_view url, AcmeProblem problem) {
  std::string message = fmt::format("acme: {} {}: {} {} \"{}\"", step, url, problem.status,
                                    problem.type.empty() ? "(no problem type)" : problem.type, problem.detail);
  for (const auto& sub : problem.subproblems)
    message += fmt::format("; {}: {} \"{}\"", sub.identifier.empty() ? "(no identifier)" : sub.identifier,
                           sub.type, sub.detail);
  return Error(Errc::acme, std::move(message), std::move(problem));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, Clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    if (value.size() > 9) return std::nullopt;  // absurd; treat as malformed rather than overflow
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  // RFC 9110 §5.6.7: IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  auto at = Clock::from_time_t(timegm(&tm));
  if (at <= now) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(at - now);
}

std::vector<std::string> parse_link_header(const std::vector<std::string>& values, std::string_view rel) {
  std::vector<std::string> out;
  for (std::string_view value : values) {
    // Each link: <target>; param=value; param="value", ...
    size_t pos = 0;
    while (pos < value.size()) {
      size_t open = value.find('<', pos);
      if (open == std::string_view::npos) break;
      size_t close = value.find('>', open);
      if (close == std::string_view::npos) break;
      std::string_view target = value.substr(open + 1, close - open - 1);
      // Parameters run until the next unquoted comma.
      size_t i = close + 1;
      bool quoted = false;
      while (i < value.size() && (quoted || value[i] != ',')) {
        if (value[i] == '"') quoted = !quoted;
        ++i;
      }
      std::string_view params = value.substr(close + 1, i - close - 1);
      pos = i + 1;
      size_t p = 0;
      while (p < params.size()) {
        size_t semi = params.find(';', p);
        std::string_view param = trim(params.substr(p, semi == std::string_view::npos ? semi : semi - p));
        p = semi == std::string_view::npos ? params.size() : semi + 1;
        size_t eq = param.find('=');
        if (eq == std::string_view::npos || !iequals(trim(param.substr(0, eq)), "rel")) continue;
        std::string_view rels = trim(param.substr(eq + 1));
        if (rels.size() >= 2 && rels.front() == '"' && rels.back() == '"') rels = rels.substr(1, rels.size() - 2);
        // rel may hold several space-separated relation types.
        size_t r = 0;
        while (r < rels.size()) {
          size_t sp = rels.find(' ', r);
          std::string_view one = rels.substr(r, sp == std::string_view::npos ? sp : sp - r);
          if (iequals(one, rel)) out.emplace_back(target);
          r = sp == std::string_view::npos ? rels.size() : sp + 1;
        }
      }
    }
  }
  return out;
}

std::optional<Clock::time_point> parse_rfc3339(std::string_view text) {
  std::string s(text);
  int year, month, day, hour, minute, second, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                  &consumed) != 6)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  auto at = Clock::from_time_t(timegm(&tm));
  std::string_view rest = std::string_view(s).substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    long long nanos = 0;
    int digits = 0;
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
      if (digits < 9) {
        nanos = nanos * 10 + (rest.front() - '0');
        ++digits;
      }
      rest.remove_prefix(1);
    }
    while (digits++ < 9) nanos *= 10;
    at += std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(nanos));
  }
  if (rest == "Z" || rest == "z") return at;
  int oh = 0, om = 0;
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
      std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) == 2) {
    auto offset = std::chrono::hours(oh) + std::chrono::minutes(om);
    return rest[0] == '+' ? at - offset : at + offset;
  }
  return std::nullopt;
}

Result<std::string> ari_certificate_id(X509* cert) {
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert);
  if (!aki) return fail(Errc::invalid_input, "ari: certificate has no authority key identifier");
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  int len = i2d_ASN1_INTEGER(serial, nullptr);
  if (len <= 2) return fail(Errc::crypto, "ari: cannot encode the serial number");
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_ASN1_INTEGER(serial, &out);
  // Strip the DER tag and length; keep the content octets (with a leading 0x00 when the high
  // bit is set, as DER requires for a positive INTEGER).
  size_t header = 2;
  auto first_len = static_cast<unsigned char>(der[1]);
  if (first_len & 0x80) header += first_len & 0x7f;
  if (header >= der.size()) return fail(Errc::crypto, "ari: malformed serial number encoding");
  std::string_view key_id(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki)),
                          static_cast<size_t>(ASN1_STRING_length(aki)));
  return base64url_encode(key_id) + "." + base64url_encode(std::string_view(der).substr(header));
}

}  // namespace portcullis::acme
