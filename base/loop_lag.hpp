// LoopLagProbe: how late the control loop runs what is due. A timer fires every interval and
// measures how long after its deadline it ran; a call that blocks the loop shows up as lag. Keeps
// the recent samples (p50, p99, max) for readers, logs one lag past a threshold (rate-limited),
// and a summary line at drain.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

namespace portcullis::base {

class LoopLagProbe {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = std::chrono::microseconds;

  struct Options {
    std::chrono::milliseconds interval{50};
    // One lag past this is logged (warn), at most once per report_every.
    std::chrono::milliseconds report_threshold{100};
    std::chrono::seconds report_every{10};
    std::size_t samples = 1200;  // recent samples kept: a minute at 50 ms
  };

  struct Summary {
    Duration p50{0}, p99{0}, max{0};  // p50 and p99 of the kept samples; max since start
    std::size_t samples = 0;          // samples kept
    Duration total{0};                // every lag measured since start, added up
    std::uint64_t count = 0;          // samples measured since start
  };

  // `executor` is the loop to measure (the control thread's); `log` gets the lines.
  LoopLagProbe(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log, Options options);
  LoopLagProbe(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log);
  LoopLagProbe(const LoopLagProbe&) = delete;
  LoopLagProbe& operator=(const LoopLagProbe&) = delete;

  // Arms the timer (start) or cancels it (stop). Call on the measured loop's thread.
  void start();
  void stop();

  // The kept samples and the largest lag seen since start. Thread-safe.
  Summary summary() const;
  // "control loop lag p99=…ms max=…ms p50=…ms samples=N" at info. Thread-safe.
  void log_summary() const;

 private:
  void arm();
  void record(Duration lag);

  boost::asio::steady_timer timer_;
  std::shared_ptr<spdlog::logger> log_;
  Options options_;
  Clock::time_point deadline_{};
  Clock::time_point last_report_{};
  bool running_ = false;

  mutable std::mutex mutex_;  // guards the samples for readers on other threads
  std::vector<Duration> ring_;
  std::size_t next_ = 0;
  Duration max_{0};
  Duration total_{0};
  std::uint64_t count_ = 0;
};

}  // namespace portcullis::base
