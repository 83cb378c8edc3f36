#include "admin/dashboard.hpp"

namespace portcullis::admin {

// One policy for every dashboard file: the HTML loads only dashboard.css and dashboard.js from
// this origin, and the script talks only to this origin's API.
constexpr std::string_view content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

Response dashboard_response(const DashboardFile& file, unsigned version, bool keep_alive) {
  Response res{http::status::ok, version};
  res.set(http::field::content_type, file.content_type);
  res.set("Content-Security-Policy", content_security_policy);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  res.set(http::field::cache_control, "no-cache");
  res.body() = std::string(file.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace portcullis::admin
