#include "proxy/worker_metrics.hpp"

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

using namespace portcullis::proxy;
using namespace std::chrono_literals;

TEST_CASE("an upstream response is counted in the bucket of its time, and the workers' histograms add up",
          "[unit][proxy][counters]") {
  WorkerCounters counters;
  auto& a = counters.add();
  auto& b = counters.add();
  a.observe_upstream_response(3ms);     // <= 0.005
  a.observe_upstream_response(5ms);     // <= 0.005, on the bound
  b.observe_upstream_response(70ms);    // <= 0.1
  b.observe_upstream_response(30s);     // above 10 s
  b.observe_upstream_response(-1ms);    // a clock that went back counts as 0
  const auto sum = counters.sum();
  CHECK(sum.upstream_response[0] == 3);
  CHECK(sum.upstream_response[4] == 1);
  CHECK(sum.upstream_response.back() == 1);
  CHECK(sum.upstream_response_us == 3'000 + 5'000 + 70'000 + 30'000'000);
}

TEST_CASE("the workers' counters are written as Prometheus families", "[unit][proxy][counters]") {
  CounterValues v;
  v.handshakes = 10;
  v.handshake_failures = 2;
  v.responses = {0, 7, 1, 2, 3};
  v.requests = 13;
  v.upstream_errors = 3;
  v.open_connections = 4;
  v.upstream_response[1] = 2;
  v.upstream_response_us = 15'000;
  portcullis::base::MetricsWriter w;
  write_worker_metrics(v, w);
  const std::string text = w.text();
  CHECK(text.find("portcullis_tls_handshakes_total 12\n") != std::string::npos);
  CHECK(text.find("portcullis_tls_handshake_failures_total 2\n") != std::string::npos);
  CHECK(text.find("portcullis_http_responses_total{code_class=\"2xx\"} 7\n") != std::string::npos);
  CHECK(text.find("portcullis_http_responses_total{code_class=\"5xx\"} 3\n") != std::string::npos);
  CHECK(text.find("portcullis_upstream_errors_total 3\n") != std::string::npos);
  CHECK(text.find("portcullis_open_connections 4\n") != std::string::npos);
  CHECK(text.find("portcullis_upstream_response_seconds_bucket{le=\"0.005\"} 0\n") != std::string::npos);
  CHECK(text.find("portcullis_upstream_response_seconds_bucket{le=\"0.01\"} 2\n") != std::string::npos);
  CHECK(text.find("portcullis_upstream_response_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("portcullis_upstream_response_seconds_sum 0.015\n") != std::string::npos);
  CHECK(text.find("portcullis_upstream_response_seconds_count 2\n") != std::string::npos);
}
