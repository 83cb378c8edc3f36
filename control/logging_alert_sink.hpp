// LoggingAlertSink: an AlertSink that writes each change of a finding to the log — a finding that
// fires (or whose `found` changed) at warn, one that resolves at info — and keeps the firing ones
// in memory. The fallback where no alert book keeps state and delivers webhooks.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "control/alert_sink.hpp"

namespace portcullis::control {

// Control thread only; nothing blocks.
class LoggingAlertSink final : public AlertSink {
 public:
  void report(std::string_view check, std::string_view endpoint_id,
              std::vector<domain::AlertFinding> findings) override;
  void forget_endpoint(std::string_view endpoint_id) override;

  // Every finding firing now, ordered by check, endpoint and key.
  std::vector<domain::AlertFinding> firing() const;

 private:
  // (check, endpoint id) -> finding key -> finding
  std::map<std::pair<std::string, std::string>, std::map<std::string, domain::AlertFinding>> firing_;
};

}  // namespace portcullis::control
