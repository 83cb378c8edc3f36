// KnotFixture: a real Knot DNS (knotd, unmodified) serving authoritative test zones on loopback,
// the customer's DNS provider in the delegation tests. Zone files, configuration, run and storage
// directories live in a TempDir of its own; dynamic updates (RFC 2136) are allowed from
// 127.0.0.1 and applied with knsupdate. Waits for every zone to answer (kdig, with a deadline),
// starts again on a fresh port when the one it got was taken, and stops exactly the PID it started.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace portcullis::testing {

struct KnotZone {
  std::string name = "example.com";   // without the trailing dot
  // Zone-file lines after the SOA and NS, relative to the zone or absolute:
  // "www 0 A 192.0.2.10", "_acme-challenge.app 0 CNAME acme.elb-1.edge.example.net."
  std::vector<std::string> records;
};

struct KnotOptions {
  std::vector<KnotZone> zones{KnotZone{}};
  std::string host = "127.0.0.1";  // any 127.0.0.0/8 address
  std::chrono::milliseconds ready_deadline{15'000};
};

class KnotFixture {
 public:
  // Writes the zones and config, starts knotd, waits until each zone's SOA is answered with AA.
  // Throws std::runtime_error (with knotd's log) on failure.
  explicit KnotFixture(KnotOptions options = {});
  ~KnotFixture();
  KnotFixture(const KnotFixture&) = delete;
  KnotFixture& operator=(const KnotFixture&) = delete;

  static constexpr int start_attempts = 3;

  const std::string& host() const noexcept { return options_.host; }
  std::uint16_t port() const noexcept { return port_; }
  std::string address() const;  // "127.0.0.1@port": Unbound's and Knot's notation

  // Applies one RFC 2136 update to `zone` with knsupdate: each line is an update command
  // without the "update" keyword ("add app.example.com. 0 CNAME elb-1.edge.example.net.",
  // "delete app.example.com. CNAME"). Throws (with knsupdate's output) when the server refuses.
  void update(const std::string& zone, const std::vector<std::string>& commands) const;
  // Sets `name` (absolute, no trailing dot) to exactly this one CNAME: the old one goes in the
  // same update.
  void set_cname(const std::string& zone, const std::string& name, const std::string& target) const;
  // Removes every record of `type` at `name`.
  void remove(const std::string& zone, const std::string& name, const std::string& type) const;

  std::string log() const;
  pid_t pid() const noexcept { return process_ ? process_->pid() : -1; }

 private:
  void write_files() const;
  bool ready(std::string& last_error) const;

  KnotOptions options_;
  TempDir dir_{"portcullis-knot"};  // declared before the process: removed after it stops
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace portcullis::testing
