// One spdlog logger per folder ("certstore", "acme", "dns", "proxy", "admin", "control", "app", "alerts"), key=value
// fields in messages, written to stderr as text or as one JSON object per line (set_format):
//   log::acme()->info("issued name={} serial={} not_after={}", name, serial, not_after);
// Never pass a private key, a token or an account secret to a logger.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

#include "base/error.hpp"

namespace portcullis::log {

// Sets the level of every folder logger: "trace", "debug", "info", "warn", "error", "off".
Status set_level(std::string_view level);
// Sets the line format of every folder logger, and of those made later: "text"
// ("2026-12-01T10:02:41.123Z info acme: issued ...") or "json" (base/json_log_formatter.hpp).
// Thread-safe.
Status set_format(std::string_view format);
// The "text" format's formatter: the message with control characters escaped (base::log_safe), so
// no value logged can break its line. For set_format and tests.
std::unique_ptr<spdlog::formatter> text_formatter();

std::shared_ptr<spdlog::logger> certstore();
std::shared_ptr<spdlog::logger> acme();
std::shared_ptr<spdlog::logger> proxy();
std::shared_ptr<spdlog::logger> dns();
std::shared_ptr<spdlog::logger> admin();
std::shared_ptr<spdlog::logger> control();
std::shared_ptr<spdlog::logger> app();
std::shared_ptr<spdlog::logger> alerts();  // control/'s alert book and webhooks

}  // namespace portcullis::log
