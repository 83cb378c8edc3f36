#include "base/metrics_writer.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "base/utf8.hpp"

namespace portcullis::base {
namespace {

std::string_view type_name(MetricsWriter::Type type) {
  switch (type) {
    case MetricsWriter::Type::counter: return "counter";
    case MetricsWriter::Type::gauge: return "gauge";
    case MetricsWriter::Type::histogram: return "histogram";
    case MetricsWriter::Type::summary: return "summary";
  }
  return "untyped";
}

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names have no ':' and no leading "__".
void check_metric_name(std::string_view name) {
  bool ok = !name.empty() && (name_start(name[0]) || name[0] == ':');
  for (char c : name) ok = ok && (name_char(c) || c == ':');
  if (!ok) throw std::logic_error(fmt::format("metrics: invalid metric name \"{}\"", name));
}

void check_label_name(std::string_view name, std::string_view metric) {
  bool ok = !name.empty() && name_start(name[0]) && !name.starts_with("__");
  for (char c : name) ok = ok && name_char(c);
  if (!ok) throw std::logic_error(fmt::format("metrics: {}: invalid label name \"{}\"", metric, name));
}

// Escapes `text`, calling `special` for each ASCII byte; invalid UTF-8 becomes U+FFFD.
template <class Special>
std::string escape(std::string_view text, Special special) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += utf8_replacement;
      ++i;
    } else if (n == 1) {
      special(out, text[i]);
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Counters and most gauges are whole numbers: written without an exponent up to 2^53.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<std::int64_t>(value));
  }
  return fmt::format("{}", value);
}

std::string escape_label_value(std::string_view value) {
  return escape(value, [](std::string& out, char c) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  });
}

std::string escape_help(std::string_view help) {
  return escape(help, [](std::string& out, char c) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  });
}

MetricsWriter::Family& MetricsWriter::family(std::string_view name, std::string_view help, Type type) {
  if (auto it = index_.find(std::string(name)); it != index_.end()) {
    Family& f = families_[it->second];
    if (f.type != type) {
      throw std::logic_error(fmt::format("metrics: {} written as a {} and as a {}", name, type_name(f.type),
                                         type_name(type)));
    }
    return f;
  }
  check_metric_name(name);
  // Prometheus naming: a counter's name ends in _total (in format 0.0.4 the TYPE line names it so).
  if (type == Type::counter && !name.ends_with("_total")) {
    throw std::logic_error(fmt::format("metrics: counter {} must end in _total", name));
  }
  index_.emplace(std::string(name), families_.size());
  families_.push_back(Family{std::string(name), std::string(help), type, {}, {}});
  return families_.back();
}

void MetricsWriter::sample(Family& family, std::string_view name, MetricLabels labels, const MetricLabel* extra,
                           double value) {
  std::string label_text;
  auto add = [&](const MetricLabel& label) {
    check_label_name(label.name, family.name);
    label_text += label_text.empty() ? "{" : ",";
    label_text += label.name;
    label_text += "=\"";
    label_text += escape_label_value(label.value);
    label_text += '"';
  };
  for (const auto& label : labels) {
    // "le" and "quantile" belong to histograms and summaries, which add them themselves.
    if (label.name == "le" || label.name == "quantile") {
      throw std::logic_error(fmt::format("metrics: {}: label name \"{}\" is reserved", family.name, label.name));
    }
    add(label);
  }
  if (extra) add(*extra);
  if (!label_text.empty()) label_text += '}';
  if (!family.written.insert(std::string(name) + label_text).second) {
    throw std::logic_error(fmt::format("metrics: sample {}{} written twice", name, label_text));
  }
  family.samples.append(name);
  family.samples += label_text;
  family.samples += ' ';
  family.samples += format_metric_value(value);
  family.samples += '\n';
}

void MetricsWriter::declare(std::string_view name, std::string_view help, Type type) { family(name, help, type); }

void MetricsWriter::counter(std::string_view name, std::string_view help, double value, MetricLabels labels) {
  sample(family(name, help, Type::counter), name, labels, nullptr, value);
}

void MetricsWriter::gauge(std::string_view name, std::string_view help, double value, MetricLabels labels) {
  sample(family(name, help, Type::gauge), name, labels, nullptr, value);
}

void MetricsWriter::histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                              std::span<const std::uint64_t> counts, double sum, MetricLabels labels) {
  if (counts.size() != bounds.size() + 1) {
    throw std::logic_error(fmt::format("metrics: histogram {}: {} bounds need {} counts, got {}", name, bounds.size(),
                                       bounds.size() + 1, counts.size()));
  }
  Family& f = family(name, help, Type::histogram);
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    if (i > 0 && i < bounds.size() && !(bounds[i] > bounds[i - 1])) {
      throw std::logic_error(fmt::format("metrics: histogram {}: bounds must ascend", name));
    }
    cumulative += counts[i];
    const std::string le = i < bounds.size() ? format_metric_value(bounds[i]) : "+Inf";
    const MetricLabel extra{"le", le};
    sample(f, bucket, labels, &extra, static_cast<double>(cumulative));
  }
  sample(f, std::string(name) + "_sum", labels, nullptr, sum);
  sample(f, std::string(name) + "_count", labels, nullptr, static_cast<double>(cumulative));
}

void MetricsWriter::summary(std::string_view name, std::string_view help, std::span<const MetricQuantile> quantiles,
                            double sum, std::uint64_t count, MetricLabels labels) {
  Family& f = family(name, help, Type::summary);
  for (const auto& q : quantiles) {
    const std::string quantile = format_metric_value(q.quantile);
    const MetricLabel extra{"quantile", quantile};
    sample(f, name, labels, &extra, q.value);
  }
  sample(f, std::string(name) + "_sum", labels, nullptr, sum);
  sample(f, std::string(name) + "_count", labels, nullptr, static_cast<double>(count));
}

std::string MetricsWriter::text() const {
  std::string out;
  for (const auto& f : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help(f.help), f.name, type_name(f.type));
    out += f.samples;
  }
  return out;
}

}  // namespace portcullis::base
