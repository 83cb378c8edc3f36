// RenewThrottle: "renew now" at most once per interval for each endpoint. A renewal may cost the CA
// a new order, and the CA's rate limits are shared by every endpoint of the platform; the answer
// past the limit is 429 with Retry-After (RFC 9110 §10.2.3).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>

namespace portcullis::admin {

class RenewThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  // Whether a request for `id` at `now` may go ahead when one per `interval` is allowed: nullopt
  // for yes (and it is recorded), else the wait until the next one may, in whole seconds rounded
  // up (at least 1). Control thread only. The table is pruned of entries past their interval when
  // it grows, so it holds at most the endpoints renewed within one interval (plus prune_above).
  std::optional<std::chrono::seconds> admit(const std::string& id, Clock::time_point now, Clock::duration interval) {
    if (auto it = last_.find(id); it != last_.end() && now - it->second < interval) {
      const auto left = interval - (now - it->second);
      auto seconds = std::chrono::ceil<std::chrono::seconds>(left);
      return seconds.count() < 1 ? std::chrono::seconds(1) : seconds;
    }
    if (last_.size() >= prune_above) {
      std::erase_if(last_, [&](const auto& entry) { return now - entry.second >= interval; });
    }
    last_[id] = now;
    return std::nullopt;
  }

 private:
  static constexpr std::size_t prune_above = 1024;
  std::unordered_map<std::string, Clock::time_point> last_;
};

}  // namespace portcullis::admin
