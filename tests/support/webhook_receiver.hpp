// WebhookReceiver: a small HTTP/1.1 server (Boost.Beast) on its own thread that stands in for a
// webhook endpoint. It records every POST (headers, body), answers with the statuses it is told
// to (a queue; 200 once it is empty), and checks X-Portcullis-Signature against a secret the way
// docs/monitoring.md tells receivers to: HMAC-SHA256 of "<timestamp>.<body>".
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::testing {

struct WebhookCall {
  std::string target;
  std::string body;
  std::optional<std::string> timestamp;  // X-Portcullis-Timestamp
  std::optional<std::string> signature;  // X-Portcullis-Signature
  std::string content_type;
  int answered = 0;                      // the status the receiver answered with
};

class WebhookReceiver {
 public:
  // Listens on 127.0.0.1:<ephemeral>. `secret`: what signatures are checked against.
  explicit WebhookReceiver(std::string secret = {});
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url(const std::string& path = "/hook") const;

  // The next requests are answered with these statuses, in order (then 200). `retry_after`: a
  // Retry-After value sent with each of them ("" for none).
  void answer_next(std::vector<int> statuses, std::string retry_after = {});

  std::vector<WebhookCall> calls() const;
  // The calls answered 2xx.
  std::vector<WebhookCall> accepted() const;
  // Whether `call` carries a valid signature under the receiver's secret.
  bool signature_valid(const WebhookCall& call) const;

  struct Impl;

 private:
  friend struct Impl;
  std::string secret_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::deque<int> statuses_;
  std::string retry_after_;
  std::vector<WebhookCall> calls_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace portcullis::testing
