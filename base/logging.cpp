#include "base/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace portcullis::log {
namespace {

std::shared_ptr<spdlog::logger> make(const char* name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %n: %v", spdlog::pattern_time_type::utc);
  return logger;
}

}  // namespace

std::shared_ptr<spdlog::logger> certstore() {
  static auto logger = make("certstore");
  return logger;
}
std::shared_ptr<spdlog::logger> acme() {
  static auto logger = make("acme");
  return logger;
}
std::shared_ptr<spdlog::logger> proxy() {
  static auto logger = make("proxy");
  return logger;
}
std::shared_ptr<spdlog::logger> dns() {
  static auto logger = make("dns");
  return logger;
}

std::shared_ptr<spdlog::logger> admin() {
  static auto logger = make("admin");
  return logger;
}

std::shared_ptr<spdlog::logger> alerts() {
  static auto logger = make("alerts");
  return logger;
}

Status set_level(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return fail(Errc::config, "expected one of trace, debug, info, warn, error, off, got \"" +
                                  std::string(level) + "\"");
  }
  for (auto& logger : {certstore(), acme(), dns(), proxy(), admin(), alerts()}) logger->set_level(parsed);
  return {};
}

}  // namespace portcullis::log
