#include "control/certificate_metrics.hpp"

#include <chrono>
#include <map>
#include <tuple>

namespace portcullis::control {
namespace {

double unix_seconds(certstore::Clock::time_point t) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

void write_served(const CertCatalog& catalog, base::MetricsWriter& out) {
  // Two certificates with the same labels (two files for the same first name) are one series:
  // the earlier expiry, which is the one an alert must not miss.
  std::map<std::tuple<std::string, std::string_view, std::string>, certstore::Clock::time_point> series;
  for (auto& cert : catalog.served()) {
    auto key = std::make_tuple(std::move(cert.endpoint), cert.source, std::move(cert.name));
    auto [it, added] = series.emplace(std::move(key), cert.not_after);
    if (!added && cert.not_after < it->second) it->second = cert.not_after;
  }
  constexpr std::string_view help =
      "Expiry (notAfter) of each certificate held for serving, in Unix seconds; name is its first DNS name.";
  out.declare("portcullis_certificate_not_after_seconds", help, base::MetricsWriter::Type::gauge);
  for (const auto& [key, not_after] : series) {
    const auto& [endpoint, source, name] = key;
    out.gauge("portcullis_certificate_not_after_seconds", help, unix_seconds(not_after),
              {{"endpoint", endpoint}, {"source", source}, {"name", name}});
  }
}

void write_managed(const CertificateManager& certificates, base::MetricsWriter& out) {
  constexpr std::string_view renewal_help =
      "When the next order for a managed certificate is due, in Unix seconds (0: as soon as possible).";
  constexpr std::string_view attempts_help = "Orders placed for a managed certificate (first issuance and renewals).";
  constexpr std::string_view failures_help = "Orders for a managed certificate that failed.";
  using Type = base::MetricsWriter::Type;
  out.declare("portcullis_certificate_next_renewal_seconds", renewal_help, Type::gauge);
  out.declare("portcullis_renewal_attempts_total", attempts_help, Type::counter);
  out.declare("portcullis_renewal_failures_total", failures_help, Type::counter);
  const auto& attempts = certificates.attempts();
  for (const auto& id : certificates.managed_ids()) {
    const auto status = certificates.status(id);
    if (status.renewal) {
      out.gauge("portcullis_certificate_next_renewal_seconds", renewal_help,
                static_cast<double>(status.renewal->next_attempt_unix), {{"endpoint", id}});
    }
    // Every managed endpoint has its series from the start, so that rate() sees the first failure.
    const auto it = attempts.find(id);
    const CertificateManager::Attempts counts = it == attempts.end() ? CertificateManager::Attempts{} : it->second;
    out.counter("portcullis_renewal_attempts_total", attempts_help, static_cast<double>(counts.attempts),
                {{"endpoint", id}});
    out.counter("portcullis_renewal_failures_total", failures_help, static_cast<double>(counts.failures),
                {{"endpoint", id}});
  }
}

}  // namespace

void write_certificate_metrics(const CertCatalog& catalog, const CertificateManager& certificates,
                               base::MetricsWriter& out) {
  write_served(catalog, out);
  write_managed(certificates, out);
  certificates.acme_requests().write_metrics(out);
}

}  // namespace portcullis::control
