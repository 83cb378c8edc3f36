#include "admin/endpoint_json.hpp"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <fmt/format.h>

#include "base/quote.hpp"

namespace portcullis::admin {
namespace {

namespace json = boost::json;
using base::quote;
using control::FieldProblem;

std::string known_fields(bool with_id) {
  std::string out;
  for (auto f : endpoint_fields) {
    if (!with_id && f == "id") continue;
    if (!out.empty()) out += ", ";
    out += f;
  }
  return out;
}

void expected(std::vector<FieldProblem>& problems, std::string field, std::string_view what, const json::value& got) {
  problems.push_back({std::move(field), fmt::format("expected {}, got {}", what, describe(got))});
}

// An array of strings; items of another type are reported at their index and left out.
std::optional<std::vector<std::string>> strings(const json::value& v, std::string_view field, std::string_view item,
                                                std::string_view list, std::vector<FieldProblem>& problems) {
  if (!v.is_array()) {
    expected(problems, std::string(field), list, v);
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool all = true;
  const auto& items = v.as_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) {
      expected(problems, fmt::format("{}[{}]", field, i), item, items[i]);
      all = false;
      continue;
    }
    out.emplace_back(items[i].as_string());
  }
  if (!all) return std::nullopt;
  return out;
}

std::optional<domain::Scope> scope(const json::value& v, std::vector<FieldProblem>& problems) {
  if (v.is_string() && v.as_string() == "external") return domain::Scope::external;
  if (v.is_string() && v.as_string() == "internal") return domain::Scope::internal;
  expected(problems, "scope", "\"external\" or \"internal\"", v);
  return std::nullopt;
}

std::optional<bool> boolean(const json::value& v, std::string_view field, std::vector<FieldProblem>& problems) {
  if (v.is_bool()) return v.as_bool();
  expected(problems, std::string(field), "true or false", v);
  return std::nullopt;
}

bool known(std::string_view key) {
  return std::find(std::begin(endpoint_fields), std::end(endpoint_fields), key) != std::end(endpoint_fields);
}

// Fields the request gives that no endpoint has, each a problem naming the known ones.
void unknown_fields(const json::object& body, bool with_id, std::vector<FieldProblem>& problems) {
  for (const auto& [key, value] : body) {
    if (!known(key) || (!with_id && key == "id")) {
      problems.push_back({std::string(key), fmt::format("unknown field (known: {})", known_fields(with_id))});
    }
  }
}

}  // namespace

std::string describe(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return quote(v.as_string());
    case json::kind::null: return "null";
    case json::kind::bool_: return v.as_bool() ? "true" : "false";
    case json::kind::array: return v.as_array().empty() ? "an empty array" : "an array";
    case json::kind::object: return "an object";
    default: return json::serialize(v);
  }
}

Result<json::object> parse_object(std::string_view body) {
  json::stream_parser parser;
  boost::system::error_code ec;
  const std::size_t used = parser.write(body.data(), body.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    return fail(Errc::invalid_input,
                fmt::format("invalid JSON at byte {}: {}", std::min(used, body.size()), ec.message()));
  }
  json::value v = parser.release();
  if (!v.is_object()) return fail(Errc::invalid_input, "expected a JSON object, got " + describe(v));
  return std::move(v.as_object());
}

Read<domain::EndpointSpec> read_endpoint_spec(const json::object& body) {
  Read<domain::EndpointSpec> read;
  auto& spec = read.value;
  auto& problems = read.problems;
  unknown_fields(body, true, problems);
  if (const auto* v = body.if_contains("id")) {
    if (v->is_string()) {
      spec.id = std::string(v->as_string());
    } else {
      expected(problems, "id", domain::expects::id, *v);
    }
  }
  // Absent lists stay std::nullopt, so domain::validate says they are required.
  if (const auto* v = body.if_contains("hostnames")) {
    spec.hostnames = strings(*v, "hostnames", domain::expects::hostname, domain::expects::hostnames, problems);
    if (!spec.hostnames) spec.hostnames.emplace();  // reported above; not "required" again
  }
  if (const auto* v = body.if_contains("scope")) {
    if (auto s = scope(*v, problems)) spec.scope = *s;
  }
  if (const auto* v = body.if_contains("upstreams")) {
    spec.upstreams = strings(*v, "upstreams", domain::expects::upstream, domain::expects::upstreams, problems);
    if (!spec.upstreams) spec.upstreams.emplace();
  }
  if (const auto* v = body.if_contains("ip_allowlist")) {
    spec.ip_allowlist = strings(*v, "ip_allowlist", domain::expects::cidr, domain::expects::cidrs, problems)
                            .value_or(std::vector<std::string>{});
  }
  if (const auto* v = body.if_contains("managed_https")) {
    if (auto b = boolean(*v, "managed_https", problems)) spec.managed_https = *b;
  }
  return read;
}

Read<control::EndpointPatch> read_endpoint_patch(const json::object& body, std::string_view id) {
  Read<control::EndpointPatch> read;
  auto& patch = read.value;
  auto& problems = read.problems;
  unknown_fields(body, true, problems);
  if (const auto* v = body.if_contains("id")) {
    if (!v->is_string() || v->as_string() != id) {
      problems.push_back({"id", fmt::format("an endpoint's id cannot be changed: expected {} or no id, got {}",
                                            quote(id), describe(*v))});
    }
  }
  if (const auto* v = body.if_contains("hostnames")) {
    patch.hostnames = strings(*v, "hostnames", domain::expects::hostname, domain::expects::hostnames, problems);
  }
  if (const auto* v = body.if_contains("scope")) patch.scope = scope(*v, problems);
  if (const auto* v = body.if_contains("upstreams")) {
    patch.upstreams = strings(*v, "upstreams", domain::expects::upstream, domain::expects::upstreams, problems);
  }
  if (const auto* v = body.if_contains("ip_allowlist")) {
    patch.ip_allowlist = strings(*v, "ip_allowlist", domain::expects::cidr, domain::expects::cidrs, problems);
  }
  if (const auto* v = body.if_contains("managed_https")) patch.managed_https = boolean(*v, "managed_https", problems);
  return read;
}

json::object to_json(const control::EndpointEntry& entry) {
  const auto& e = entry.endpoint;
  json::array hostnames, upstreams, allowlist;
  for (const auto& h : e.hostnames) hostnames.emplace_back(h);
  for (const auto& u : e.upstreams) upstreams.emplace_back(u.to_string());
  for (const auto& c : e.ip_allowlist) allowlist.emplace_back(c.to_string());
  return json::object{{"id", e.id},
                      {"hostnames", std::move(hostnames)},
                      {"scope", std::string(control::to_string(e.scope))},
                      {"upstreams", std::move(upstreams)},
                      {"ip_allowlist", std::move(allowlist)},
                      {"managed_https", e.managed_https},
                      {"read_only", entry.read_only}};
}

}  // namespace portcullis::admin
