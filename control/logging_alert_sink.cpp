#include "control/logging_alert_sink.hpp"

#include "base/logging.hpp"

namespace portcullis::control {
namespace {

void log_firing(std::string_view check, const domain::AlertFinding& f) {
  log::dns()->warn("alert firing check={} kind={} severity={} endpoint={} subject=\"{}\" expected=\"{}\" found=\"{}\" "
                   "fix=\"{}\"",
                   check, domain::to_string(f.kind), domain::to_string(f.severity),
                   f.endpoint_id.empty() ? "-" : f.endpoint_id, f.subject, f.expected, f.found, f.fix);
}

void log_resolved(std::string_view check, const domain::AlertFinding& f) {
  log::dns()->info("alert resolved check={} kind={} endpoint={} subject=\"{}\"", check, domain::to_string(f.kind),
                   f.endpoint_id.empty() ? "-" : f.endpoint_id, f.subject);
}

}  // namespace

void LoggingAlertSink::report(std::string_view check, std::string_view endpoint_id,
                              std::vector<domain::AlertFinding> findings) {
  const std::pair<std::string, std::string> at{std::string(check), std::string(endpoint_id)};
  std::map<std::string, domain::AlertFinding> next;
  for (auto& f : findings) {
    auto key = f.key();
    next.insert_or_assign(std::move(key), std::move(f));
  }
  auto it = firing_.find(at);
  std::map<std::string, domain::AlertFinding> empty;
  const auto& before = it == firing_.end() ? empty : it->second;
  for (const auto& [key, f] : next) {
    auto was = before.find(key);
    if (was == before.end() || was->second.found != f.found) log_firing(check, f);
  }
  for (const auto& [key, f] : before)
    if (!next.contains(key)) log_resolved(check, f);
  if (next.empty()) {
    if (it != firing_.end()) firing_.erase(it);
  } else {
    firing_[at] = std::move(next);
  }
}

void LoggingAlertSink::forget_endpoint(std::string_view endpoint_id) {
  for (auto it = firing_.begin(); it != firing_.end();) {
    if (it->first.second != endpoint_id) {
      ++it;
      continue;
    }
    for (const auto& [key, f] : it->second) log_resolved(it->first.first, f);
    it = firing_.erase(it);
  }
}

std::vector<domain::AlertFinding> LoggingAlertSink::firing() const {
  std::vector<domain::AlertFinding> out;
  for (const auto& [at, findings] : firing_)
    for (const auto& [key, f] : findings) out.push_back(f);
  return out;
}

}  // namespace portcullis::control
