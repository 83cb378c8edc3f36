#include "control/certificate_alerts.hpp"

#include <algorithm>
#include <ctime>
#include <iterator>
#include <map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/hostname.hpp"
#include "base/logging.hpp"

namespace portcullis::control {
namespace {

namespace asio = boost::asio;
using domain::AlertFinding;
using domain::AlertKind;
using domain::AlertSeverity;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view check_name = "certificates";
// A renewal that fails this close to the expiry alerts after one failure.
constexpr std::chrono::hours renewal_urgent{7 * 24};
constexpr std::string_view rate_limited_type = "urn:ietf:params:acme:error:rateLimited";

std::string names(const std::vector<std::string>& hostnames) { return fmt::format("{}", fmt::join(hostnames, ", ")); }

// "expires 2026-12-05T10:00:00Z (3 days left)", or "expired 2026-...".
std::string expiry_text(certstore::Clock::time_point not_after, certstore::Clock::time_point now) {
  const auto left = std::chrono::duration_cast<std::chrono::hours>(not_after - now).count();
  if (left < 0) return "expired " + certstore::format_time(not_after);
  const auto days = left / 24;
  return fmt::format("expires {} ({} day{} left)", certstore::format_time(not_after), days, days == 1 ? "" : "s");
}

std::string time_of(std::int64_t unix) {
  return certstore::format_time(certstore::Clock::from_time_t(static_cast<std::time_t>(unix)));
}

// The severity of an expiry `left` away: critical within the last (smallest) threshold.
std::optional<AlertSeverity> expiry_severity(certstore::Clock::duration left, const CertificateThresholds& t) {
  if (t.expiring_days.empty()) return std::nullopt;
  const auto days = [](std::uint32_t d) { return std::chrono::hours(24 * static_cast<std::int64_t>(d)); };
  const auto [lo, hi] = std::minmax_element(t.expiring_days.begin(), t.expiring_days.end());
  if (left > days(*hi)) return std::nullopt;
  return left <= days(*lo) ? AlertSeverity::critical : AlertSeverity::warning;
}

}  // namespace

std::vector<AlertFinding> certificate_findings(const CertificateFacts& f, const CertificateThresholds& t,
                                               certstore::Clock::time_point now) {
  std::vector<AlertFinding> out;
  const std::string subject = names(f.hostnames);
  const std::string id = f.endpoint_id;
  auto finding = [&](AlertKind kind, AlertSeverity severity, std::string subj, std::string expected, std::string found,
                     std::string fix) {
    out.push_back(AlertFinding{kind, severity, id, std::move(subj), std::move(expected), std::move(found), std::move(fix)});
  };

  const int failures = f.renewal ? f.renewal->consecutive_failures : 0;
  const std::string last_error = f.renewal ? f.renewal->last_error : std::string();
  const bool unreachable = f.last_failure && (*f.last_failure == Errc::network || *f.last_failure == Errc::timeout);
  const bool rate_limited = failures > 0 && last_error.find(rate_limited_type) != std::string::npos;
  if (f.managed && failures > 0 && rate_limited) {
    finding(AlertKind::rate_limited, AlertSeverity::warning, subject, "the CA to accept a new order",
            fmt::format("retry after {}: {}", f.renewal->next_attempt_unix ? time_of(f.renewal->next_attempt_unix) : "unknown",
                        last_error),
            "Wait: the order is retried after the CA's retry time. Do not force renewals meanwhile; if it "
            "persists, reduce the certificates ordered for these names or ask the CA for a higher limit.");
  }
  if (f.managed && failures > 0 && !f.managed_not_after && !rate_limited && !unreachable) {
    finding(AlertKind::issuance_failed, AlertSeverity::critical, subject, "a certificate issued for " + subject,
            last_error,
            fmt::format("Read the CA's words in found; check the endpoint's DNS records (GET "
                        "/api/v1/endpoints/{0}/dns), then retry with POST /api/v1/endpoints/{0}/renew.",
                        id));
  }
  if (f.managed && failures > 0 && f.managed_not_after) {
    const auto left = *f.managed_not_after - now;
    const bool urgent = left <= renewal_urgent;
    if (urgent || failures >= static_cast<int>(std::max<std::uint32_t>(1, t.renewal_failures))) {
      finding(AlertKind::renewal_failing, urgent ? AlertSeverity::critical : AlertSeverity::warning, subject,
              "the certificate renewed before it " + expiry_text(*f.managed_not_after, now),
              fmt::format("{} failed renewal{} in a row, the last: {}", failures, failures == 1 ? "" : "s", last_error),
              fmt::format("Read the CA's words in found; check the endpoint's DNS records (GET "
                          "/api/v1/endpoints/{0}/dns) and that the CA is reachable, then retry with POST "
                          "/api/v1/endpoints/{0}/renew.",
                          id));
    }
  }
  for (const auto& served : f.served) {
    auto severity = expiry_severity(served.not_after - now, t);
    if (!severity) continue;
    const bool managed = served.source == certstore::CertSource::managed;
    const auto biggest = *std::max_element(t.expiring_days.begin(), t.expiring_days.end());
    finding(AlertKind::certificate_expiring, *severity, names(served.hostnames),
            fmt::format("a certificate valid for more than {} days", biggest), expiry_text(served.not_after, now),
            managed ? fmt::format("Renewal has not replaced it: see the certificate's last error (GET "
                                  "/api/v1/endpoints/{0}/certificate) and retry with POST /api/v1/endpoints/{0}/renew.",
                                  id)
                    : fmt::format("Upload a renewed transitional certificate (PUT "
                                  "/api/v1/endpoints/{0}/transitional-certificate), or create the DNS records (GET "
                                  "/api/v1/endpoints/{0}/dns) so the managed certificate is issued.",
                                  id));
  }
  if (f.transitional_not_after && !f.managed_not_after) {
    if (auto severity = expiry_severity(*f.transitional_not_after - now, t)) {
      finding(AlertKind::transitional_expiring_unmanaged, *severity, subject,
              "a managed certificate before the transitional one expires",
              expiry_text(*f.transitional_not_after, now) + ", no managed certificate",
              fmt::format("Create the DNS records shown by GET /api/v1/endpoints/{}/dns{} so the managed "
                          "certificate is issued in time, or upload a renewed transitional certificate.",
                          id, f.managed ? "" : " and turn managed_https on"));
    }
  }
  return out;
}

CertificateAlerts::CertificateAlerts(asio::io_context& control, AlertSink& sink, CertCatalog& catalog,
                                     CertificateManager& certificates, TransitionalCertificates& transitional)
    : control_(control),
      sink_(sink),
      catalog_(catalog),
      certificates_(certificates),
      transitional_(transitional),
      tasks_(control.get_executor(), log::alerts()) {}

CertificateAlerts::~CertificateAlerts() = default;

void CertificateAlerts::configure(const domain::Config& config) {
  endpoints_ = config.endpoints;
  by_id_.clear();
  by_parent_.clear();
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    by_id_.emplace(endpoints_[i].id, i);
    for (const auto& hostname : endpoints_[i].hostnames) by_parent_[std::string(base::parent_of(hostname))].push_back(i);
  }
  thresholds_.expiring_days = config.alerts.expiring_days;
  thresholds_.renewal_failures = config.alerts.renewal_failures;
  directory_ = config.acme.enabled ? config.acme.directory : std::string();
  evaluate();
}

void CertificateAlerts::report_endpoint(const domain::EndpointConfig& ep, const certstore::CertSnapshot& snapshot,
                                        certstore::Clock::time_point now) {
  CertificateFacts facts;
  facts.endpoint_id = ep.id;
  facts.hostnames = ep.hostnames;
  const auto status = certificates_.status(ep.id);
  facts.managed = status.managed;
  facts.renewal = status.renewal;
  facts.last_failure = status.last_failure;
  if (const auto* stored = catalog_.stored(ep.id); stored && stored->bundle->source() == certstore::CertSource::managed) {
    facts.managed_not_after = stored->bundle->not_after();
  }
  if (auto t = transitional_.current(ep.id)) facts.transitional_not_after = t->not_after;
  std::map<const certstore::CertBundle*, std::size_t> seen;
  for (const auto& hostname : ep.hostnames) {
    const std::string probe = hostname.starts_with("*.") ? "wildcard-name" + hostname.substr(1) : hostname;
    const auto* bundle = snapshot.select(probe);
    if (!bundle || (bundle->source() != certstore::CertSource::managed &&
                    bundle->source() != certstore::CertSource::transitional)) {
      continue;
    }
    auto [it, fresh] = seen.emplace(bundle, facts.served.size());
    if (fresh) facts.served.push_back({bundle->source(), {}, bundle->not_after()});
    facts.served[it->second].hostnames.push_back(hostname);
  }
  sink_.report(check_name, ep.id, certificate_findings(facts, thresholds_, now));
}

void CertificateAlerts::report_platform() {
  std::vector<AlertFinding> platform;
  if (!certificates_.ca_unreachable().empty() && !directory_.empty()) {
    platform.push_back(AlertFinding{AlertKind::ca_unreachable, AlertSeverity::critical, "", directory_,
                                    "the ACME directory answers", certificates_.ca_unreachable(),
                                    "Check the network path to the CA (DNS, firewall, proxy) and the CA's status "
                                    "page; issuance and renewals resume by themselves once it answers."});
  }
  sink_.report(check_name, "", std::move(platform));
}

void CertificateAlerts::evaluate() {
  const auto now = certstore::Clock::now();
  const auto snapshot = catalog_.current();
  std::vector<std::string> reported;  // made a set once, sorted: no tree insert per endpoint
  reported.reserve(endpoints_.size());
  for (const auto& ep : endpoints_) {
    report_endpoint(ep, *snapshot, now);
    reported.push_back(ep.id);
  }
  std::sort(reported.begin(), reported.end());
  std::set<std::string> now_reported(std::make_move_iterator(reported.begin()), std::make_move_iterator(reported.end()));
  // Both sorted: the endpoints gone since the last evaluation in one linear walk.
  std::vector<std::string> gone;
  std::set_difference(reported_.begin(), reported_.end(), now_reported.begin(), now_reported.end(),
                      std::back_inserter(gone));
  for (const auto& id : gone) sink_.forget_endpoint(id);
  reported_ = std::move(now_reported);
  report_platform();
}

void CertificateAlerts::evaluate(const std::string& endpoint_id) {
  const auto now = certstore::Clock::now();
  const auto snapshot = catalog_.current();
  if (auto found = by_id_.find(endpoint_id); found != by_id_.end()) {
    const auto& changed = endpoints_[found->second];
    // Its own names are its own (a name belongs to one endpoint); a wildcard among them may also
    // serve the names one label below it, which other endpoints hold.
    std::set<std::size_t> affected{found->second};
    for (const auto& name : changed.hostnames) {
      if (!base::is_wildcard(name)) continue;
      if (auto under = by_parent_.find(name.substr(2)); under != by_parent_.end()) {
        affected.insert(under->second.begin(), under->second.end());
      }
    }
    for (auto i : affected) report_endpoint(endpoints_[i], *snapshot, now);
  }
  report_platform();
}

void CertificateAlerts::start() { tasks_.spawn("certificate alerts", timer_loop()); }

asio::awaitable<void> CertificateAlerts::shutdown() {
  tasks_.stop();
  co_await tasks_.wait();
}

asio::awaitable<void> CertificateAlerts::timer_loop() {
  asio::steady_timer timer(control_);
  for (;;) {
    timer.expires_after(recheck_interval);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) co_return;  // the timer is this task's own: aborted only by its cancellation
    evaluate();
  }
}

}  // namespace portcullis::control
