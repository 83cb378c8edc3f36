#include "base/logging.hpp"

#include <atomic>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "base/json_log_formatter.hpp"
#include "base/quote.hpp"

namespace portcullis::log {
namespace {

// %* is the message through base::append_log_safe: every value in every key=value field (a
// hostname, a TXT value, an upstream, a Host header) is escaped at this one place, so none can
// break the line and forge another. (The JSON format escapes in JsonLogFormatter.)
constexpr const char* text_pattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %n: %*";

class SafeMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (base::is_log_safe(text)) {
      dest.append(text.data(), text.data() + text.size());
      return;
    }
    std::string escaped;
    escaped.reserve(text.size() + 16);
    base::append_log_safe(escaped, text);
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SafeMessageFlag>(); }
};

// The format of every logger, including those made after set_format().
std::atomic<bool> json_format{false};

void apply_format(spdlog::logger& logger, bool json) {
  if (json) {
    logger.set_formatter(std::make_unique<base::JsonLogFormatter>());
  } else {
    logger.set_formatter(text_formatter());
  }
}

std::shared_ptr<spdlog::logger> make(const char* name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  apply_format(*logger, json_format.load());
  return logger;
}

}  // namespace

std::unique_ptr<spdlog::formatter> text_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<SafeMessageFlag>('*').set_pattern(text_pattern);
  return formatter;
}

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
