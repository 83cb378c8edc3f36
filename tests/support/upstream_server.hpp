// UpstreamServer: a small HTTP/1.1 origin (Boost.Beast) on its own thread inside the test process,
// used behind the real proxy. It records every request head and every complete request, so a test
// can assert what the proxy forwarded (and that an attack was not forwarded at all).
//
// Behaviour by target path (query string after '?'):
//   /slow?ms=N         waits N ms before answering (then echoes)
//   /download?bytes=N  answers N bytes of pattern_bytes(N)
//   /close             closes the connection without answering
//   /answer-then-close echoes with "Connection: keep-alive", then closes the connection
//   WebSocket upgrade  echoes every message back (any path)
//   anything else      echoes the request as JSON:
//                      {"method","target","headers":[[name,value],...],"body_size","body_sha256","body"}
//                      ("body" only when it is at most 64 KiB)
// Every response carries "X-Upstream: <port>" and the hop-by-hop headers
// "Connection: keep-alive, X-Upstream-Hop", "X-Upstream-Hop: 1", "Keep-Alive: timeout=30",
// which the proxy must strip.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace portcullis::testing {

// Deterministic bytes for large-body tests; the same `n` always gives the same content.
std::string pattern_bytes(std::size_t n);
// Lower-case hex SHA-256.
std::string sha256_hex(std::string_view data);

struct RecordedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order
  std::size_t body_size = 0;
  std::string body_sha256;
  std::string body;  // only when body_size <= 64 KiB

  // Values of every header named `name` (case-insensitive).
  std::vector<std::string> all(std::string_view name) const;
  // The first value of `name`, if any.
  std::optional<std::string> get(std::string_view name) const;
};

class UpstreamServer {
 public:
  // Listens on 127.0.0.1:<ephemeral> and serves on one background thread until destroyed.
  UpstreamServer();
  ~UpstreamServer();
  UpstreamServer(const UpstreamServer&) = delete;
  UpstreamServer& operator=(const UpstreamServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Thread-safe snapshots of what arrived so far.
  std::vector<RecordedRequest> requests() const;  // complete requests (head + whole body)
  std::vector<std::string> heads() const;         // targets of every request head, complete or not
  std::size_t request_count() const;
  std::size_t head_count() const;
  std::size_t connection_count() const noexcept { return connections_.load(); }
  std::size_t websocket_messages() const noexcept { return ws_messages_.load(); }
  void clear();

  struct Impl;

 private:
  friend struct Impl;
  void record_head(std::string target);
  void record_request(RecordedRequest r);

  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;
  std::vector<std::string> heads_;
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> ws_messages_{0};
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace portcullis::testing
