// LoadGenerator: the at-scale test's hostile and normal clients, bounded in count and time, on
// loopback only. On one thread (Asio coroutines): connections that trickle a request header one
// line a second, TLS connections that read a large response slowly, and a DNS-over-TCP flood from
// one address that holds connections idle. On threads of their own: a normal HTTPS client and a
// normal DNS client whose latencies are recorded. Beside it, a streaming upstream that answers
// /big with a large body from one shared buffer (no copy per connection).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.hpp"

namespace portcullis::testing {

// An HTTP/1.1 origin on 127.0.0.1 on its own thread: GET /big answers `big_body_bytes` bytes,
// anything else a two-byte body, keep-alive.
class StreamingUpstream {
 public:
  static constexpr std::uint64_t big_body_bytes = 64ull << 20;
  StreamingUpstream();
  ~StreamingUpstream();
  std::uint16_t port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

struct LoadPlan {
  Millis duration{10'000};          // new hostile connections are opened until then
  Millis ramp{2'000};               // the hostile connections are first opened over this long
  Millis slack{2'000};              // a slow connection must be closed by its deadline plus this
  // Trickling request headers to the plain listener; closed by limits.header_timeout.
  std::size_t trickle = 1'000;
  Millis trickle_interval{1'000};   // between two header lines of one connection
  std::uint16_t http_port = 0;
  Millis header_timeout{3'000};
  // Reading a large response slowly from the TLS listener; closed by limits.idle_timeout.
  std::size_t slow_readers = 100;
  std::uint16_t https_port = 0;
  Millis idle_timeout{3'000};
  // DNS over TCP from one address, idle; closed by dns.tcp_idle_timeout or at accept by the cap.
  std::size_t dns_flood = 200;
  std::uint16_t dns_port = 0;
  Millis dns_idle_timeout{3'000};
  std::string host = "app.example.com";
  // Source addresses: the hostile clients spread over `hostile_sources` addresses from
  // 127.0.0.2 up; the DNS flood uses 127.0.1.1; the normal clients 127.0.2.1 and 127.0.2.2.
  unsigned hostile_sources = 20;
  Millis normal_interval{20};       // between two samples of each normal client
};

// What one kind of slow connection came to.
struct SlowTally {
  std::uint64_t opened = 0;
  std::uint64_t closed_by_deadline = 0;   // closed by the server after deadline - slack .. deadline + slack
  std::uint64_t closed_early = 0;         // closed well before the deadline (refused at accept)
  std::uint64_t late = 0;                 // still open at deadline + slack: a failure
  std::uint64_t failed_to_open = 0;       // connect or handshake failed
  std::uint64_t max_held = 0;             // open at once, at most
  double max_lifetime_s = 0;              // of those closed by the server
};

struct LatencyTally {
  std::uint64_t samples = 0;
  std::uint64_t failures = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

struct LoadReport {
  SlowTally trickle, slow_readers, dns_flood;
  LatencyTally normal_https, normal_dns;
  std::uint64_t max_rss_kib = 0, max_fds = 0;  // of the server process, sampled every 250 ms
  std::uint64_t end_fds = 0;                   // after every hostile connection ended
  double seconds = 0;
  std::string summary() const;
};

// Runs `plan` against the server with `pid` and returns what happened. Blocking: returns after
// plan.duration and the last slow connection's deadline plus slack.
LoadReport run_load(const LoadPlan& plan, pid_t pid);

// The server's resident set (KiB) and open descriptors, from /proc.
std::uint64_t rss_kib(pid_t pid);
std::uint64_t open_fds(pid_t pid);
// An SOA question for edge.example.net with `id`, framed for DNS over TCP (RFC 1035 §4.2.2).
std::string framed_soa_query(std::uint16_t id);

}  // namespace portcullis::testing
