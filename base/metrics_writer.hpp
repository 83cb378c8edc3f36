// MetricsWriter: the Prometheus text exposition format (version 0.0.4) for GET /metrics. Collectors
// add samples family by family; the writer keeps each family's samples together under one HELP and
// one TYPE line whatever order they arrive in, escapes label values and help text, writes
// histograms' cumulative buckets, and refuses (std::logic_error: a bug, not an input) a malformed
// name, a family given two types, a counter not named *_total and a sample written twice.
//   MetricsWriter w;
//   w.gauge("portcullis_open_connections", "Client connections open now.", 12);
//   w.counter("portcullis_acme_requests_total", "Requests to the CA.", 3, {{"type", "newOrder"}, {"status", "201"}});
//   std::string body = w.text();
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace portcullis::base {

struct MetricLabel {
  std::string_view name;
  std::string_view value;  // any bytes: escaped, and invalid UTF-8 replaced by U+FFFD
};
using MetricLabels = std::initializer_list<MetricLabel>;

// One quantile of a summary: {0.99, seconds}.
struct MetricQuantile {
  double quantile = 0;
  double value = 0;
};

class MetricsWriter {
 public:
  enum class Type { counter, gauge, histogram, summary };

  // The media type of text(): what GET /metrics answers with.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  // A family with no sample yet: its HELP and TYPE are written even if none follows (a gauge of
  // alerts when none fires). Declaring it again with the same type is a no-op.
  void declare(std::string_view name, std::string_view help, Type type);

  void counter(std::string_view name, std::string_view help, double value, MetricLabels labels = {});
  void gauge(std::string_view name, std::string_view help, double value, MetricLabels labels = {});
  // `bounds`: the buckets' upper bounds, ascending, without +Inf. `counts`: the observations per
  // bucket, not cumulative, one more than `bounds` (the last: above the largest bound). Writes
  // name_bucket{le=...} (cumulative, then le="+Inf"), name_sum and name_count.
  void histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                 std::span<const std::uint64_t> counts, double sum, MetricLabels labels = {});
  // name{quantile=...} for each, then name_sum and name_count.
  void summary(std::string_view name, std::string_view help, std::span<const MetricQuantile> quantiles, double sum,
               std::uint64_t count, MetricLabels labels = {});

  // Every family in the order it was first declared or written, each as one group.
  std::string text() const;

 private:
  struct Family {
    std::string name, help;
    Type type;
    std::string samples;            // the sample lines, each ending in '\n'
    std::set<std::string> written;  // the label sets written, to refuse a duplicate
  };
  Family& family(std::string_view name, std::string_view help, Type type);
  // One sample line: `name`{labels[,extra]} value.
  static void sample(Family& family, std::string_view name, MetricLabels labels, const MetricLabel* extra,
                     double value);

  std::vector<Family> families_;
  std::unordered_map<std::string, std::size_t> index_;
};

// The value as the format writes it: integers without a fraction, otherwise the shortest form
// that reads back the same ("0.005", "1.5e-06"), "NaN", "+Inf", "-Inf". Pure.
std::string format_metric_value(double value);
// A label value or help text escaped for the format (`\` `"` and newline in label values; `\` and
// newline in help text); invalid UTF-8 becomes U+FFFD. Pure.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);

}  // namespace portcullis::base
