#include "admin/alert_json.hpp"

#include <ctime>

#include "certstore/cert_bundle.hpp"

namespace portcullis::admin {
namespace {

namespace json = boost::json;

json::value time_or_null(std::int64_t unix) {
  if (unix == 0) return nullptr;
  return json::value(certstore::format_time(certstore::Clock::from_time_t(static_cast<std::time_t>(unix))));
}

}  // namespace

json::object to_json(const control::Alert& a) {
  const auto& f = a.finding;
  return json::object{{"id", a.id},
                      {"state", a.firing ? "firing" : "resolved"},
                      {"kind", domain::to_string(f.kind)},
                      {"severity", domain::to_string(f.severity)},
                      {"endpoint", f.endpoint_id.empty() ? json::value(nullptr) : json::value(f.endpoint_id)},
                      {"subject", f.subject},
                      {"expected", f.expected},
                      {"found", f.found},
                      {"fix", f.fix},
                      {"check", a.check},
                      {"first_seen", time_or_null(a.first_seen)},
                      {"last_seen", time_or_null(a.last_seen)},
                      {"resolved_at", time_or_null(a.resolved_at)},
                      {"count", a.count}};
}

}  // namespace portcullis::admin
