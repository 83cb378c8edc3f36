#include "proxy/worker_metrics.hpp"

#include <string>

namespace portcullis::proxy {

void write_worker_metrics(const CounterValues& totals, base::MetricsWriter& out) {
  const auto n = [](std::uint64_t v) { return static_cast<double>(v); };
  // Attempts: a handshake counts once, completed or failed, so failures / total is the failure ratio.
  out.counter("portcullis_tls_handshakes_total", "TLS handshakes attempted on the https listeners.",
              n(totals.handshakes + totals.handshake_failures));
  out.counter("portcullis_tls_handshake_failures_total",
              "TLS handshakes that failed (no shared protocol or cipher, bad record, timeout, reset).",
              n(totals.handshake_failures));
  out.counter("portcullis_http_requests_total", "HTTP request heads read from clients, on every listener.",
              n(totals.requests));
  static constexpr const char* classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (std::size_t i = 0; i < totals.responses.size(); ++i) {
    out.counter("portcullis_http_responses_total",
                "HTTP responses sent to clients by status class: the upstream's, and the proxy's own (redirects, "
                "ACME HTTP-01 answers, errors).",
                n(totals.responses[i]), {{"code_class", classes[i]}});
  }
  out.counter("portcullis_upstream_errors_total",
              "Requests answered 502 or 504, or cut, because of an upstream (refused, reset, timed out, malformed).",
              n(totals.upstream_errors));
  out.gauge("portcullis_open_connections", "Client connections open now, on every listener.",
            n(totals.open_connections));
  constexpr std::string_view refused_help =
      "Client connections closed at accept, before any byte was read, by the limit that refused them.";
  out.counter("portcullis_connections_refused_total", refused_help, n(totals.refused_per_ip),
              {{"reason", "per_ip"}});
  out.counter("portcullis_connections_refused_total", refused_help, n(totals.refused_max_connections),
              {{"reason", "max_connections"}});
  out.counter("portcullis_accept_pauses_total",
              "Times a listener paused accepting because the process was out of descriptors (EMFILE, ENFILE).",
              n(totals.accept_pauses));
  out.gauge("portcullis_active_requests", "Requests between their head and the end of their response now.",
            n(totals.active_requests));
  out.histogram("portcullis_upstream_response_seconds",
                "Time from sending a request to an upstream to reading its response head, for responses received.",
                upstream_response_bounds, totals.upstream_response,
                static_cast<double>(totals.upstream_response_us) / 1e6);
}

}  // namespace portcullis::proxy
