#include "base/loop_lag.hpp"

#include <algorithm>

namespace portcullis::base {
namespace {

double to_ms(LoopLagProbe::Duration d) { return static_cast<double>(d.count()) / 1000.0; }

// The sample at quantile q of a sorted, non-empty vector (nearest rank).
LoopLagProbe::Duration quantile(const std::vector<LoopLagProbe::Duration>& sorted, double q) {
  auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace

LoopLagProbe::LoopLagProbe(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log,
                           Options options)
    : timer_(std::move(executor)), log_(std::move(log)), options_(options) {
  if (options_.samples == 0) options_.samples = 1;
  ring_.reserve(options_.samples);
}

LoopLagProbe::LoopLagProbe(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log)
    : LoopLagProbe(std::move(executor), std::move(log), Options{}) {}

void LoopLagProbe::start() {
  if (running_) return;
  running_ = true;
  arm();
}

void LoopLagProbe::stop() {
  running_ = false;
  timer_.cancel();
}

void LoopLagProbe::arm() {
  deadline_ = Clock::now() + options_.interval;
  timer_.expires_at(deadline_);
  // Runs only while the probe lives: its destruction cancels the timer, and an aborted wait
  // touches nothing.
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    record(std::chrono::duration_cast<Duration>(Clock::now() - deadline_));
    arm();
  });
}

void LoopLagProbe::record(Duration lag) {
  lag = std::max(lag, Duration(0));
  {
    std::lock_guard lock(mutex_);
    if (ring_.size() < options_.samples) {
      ring_.push_back(lag);
    } else {
      ring_[next_] = lag;
    }
    next_ = (next_ + 1) % options_.samples;
    max_ = std::max(max_, lag);
    total_ += lag;
    ++count_;
  }
  auto now = Clock::now();
  if (lag > options_.report_threshold &&
      (last_report_ == Clock::time_point{} || now - last_report_ >= options_.report_every)) {
    last_report_ = now;
    log_->warn("control loop lag lag_ms={:.1f} threshold_ms={}", to_ms(lag), options_.report_threshold.count());
  }
}

LoopLagProbe::Summary LoopLagProbe::summary() const {
  std::vector<Duration> sorted;
  Summary out;
  {
    std::lock_guard lock(mutex_);
    sorted = ring_;
    out.max = max_;
    out.total = total_;
    out.count = count_;
  }
  out.samples = sorted.size();
  if (sorted.empty()) return out;
  std::sort(sorted.begin(), sorted.end());
  out.p50 = quantile(sorted, 0.50);
  out.p99 = quantile(sorted, 0.99);
  return out;
}

void LoopLagProbe::log_summary() const {
  auto s = summary();
  log_->info("control loop lag p99={:.1f}ms max={:.1f}ms p50={:.1f}ms samples={}", to_ms(s.p99), to_ms(s.max),
             to_ms(s.p50), s.samples);
}

}  // namespace portcullis::base
