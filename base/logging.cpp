#include "base/logging.hpp"

#include <atomic>

#include <spdlog/sinks/stdout_color_sinks.h>

#include "base/json_log_formatter.hpp"

namespace portcullis::log {
namespace {

constexpr const char* text_pattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %n: %v";

// The format of every logger, including those made after set_format().
std::atomic<bool> json_format{false};

void apply_format(spdlog::logger& logger, bool json) {
  if (json) {
    logger.set_formatter(std::make_unique<base::JsonLogFormatter>());
  } else {
    logger.set_pattern(text_pattern, spdlog::pattern_time_type::utc);
  }
}

std::shared_ptr<spdlog::logger> make(const char* name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  apply_format(*logger, json_format.load());
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
std::shared_ptr<spdlog::logger> control() {
  static auto logger = make("control");
  return logger;
}
std::shared_ptr<spdlog::logger> app() {
  static auto logger = make("app");
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
  for (auto& logger : {certstore(), acme(), dns(), proxy(), admin(), control(), app(), alerts()}) logger->set_level(parsed);
  return {};
}

Status set_format(std::string_view format) {
  if (format != "text" && format != "json") {
    return fail(Errc::config, "expected \"text\" or \"json\", got \"" + std::string(format) + "\"");
  }
  const bool json = format == "json";
  json_format.store(json);
  for (auto& logger : {certstore(), acme(), dns(), proxy(), admin(), control(), app(), alerts()}) apply_format(*logger, json);
  return {};
}

}  // namespace portcullis::log
