// AdminApi: the admin REST API's routes and their handlers, over the control plane's services.
// Every handler runs on the control thread and never blocks it: store calls go through the
// services, which use the blocking pool's store lane.
#pragma once

#include <functional>
#include <string_view>

#include <boost/json/object.hpp>

#include "admin/renew_throttle.hpp"
#include "admin/router.hpp"
#include "base/blocking_pool.hpp"
#include "base/metrics_registry.hpp"
#include "control/alert_book.hpp"
#include "control/cert_catalog.hpp"
#include "control/cert_timeline.hpp"
#include "control/certificate_manager.hpp"
#include "control/endpoint_service.hpp"
#include "control/transitional_certificates.hpp"

namespace portcullis::admin {

// The OpenAPI 3.1 document describing every route (admin/openapi.json, embedded at build time).
std::string_view openapi_document() noexcept;

// Where the records customers create point and how they are checked ([dns]), as running now.
struct DnsSettings {
  std::string zone;
  domain::HostPort resolver;
};

struct ApiServices {
  control::EndpointService& endpoints;
  control::TransitionalCertificates& transitional;
  control::CertificateManager& certificates;
  control::CertCatalog& catalog;
  const control::CertTimeline& timeline;
  // Runs the DNS checks (blocking queries) off the control thread.
  base::BlockingPool& pool;
  // The platform zone and the resolver; none without [dns].
  std::function<std::optional<DnsSettings>()> dns;
  // True once the proxy serves (listeners bound, certificates published) and until it drains.
  std::function<bool()> ready;
  // What GET /metrics scrapes; none: it answers 503. Must outlive the API.
  const base::MetricsRegistry* metrics = nullptr;
  // [admin] metrics_public: GET /metrics needs no token.
  bool metrics_public = false;
  // The alert book; none: GET /api/v1/alerts answers an empty list.
  control::AlertBook* alerts = nullptr;
  // A transitional certificate was uploaded or removed: the certificate alerts look again.
  std::function<void()> certificates_changed;
  // "Renew now" is allowed once per this interval for each endpoint (limits.renew_now_interval);
  // none: once a minute.
  std::function<domain::Millis()> renew_now_interval;
  // The clock of that limit; none: std::chrono::steady_clock.
  std::function<RenewThrottle::Clock::time_point()> now;
};

class AdminApi {
 public:
  // `services` must outlive the API.
  explicit AdminApi(ApiServices services);
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  const Router& router() const noexcept { return router_; }

 private:
  boost::asio::awaitable<Response> healthz(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> readyz(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> openapi(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> metrics(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> list_endpoints(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> create_endpoint(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> get_endpoint(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> patch_endpoint(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> delete_endpoint(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> put_transitional(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> delete_transitional(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> endpoint_dns(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> endpoint_certificate(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> renew(const Request& req, const RouteParams& params);
  boost::asio::awaitable<Response> list_alerts(const Request& req, const RouteParams& params);
  // The endpoint's JSON with its count of firing alerts.
  boost::json::object endpoint_json(const control::EndpointEntry& entry) const;

  ApiServices services_;
  Router router_;
  RenewThrottle renew_throttle_;
};

}  // namespace portcullis::admin
