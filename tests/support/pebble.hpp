// PebbleFixture: a real Pebble (Let's Encrypt's test CA, unmodified) and pebble-challtestsrv (its
// mock DNS) on loopback for integration tests. It generates Pebble's TLS certificate from a CA of
// its own (handed to clients as ca_bundle), writes the config, starts both processes, waits for
// their listeners to answer (with a deadline), starts again on fresh ports a process that reports
// a port taken, and stops exactly the PIDs it started.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace portcullis::testing {

struct PebbleOptions {
  // Port Pebble's validation authority connects to for HTTP-01 (the test's own server). Pebble
  // resolves every name to 127.0.0.1 through challtestsrv.
  std::uint16_t http_port = 5002;
  // "certificateValidityPeriod" in seconds; 0 keeps Pebble's default.
  std::uint64_t certificate_validity_seconds = 0;
  // External Account Binding: kid -> base64url MAC key. Non-empty makes EAB required.
  std::map<std::string, std::string> eab_keys;
  // Extra environment for pebble ("PEBBLE_ALTERNATE_ROOTS=1"). PEBBLE_VA_NOSLEEP=1 is always set;
  // nonce rejection (5%) and authorization reuse are left at Pebble's defaults.
  std::vector<std::string> env;
  std::chrono::milliseconds ready_deadline{15'000};
  // "ip:port" of the DNS server Pebble resolves every name through (-dnsserver): an
  // UnboundFixture, for validations that follow real CNAMEs. Empty: challtestsrv, which answers
  // every name with 127.0.0.1 and serves set_txt's records.
  std::string dns_server;
};

class PebbleFixture {
 public:
  // Starts challtestsrv, then Pebble; throws std::runtime_error (with the log tail) on failure.
  // Either is started again on fresh ports (up to start_attempts in all) when it says that an
  // address is already in use.
  explicit PebbleFixture(PebbleOptions options = {});
  ~PebbleFixture();
  PebbleFixture(const PebbleFixture&) = delete;
  PebbleFixture& operator=(const PebbleFixture&) = delete;

  static constexpr int start_attempts = 3;

  std::string directory_url() const;       // https://127.0.0.1:<port>/dir
  std::filesystem::path ca_bundle() const;  // PEM of the CA that signed Pebble's TLS certificate
  std::string management_url() const;      // https://127.0.0.1:<port> (roots, intermediates)
  std::string challtestsrv_url() const;    // http://127.0.0.1:<port> (set-txt, clear-txt)
  std::uint16_t http_port() const noexcept { return options_.http_port; }
  const std::filesystem::path& dir() const noexcept { return dir_.path(); }

  // Pebble's current root / intermediate (regenerated whenever Pebble starts), from the
  // management API.
  std::string root_pem(int index = 0) const;
  std::string intermediate_pem(int index = 0) const;

  // DNS-01 records in challtestsrv. `host` is a name without trailing dot.
  void set_txt(const std::string& host, const std::string& value) const;
  void clear_txt(const std::string& host) const;

  // Stops Pebble only (SIGKILL to its PID, reaped). May run on another thread than the test's
  // as long as the test waits for it to return before it calls start_pebble. start_pebble
  // restarts it with the same config and ports (no retry on other ports: clients know these) and
  // waits until ready.
  void stop_pebble();
  void start_pebble();
  pid_t pebble_pid() const noexcept { return pebble_ ? pebble_->pid() : -1; }
  // What every Pebble this fixture started has printed so far, oldest first.
  std::string pebble_log() const;

 private:
  enum class StartOutcome { ready, exited, address_in_use };

  void write_config();
  void launch_challtestsrv();
  void launch_pebble();
  bool challtestsrv_ready(std::string& last_error) const;
  bool pebble_ready(std::string& last_error) const;
  // True when `url` answers with any HTTP status; otherwise the reason goes to `last_error`.
  bool answers(const std::string& url, std::string& last_error) const;
  // Polls `ready` until it holds; a `process` that exits or says an address is in use first has
  // failed to start. Throws (with the tail of its output) at options_.ready_deadline.
  StartOutcome wait_started(ChildProcess& process, const std::string& url,
                            const std::function<bool(std::string&)>& ready) const;

  PebbleOptions options_;
  TempDir dir_{"portcullis-pebble"};  // declared before the processes: removed after they stop
  std::uint16_t acme_port_ = 0;
  std::uint16_t management_port_ = 0;
  std::uint16_t dns_port_ = 0;
  std::uint16_t challtestsrv_port_ = 0;
  std::vector<std::filesystem::path> pebble_logs_;  // stdout and stderr of each Pebble started
  std::unique_ptr<ChildProcess> challtestsrv_;
  std::unique_ptr<ChildProcess> pebble_;
};

// HTTP GET/POST through the acme HttpClient on a private io_context; throws on transport errors.
struct SimpleResponse {
  int status = 0;
  std::string body;
};
SimpleResponse http_fetch(const std::string& url, const std::filesystem::path& ca_bundle,
                          const std::string& post_body = {});

}  // namespace portcullis::testing
