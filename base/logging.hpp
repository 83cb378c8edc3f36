// One spdlog logger per folder ("certstore", "acme", "dns", "proxy", "admin", "alerts"), key=value fields in messages:
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

std::shared_ptr<spdlog::logger> certstore();
std::shared_ptr<spdlog::logger> acme();
std::shared_ptr<spdlog::logger> proxy();
std::shared_ptr<spdlog::logger> dns();
std::shared_ptr<spdlog::logger> admin();
std::shared_ptr<spdlog::logger> alerts();  // control/'s alert book and webhooks

}  // namespace portcullis::log
