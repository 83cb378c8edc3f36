// MetricsRegistry: the collectors behind GET /metrics. Each folder that has something to count
// writes it with a collector (a function given a MetricsWriter), which reads its counters at
// scrape time: nothing is copied into the registry as it happens. The composition root adds the
// collectors at start; the admin API calls scrape().
//   registry.add("alerts", [&alerts](base::MetricsWriter& w) {
//     for (const auto& [kind, n] : alerts.firing_by_kind()) w.gauge("portcullis_alerts_firing", "...", n, {{"kind", kind}});
//   });
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/metrics_writer.hpp"

namespace portcullis::base {

class MetricsRegistry {
 public:
  using Collector = std::function<void(MetricsWriter&)>;

  // Adds a collector, run after those added before it. `name` says whose it is (for the error of
  // a collector that breaks the format). Not thread-safe: add before the first scrape.
  void add(std::string name, Collector collector);

  // Runs every collector and returns the text (MetricsWriter::content_type). Called on the control
  // thread; each collector reads its own counters (atomics or control-thread state). Throws
  // std::logic_error, naming the collector, when one writes a malformed sample (a bug).
  std::string scrape() const;

  std::size_t size() const noexcept { return collectors_.size(); }

 private:
  struct Entry {
    std::string name;
    Collector collector;
  };
  std::vector<Entry> collectors_;
};

}  // namespace portcullis::base
