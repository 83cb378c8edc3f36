// LogLimiter: a budget for log lines that people outside can cause at will (malformed requests,
// connections refused at the limit, a dead upstream hit by every request). Each such line costs
// spdlog's process-wide lock and a write; unbounded, a flood of bad requests becomes a flood of
// log writes that every worker queues behind. At most `burst` lines pass per `interval`; the rest
// are counted and the count is reported with the next line that passes ("suppressed=N").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace portcullis::base {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  LogLimiter(std::uint32_t burst, Clock::duration interval) noexcept : burst_(burst), interval_(interval) {}

  // Whether a line may be written at `now`: nullopt to drop it, else the number of lines dropped
  // since the last one written. Not thread-safe: one limiter per worker thread and kind of line.
  std::optional<std::uint64_t> admit(Clock::time_point now) noexcept {
    if (now - window_start_ >= interval_) {
      window_start_ = now;
      passed_ = 0;
    }
    if (passed_ >= burst_) {
      ++dropped_;
      return std::nullopt;
    }
    ++passed_;
    const auto dropped = dropped_;
    dropped_ = 0;
    return dropped;
  }

 private:
  std::uint32_t burst_;
  Clock::duration interval_;
  Clock::time_point window_start_{};
  std::uint32_t passed_ = 0;
  std::uint64_t dropped_ = 0;
};

// " suppressed=N" for a line that follows N dropped ones; "" when none was dropped.
inline std::string suppressed_suffix(std::uint64_t dropped) {
  return dropped == 0 ? std::string() : " suppressed=" + std::to_string(dropped);
}

}  // namespace portcullis::base
