#include "base/metrics_writer.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "base/metrics_registry.hpp"

using portcullis::base::MetricQuantile;
using portcullis::base::MetricsRegistry;
using portcullis::base::MetricsWriter;
using portcullis::base::escape_help;
using portcullis::base::escape_label_value;
using portcullis::base::format_metric_value;

TEST_CASE("a family's samples are grouped under one HELP and one TYPE line whatever order they come in",
          "[unit][base][metrics]") {
  MetricsWriter w;
  w.counter("a_total", "Things.", 1, {{"kind", "x"}});
  w.gauge("b", "Level.", 2.5);
  w.counter("a_total", "Things.", 3, {{"kind", "y"}});
  CHECK(w.text() ==
        "# HELP a_total Things.\n"
        "# TYPE a_total counter\n"
        "a_total{kind=\"x\"} 1\n"
        "a_total{kind=\"y\"} 3\n"
        "# HELP b Level.\n"
        "# TYPE b gauge\n"
        "b 2.5\n");
}

TEST_CASE("label values and help text are escaped, and invalid UTF-8 is replaced", "[unit][base][metrics]") {
  CHECK(escape_label_value(R"(a\b"c)") == R"(a\\b\"c)");
  CHECK(escape_label_value("line\nbreak") == "line\\nbreak");
  CHECK(escape_label_value("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(escape_label_value("bad\xFFxyz") == "bad\xEF\xBF\xBDxyz");
  CHECK(escape_label_value("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  CHECK(escape_help("a \"quoted\" \\ help\nline") == "a \"quoted\" \\\\ help\\nline");

  MetricsWriter w;
  w.gauge("g", "Help with \\ and\nnewline.", 1, {{"name", "we\"ird\\"}});
  CHECK(w.text() ==
        "# HELP g Help with \\\\ and\\nnewline.\n"
        "# TYPE g gauge\n"
        "g{name=\"we\\\"ird\\\\\"} 1\n");
}

TEST_CASE("values are written as integers, shortest decimals or the format's special values", "[unit][base][metrics]") {
  CHECK(format_metric_value(0) == "0");
  CHECK(format_metric_value(1764583361) == "1764583361");
  CHECK(format_metric_value(-3) == "-3");
  CHECK(format_metric_value(0.005) == "0.005");
  CHECK(format_metric_value(2.5) == "2.5");
  CHECK(std::stod(format_metric_value(1.5e-06)) == 1.5e-06);
  CHECK(format_metric_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(format_metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_metric_value(-std::numeric_limits<double>::infinity()) == "-Inf");
}

TEST_CASE("a histogram writes cumulative buckets, +Inf, sum and count", "[unit][base][metrics]") {
  MetricsWriter w;
  const std::array<double, 2> bounds{0.1, 1};
  const std::array<std::uint64_t, 3> counts{2, 3, 1};
  w.histogram("latency_seconds", "Latency.", bounds, counts, 4.25, {{"route", "a"}});
  CHECK(w.text() ==
        "# HELP latency_seconds Latency.\n"
        "# TYPE latency_seconds histogram\n"
        "latency_seconds_bucket{route=\"a\",le=\"0.1\"} 2\n"
        "latency_seconds_bucket{route=\"a\",le=\"1\"} 5\n"
        "latency_seconds_bucket{route=\"a\",le=\"+Inf\"} 6\n"
        "latency_seconds_sum{route=\"a\"} 4.25\n"
        "latency_seconds_count{route=\"a\"} 6\n");
  const std::array<std::uint64_t, 2> too_few{1, 2};
  CHECK_THROWS_AS(w.histogram("other_seconds", "x", bounds, too_few, 0), std::logic_error);
}

TEST_CASE("a summary writes its quantiles, sum and count", "[unit][base][metrics]") {
  MetricsWriter w;
  const MetricQuantile q[] = {{0.5, 0.001}, {0.99, 0.25}};
  w.summary("lag_seconds", "Lag.", q, 12.5, 1000);
  CHECK(w.text() ==
        "# HELP lag_seconds Lag.\n"
        "# TYPE lag_seconds summary\n"
        "lag_seconds{quantile=\"0.5\"} 0.001\n"
        "lag_seconds{quantile=\"0.99\"} 0.25\n"
        "lag_seconds_sum 12.5\n"
        "lag_seconds_count 1000\n");
}

TEST_CASE("a declared family without samples still has its HELP and TYPE", "[unit][base][metrics]") {
  MetricsWriter w;
  w.declare("alerts_firing", "Alerts firing.", MetricsWriter::Type::gauge);
  w.declare("alerts_firing", "Alerts firing.", MetricsWriter::Type::gauge);
  CHECK(w.text() == "# HELP alerts_firing Alerts firing.\n# TYPE alerts_firing gauge\n");
}

TEST_CASE("a malformed family or sample is refused as a bug", "[unit][base][metrics]") {
  MetricsWriter w;
  CHECK_THROWS_AS(w.gauge("bad-name", "x", 1), std::logic_error);
  CHECK_THROWS_AS(w.gauge("9lives", "x", 1), std::logic_error);
  CHECK_THROWS_AS(w.gauge("ok", "x", 1, {{"bad-label", "v"}}), std::logic_error);
  CHECK_THROWS_AS(w.gauge("ok2", "x", 1, {{"__reserved", "v"}}), std::logic_error);
  CHECK_THROWS_AS(w.gauge("ok3", "x", 1, {{"le", "1"}}), std::logic_error);
  CHECK_THROWS_AS(w.counter("requests", "x", 1), std::logic_error);  // a counter ends in _total
  w.gauge("twice", "x", 1, {{"a", "1"}});
  CHECK_THROWS_AS(w.gauge("twice", "x", 2, {{"a", "1"}}), std::logic_error);
  CHECK_NOTHROW(w.gauge("twice", "x", 2, {{"a", "2"}}));
  w.gauge("level_total", "x", 1);
  CHECK_THROWS_AS(w.counter("level_total", "x", 1), std::logic_error);  // a gauge already
}

TEST_CASE("the registry runs its collectors in order and names one that breaks the format", "[unit][base][metrics]") {
  MetricsRegistry registry;
  registry.add("first", [](MetricsWriter& w) { w.gauge("x", "X.", 1); });
  registry.add("second", [](MetricsWriter& w) { w.counter("y_total", "Y.", 2); });
  CHECK(registry.scrape() == "# HELP x X.\n# TYPE x gauge\nx 1\n# HELP y_total Y.\n# TYPE y_total counter\ny_total 2\n");
  registry.add("broken", [](MetricsWriter& w) { w.counter("x_total", "X.", 1, {{"a-b", "1"}}); });
  try {
    (void)registry.scrape();
    FAIL("no error");
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).starts_with("collector broken: "));
  }
}
