// Server::register_metrics: which collector reports what on GET /metrics. Each reads its
// counters at scrape time, on the control thread: the workers' blocks added up, the DNS server's
// counters, the catalog and the certificate manager, the control loop's lag, the build.
#include "app/server.hpp"

#include "control/certificate_metrics.hpp"
#include "proxy/worker_metrics.hpp"

namespace portcullis::app {

void Server::register_metrics() {
  metrics_.add("build", [](base::MetricsWriter& out) {
    out.gauge("portcullis_build_info", "Always 1; the version of the running binary is its label.", 1,
              {{"version", PORTCULLIS_VERSION}});
  });
  metrics_.add("proxy", [this](base::MetricsWriter& out) { proxy::write_worker_metrics(shared_.counters.sum(), out); });
  metrics_.add("certificates", [this](base::MetricsWriter& out) {
    control::write_certificate_metrics(*catalog_, *certificates_, out);
  });
  if (alerts_) metrics_.add("alerts", [this](base::MetricsWriter& out) { alerts_->write_metrics(out); });
  if (webhooks_) metrics_.add("webhooks", [this](base::MetricsWriter& out) { webhooks_->write_metrics(out); });
  if (dns_server_) metrics_.add("dns", [this](base::MetricsWriter& out) { dns_server_->write_metrics(out); });
  metrics_.add("control loop", [this](base::MetricsWriter& out) {
    const auto lag = lag_probe_.summary();
    const auto seconds = [](base::LoopLagProbe::Duration d) { return std::chrono::duration<double>(d).count(); };
    const base::MetricQuantile quantiles[] = {{0.5, seconds(lag.p50)}, {0.99, seconds(lag.p99)}};
    out.summary("portcullis_control_loop_lag_seconds",
                "How late the control loop runs a timer that is due (quantiles over the last minute of samples).",
                quantiles, seconds(lag.total), lag.count);
    out.gauge("portcullis_control_loop_lag_max_seconds", "The largest control loop lag measured since start.",
              seconds(lag.max));
  });
}

}  // namespace portcullis::app
