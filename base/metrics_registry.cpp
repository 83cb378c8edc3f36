#include "base/metrics_registry.hpp"

#include <stdexcept>

namespace portcullis::base {

void MetricsRegistry::add(std::string name, Collector collector) {
  collectors_.push_back(Entry{std::move(name), std::move(collector)});
}

std::string MetricsRegistry::scrape() const {
  MetricsWriter writer;
  for (const auto& entry : collectors_) {
    try {
      entry.collector(writer);
    } catch (const std::logic_error& e) {
      throw std::logic_error("collector " + entry.name + ": " + e.what());
    }
  }
  return writer.text();
}

}  // namespace portcullis::base
