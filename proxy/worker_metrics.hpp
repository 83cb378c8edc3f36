// The data plane's Prometheus families, from the workers' counters added up at scrape time
// (WorkerCounters::sum): TLS handshakes, HTTP responses by status class, upstream errors, open
// connections, requests and the upstream response time histogram.
#pragma once

#include "base/metrics_writer.hpp"
#include "proxy/worker_counters.hpp"

namespace portcullis::proxy {

// Writes `totals` (the workers' counters added up). Pure; any thread.
void write_worker_metrics(const CounterValues& totals, base::MetricsWriter& out);

}  // namespace portcullis::proxy
