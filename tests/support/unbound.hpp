// UnboundFixture: a real Unbound (unmodified) as the recursive resolver of the delegation tests,
// on a free loopback port: no chroot, no privilege drop, queries to loopback allowed, iterator
// only (no DNSSEC validation), every TTL capped to 0 and the test zones reached through stub or
// forward zones (example.com -> Knot, the platform zone -> Portcullis's DNS). A TTL of 0 still
// lets Unbound answer from its cache within the same second, so flush() empties the cache: a test
// that changed a record calls it and the next query sees the change. Stops exactly its PID.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace portcullis::testing {

struct UnboundZone {
  std::string name;        // "example.com", without the trailing dot
  std::string host;        // the authoritative server, "127.0.0.1"
  std::uint16_t port = 0;
  bool forward = false;    // false: stub-zone (Unbound iterates); true: forward-zone
};

struct UnboundOptions {
  std::vector<UnboundZone> zones;
  std::string host = "127.0.0.1";  // any 127.0.0.0/8 address
  std::chrono::milliseconds ready_deadline{15'000};
};

class UnboundFixture {
 public:
  // Writes the config, starts `unbound -d`, waits until it answers a query (version.server CH
  // TXT, answered by Unbound itself). Throws std::runtime_error (with Unbound's log) on failure.
  explicit UnboundFixture(UnboundOptions options);
  ~UnboundFixture();
  UnboundFixture(const UnboundFixture&) = delete;
  UnboundFixture& operator=(const UnboundFixture&) = delete;

  static constexpr int start_attempts = 3;

  const std::string& host() const noexcept { return options_.host; }
  std::uint16_t port() const noexcept { return port_; }
  std::string host_port() const;  // "127.0.0.1:port", what the checker is configured with

  // Empties the message and RRset caches (unbound-control flush_zone .). Throws on failure.
  void flush() const;

  std::string log() const;
  pid_t pid() const noexcept { return process_ ? process_->pid() : -1; }

 private:
  void write_config() const;
  bool ready(std::string& last_error) const;

  UnboundOptions options_;
  TempDir dir_{"portcullis-unbound"};  // declared before the process: removed after it stops
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace portcullis::testing
