// Managed HTTPS seen from outside the binary: a real Pebble (unmodified: 5 % nonce rejects and 50 %
// authorization reuse left on) issues over HTTP-01 through Portcullis's plain listener; the tests
// check what clients are served (openssl s_client, curl, an in-process TLS loop), renewal of a
// short-lived certificate, resumption of an order across a crash, the transitional -> managed
// handover, the time from "endpoint created" to "certificate served", and an unreachable CA.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "certstore/sqlite_storage.hpp"
#include "tests/support/pebble.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace fs = std::filesystem;
using boost::beast::http::verb;

// A first issuance from a local Pebble takes well under a second; these leave room for a loaded machine.
constexpr Millis issuance_deadline = 30s;
constexpr Millis openssl_deadline = 15s;
// Pebble's VA gives up on an HTTP-01 fetch after 15 s; a held validation is released well before.
constexpr Millis gate_hold_deadline = 30s;
constexpr Millis gate_poll = 50ms;

// --- log lines -----------------------------------------------------------------------------------

// The value of `key=` in a `key=value` log line ("" when absent).
std::string field(const std::string& line, const std::string& key) {
  auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return {};
  at += key.size() + 2;
  if (at < line.size() && line[at] == '"') {
    auto end = line.find('"', at + 1);
    return line.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
  }
  return line.substr(at, line.find(' ', at) - at);
}

// Every "certificate issued" line for `endpoint`, in order.
std::vector<std::string> issued_lines(const std::string& log, const std::string& endpoint) {
  return lines_with(log, "certificate issued endpoint=" + endpoint + " ");
}

// The serial of the latest certificate issued for `endpoint`, normalised; nullopt before one.
std::optional<std::string> issued_serial(const std::string& log, const std::string& endpoint) {
  auto lines = issued_lines(log, endpoint);
  if (lines.empty()) return std::nullopt;
  return normalize_serial(field(lines.back(), "serial"));
}

// --- certificates as clients see them -------------------------------------------------------------

struct ServedCertificate {
  std::string serial;                  // normalised
  std::string issuer_cn;
  std::vector<std::string> dns_names;  // sorted
};

std::string first_pem(const std::string& text) {
  const auto begin = text.find("-----BEGIN CERTIFICATE-----");
  const auto end = text.find("-----END CERTIFICATE-----");
  if (begin == std::string::npos || end == std::string::npos) return {};
  return text.substr(begin, end + 25 - begin) + "\n";
}

std::string common_name(const std::string& rfc2253) {
  auto at = rfc2253.find("CN=");
  if (at == std::string::npos) return {};
  at += 3;
  auto end = rfc2253.find_first_of(",\n", at);
  return rfc2253.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::optional<ServedCertificate> describe(const std::string& pem) {
  if (pem.empty()) return std::nullopt;
  auto x = run_command({"openssl", "x509", "-noout", "-serial", "-issuer", "-nameopt", "RFC2253", "-ext",
                        "subjectAltName"},
                       openssl_deadline, pem);
  if (x.exit_code != 0) return std::nullopt;
  ServedCertificate out;
  std::istringstream in(x.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("serial=", 0) == 0) out.serial = normalize_serial(line);
    if (line.rfind("issuer=", 0) == 0) out.issuer_cn = common_name(line.substr(7));
    std::size_t at = 0;
    while ((at = line.find("DNS:", at)) != std::string::npos) {
      at += 4;
      auto end = line.find_first_of(", ", at);
      out.dns_names.push_back(line.substr(at, end == std::string::npos ? std::string::npos : end - at));
    }
  }
  std::sort(out.dns_names.begin(), out.dns_names.end());
  return out;
}

// The leaf `openssl s_client -servername <sni>` is served on 127.0.0.1:<port>.
std::optional<ServedCertificate> served_certificate(std::uint16_t port, const std::string& sni) {
  auto r = run_command({"openssl", "s_client", "-connect", fmt::format("127.0.0.1:{}", port), "-servername", sni},
                       openssl_deadline);
  return describe(first_pem(r.out));
}

std::string subject_cn(const std::string& pem) {
  auto x = run_command({"openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253"}, openssl_deadline, pem);
  return x.exit_code == 0 ? common_name(x.out) : std::string();
}

// --- configuration -------------------------------------------------------------------------------

std::string acme_toml(const PebbleFixture& pebble) {
  return fmt::format("[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n", pebble.directory_url(),
                     pebble.ca_bundle().string());
}

EndpointSpec managed(std::string id, std::vector<std::string> hostnames, const UpstreamServer& upstream) {
  EndpointSpec e(std::move(id), std::move(hostnames), {upstream.address()});
  e.managed_https = true;
  return e;
}

FixtureOptions acme_options(const PebbleFixture& pebble, std::uint16_t http_port, std::vector<EndpointSpec> endpoints) {
  FixtureOptions o;
  o.http_port = http_port;
  o.endpoints = std::move(endpoints);
  o.extra_toml = acme_toml(pebble);
  return o;
}

bool wait_issued(PortcullisFixture& px, const std::string& endpoint, std::size_t count = 1,
                 Millis deadline = issuance_deadline) {
  return wait_until([&] { return issued_lines(px.log(), endpoint).size() >= count || !px.process().running(); },
                    deadline, 20ms) &&
         issued_lines(px.log(), endpoint).size() >= count;
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Prints the binary's log when a REQUIRE fails in its scope (INFO would capture it too early).
class LogOnFailure {
 public:
  LogOnFailure(PortcullisFixture& px, std::string what) : px_(px), what_(std::move(what)) {}
  ~LogOnFailure() {
    if (std::uncaught_exceptions() > 0)
      std::fprintf(stderr, "---- %s (pid %d)\n%s----\n", what_.c_str(), static_cast<int>(px_.process().pid()),
                   px_.log().c_str());
  }

 private:
  PortcullisFixture& px_;
  std::string what_;
};

// --- ValidationGate --------------------------------------------------------------------------------

// A TCP relay between Pebble's validation authority and Portcullis's plain listener that holds
// every connection (after reading its request head) until open(): with Pebble's httpPort pointed
// here, an order stays pending at the CA for as long as the test wants, with no timing guesses.
// Each connection is released (forwarded to 127.0.0.1:<target>) at open() and given up at
// gate_hold_deadline. Thread-safe; the destructor stops and joins every relay thread.
class ValidationGate {
 public:
  explicit ValidationGate(std::uint16_t target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("validation gate: cannot listen on loopback");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~ValidationGate() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    ::close(listen_fd_);
  }

  ValidationGate(const ValidationGate&) = delete;
  ValidationGate& operator=(const ValidationGate&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // Validation requests received so far (held or released).
  std::size_t received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  // The HTTP-01 token of the first request ("" before one).
  std::string token() const {
    std::lock_guard lock(mutex_);
    return token_;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  bool stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  // Waits until `fd` is readable; false at `until` or when the gate stops.
  bool wait_readable(int fd, Clock::time_point until) const {
    while (!stopping() && Clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(gate_poll.count())) > 0) return true;
    }
    return false;
  }

  void accept_loop() {
    while (wait_readable(listen_fd_, Clock::time_point::max())) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mutex_);
      threads_.emplace_back([this, fd] {
        relay(fd);
        ::close(fd);
      });
    }
  }

  static bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void relay(int client) {
    const auto until = Clock::now() + gate_hold_deadline;
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      if (!wait_readable(client, until)) return;
      auto n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) return;
      head.append(buf, static_cast<std::size_t>(n));
    }
    {
      std::unique_lock lock(mutex_);
      ++received_;
      constexpr std::string_view prefix = "/.well-known/acme-challenge/";
      if (auto at = head.find(prefix); token_.empty() && at != std::string::npos) {
        at += prefix.size();
        token_ = head.substr(at, head.find_first_of(" ?", at) - at);
      }
      if (!cv_.wait_until(lock, until, [&] { return open_ || stopping_; }) || stopping_) return;
    }
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(target_port_);
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || !send_all(upstream, head)) {
      ::close(upstream);
      return;
    }
    // Both directions until either side closes.
    while (!stopping() && Clock::now() < until) {
      pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      if (::poll(p, 2, static_cast<int>(gate_poll.count())) <= 0) continue;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        auto n = ::recv(p[i].fd, buf, sizeof buf, 0);
        done = n <= 0 || !send_all(p[1 - i].fd, std::string_view(buf, static_cast<std::size_t>(n)));
      }
      if (done) break;
    }
    ::close(upstream);
  }

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
  bool stopping_ = false;
  std::size_t received_ = 0;
  std::string token_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace

// --- issuance --------------------------------------------------------------------------------------

TEST_CASE("two managed endpoints get Pebble certificates over HTTP-01 that clients verify end to end",
          "[integration][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  PortcullisFixture px(acme_options(pebble, http_port,
                                    {managed("app", {"app.example.com", "www.app.example.com"}, upstream),
                                     managed("api", {"api.example.com"}, upstream)}));
  LogOnFailure dump(px, "portcullis log");

  REQUIRE(wait_issued(px, "app"));
  REQUIRE(wait_issued(px, "api"));
  const auto intermediate_cn = subject_cn(pebble.intermediate_pem());
  REQUIRE(intermediate_cn.rfind("Pebble Intermediate CA", 0) == 0);
  const TempDir dir("portcullis-acme-it");
  const auto root = dir / "pebble-root.pem";
  write_file(root, pebble.root_pem());

  struct Case {
    std::string endpoint, sni;
    std::vector<std::string> names;
  };
  for (const auto& c : {Case{"app", "app.example.com", {"app.example.com", "www.app.example.com"}},
                        Case{"app", "www.app.example.com", {"app.example.com", "www.app.example.com"}},
                        Case{"api", "api.example.com", {"api.example.com"}}}) {
    INFO("sni " << c.sni);
    auto served = served_certificate(px.https_port(), c.sni);
    REQUIRE(served);
    CHECK(served->issuer_cn == intermediate_cn);
    CHECK(served->dns_names == c.names);
    CHECK(served->serial == issued_serial(px.log(), c.endpoint));

    auto r = px.curl(c.sni, "/hello", {"--cacert", root.string()});
    INFO("curl stderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.status == 200);
    CHECK(r.body.find("\"/hello\"") != std::string::npos);
  }
  // The two endpoints hold distinct certificates.
  CHECK(issued_serial(px.log(), "app") != issued_serial(px.log(), "api"));
}

// --- renewal ---------------------------------------------------------------------------------------

TEST_CASE("a short-lived certificate is renewed by itself before it expires and the new serial is served",
          "[integration][acme]") {
  // 24 s of validity: renewal falls due with half of it left (short lifetime), about 12 s in.
  constexpr std::uint64_t validity_seconds = 24;
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port, .certificate_validity_seconds = validity_seconds});
  // The CA given on the command line rather than in [acme].
  FixtureOptions o;
  o.http_port = http_port;
  o.endpoints = {managed("app", {"app.example.com"}, upstream)};
  o.extra_args = {"--acme-directory", pebble.directory_url(), "--acme-ca-bundle", pebble.ca_bundle().string()};
  PortcullisFixture px(o);
  LogOnFailure dump(px, "portcullis log");

  REQUIRE(wait_issued(px, "app"));
  const auto first_line = issued_lines(px.log(), "app").front();
  const auto first = normalize_serial(field(first_line, "serial"));
  const auto first_not_after = std::stoll(field(first_line, "not_after"));
  CHECK(px.served_serial("app.example.com") == first);

  REQUIRE(wait_issued(px, "app", 2, Millis((validity_seconds + 10) * 1000)));
  const auto renewed_at = unix_now();
  const auto second = normalize_serial(field(issued_lines(px.log(), "app")[1], "serial"));
  CHECK(second != first);
  CHECK(renewed_at < first_not_after);
  CHECK(px.served_serial("app.example.com") == second);
  auto r = px.curl("app.example.com", "/after-renewal");
  CHECK(r.status == 200);
}

// --- restart mid-order -----------------------------------------------------------------------------

// The second run of a restart mid-order: it must resume the stored order (Pebble holds exactly one),
// answer the same token, and serve the certificate once `gate` lets the validation through.
void check_order_resumed(PortcullisFixture& px, const PebbleFixture& pebble, ValidationGate& gate,
                         const std::string& token) {
  REQUIRE(wait_until([&] { return count_occurrences(px.log(), "order resumed endpoint=app") >= 1; },
                     issuance_deadline));
  // Release the held validation once the second run answers the same token.
  REQUIRE(wait_until([&] { return px.curl_http("app.example.com", "/.well-known/acme-challenge/" + token).status == 200; },
                     issuance_deadline));
  gate.open();
  REQUIRE(wait_issued(px, "app"));
  CHECK(count_occurrences(px.log(), "order created") == 0);
  CHECK(count_occurrences(pebble.pebble_log(), "Added order") == 1);
  CHECK(px.served_serial("app.example.com") == issued_serial(px.log(), "app"));
}

TEST_CASE("a restart in the middle of an order resumes that order instead of opening a second one",
          "[integration][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  ValidationGate gate(http_port);
  PebbleFixture pebble(PebbleOptions{.http_port = gate.port()});
  const TempDir data("portcullis-acme-data");
  auto options = acme_options(pebble, http_port, {managed("app", {"app.example.com"}, upstream)});
  options.data_dir = data.path();

  std::string first_log;
  {
    PortcullisFixture px(options);
    LogOnFailure dump(px, "first run log");
    // The order exists at the CA and its challenge was answered: Pebble's validation is held.
    REQUIRE(wait_until([&] { return gate.received() >= 1; }, issuance_deadline));
    px.process().signal(SIGKILL);
    REQUIRE(px.process().wait_exit(PortcullisFixture::stop_deadline));
    first_log = px.log();
  }
  REQUIRE(count_occurrences(first_log, "order created") == 1);
  REQUIRE(issued_lines(first_log, "app").empty());
  REQUIRE(count_occurrences(pebble.pebble_log(), "Added order") == 1);
  const auto token = gate.token();
  REQUIRE_FALSE(token.empty());

  PortcullisFixture px(options);
  LogOnFailure dump(px, "second run log");
  INFO("first run log:\n" << first_log);
  check_order_resumed(px, pebble, gate, token);
}

// --- SIGTERM mid-order -----------------------------------------------------------------------------

// What AddressSanitizer, LeakSanitizer and UBSan write when they find something (sanitized builds).
bool sanitizer_report(const std::string& log) {
  return log.find("AddressSanitizer") != std::string::npos || log.find("LeakSanitizer") != std::string::npos ||
         log.find("runtime error:") != std::string::npos;
}

TEST_CASE("a SIGTERM while an issuance waits on its validation stops it cleanly and the next start resumes the order",
          "[integration][acme]") {
  // No request is in flight: the drain has nothing to wait for and ends well inside this.
  constexpr Millis drain_deadline = 10s;
  UpstreamServer upstream;
  const auto http_port = free_port();
  ValidationGate gate(http_port);
  PebbleFixture pebble(PebbleOptions{.http_port = gate.port()});
  const TempDir data("portcullis-acme-data");
  auto options = acme_options(pebble, http_port, {managed("app", {"app.example.com"}, upstream)});
  options.data_dir = data.path();
  options.limits = {{"drain_timeout", fmt::format("\"{}s\"", drain_deadline.count() / 1000)}};

  std::string first_log;
  {
    PortcullisFixture px(options);
    LogOnFailure dump(px, "first run log");
    // The issuance is suspended: its answer is on the board and Pebble's validation of it is held.
    REQUIRE(wait_until([&] { return gate.received() >= 1; }, issuance_deadline));
    const auto signalled = Clock::now();
    const auto exit_code = px.stop(drain_deadline);
    const auto took = std::chrono::duration_cast<Millis>(Clock::now() - signalled);
    first_log = px.log();
    INFO("exit took " << took.count() << " ms");
    REQUIRE(exit_code == 0);
    CHECK(took < drain_deadline);
  }
  INFO("first run log:\n" << first_log);
  CHECK_FALSE(sanitizer_report(first_log));
  CHECK(count_occurrences(first_log, "order created") == 1);
  // Stopped, not failed: no error line and no failure backoff.
  CHECK(lines_with(first_log, "issuance stopped endpoint=app ").size() == 1);
  CHECK(lines_with(first_log, "issuance failed endpoint=").empty());
  CHECK(count_occurrences(first_log, "retry_in_s=") == 0);
  CHECK(count_occurrences(first_log, "task failed") == 0);
  CHECK(count_occurrences(first_log, "proxy: stopped") == 1);
  {
    // The order row stays for the next start; the name's lease is free.
    auto storage = portcullis::certstore::SqliteStorage::open(data.path() / "portcullis.db");
    REQUIRE(storage);
    auto orders = (*storage)->load_orders();
    REQUIRE(orders);
    REQUIRE(orders->size() == 1);
    CHECK(orders->front().endpoint_id == "app");
    CHECK_FALSE(orders->front().order_url.empty());
    auto lease = (*storage)->try_acquire_lease("app.example.com", "probe", std::chrono::seconds(1));
    REQUIRE(lease);
    CHECK(*lease);
    REQUIRE((*storage)->release_lease("app.example.com", "probe"));
  }
  const auto token = gate.token();
  REQUIRE_FALSE(token.empty());

  PortcullisFixture px(options);
  LogOnFailure dump(px, "second run log");
  check_order_resumed(px, pebble, gate, token);
  CHECK(px.stop(drain_deadline) == 0);
  CHECK_FALSE(sanitizer_report(px.log()));
}

// --- transitional -> managed -----------------------------------------------------------------------

TEST_CASE("a transitional certificate is served until the managed one replaces it under a client loop with no failed request",
          "[integration][acme]") {
  StandardCerts certs;
  UpstreamServer upstream;
  const auto http_port = free_port();
  ValidationGate gate(http_port);
  PebbleFixture pebble(PebbleOptions{.http_port = gate.port()});
  auto options = acme_options(pebble, http_port, {managed("app", {"app.example.com"}, upstream)});
  options.certificates = {certs.app};
  PortcullisFixture px(options);
  LogOnFailure dump(px, "portcullis log");

  // The order is pending at the CA (its validation held), and the transitional certificate is served.
  REQUIRE(wait_until([&] { return gate.received() >= 1; }, issuance_deadline));
  REQUIRE(px.served_serial("app.example.com") == certs.app.serial);

  // The loop: connections of 1 or 10 keep-alive requests, bounded in count and time.
  constexpr std::size_t wanted = 1200;
  constexpr auto loop_deadline = 120s;
  std::atomic<bool> swapped{false};
  std::atomic<std::size_t> done{0};
  struct SerialTally {
    std::size_t transitional_before = 0, managed_before = 0, managed_after = 0, transitional_after = 0, other = 0;
  } seen;
  LoopTally tally;
  std::string managed_serial;  // written before `swapped` is set
  const auto port = px.https_port();
  const auto transitional = certs.app.serial;

  std::thread loop([&] {
    tally = run_swap_loop(port, "app.example.com", wanted, loop_deadline, swapped, done,
                          [&](const std::string& serial, bool after_swap) {
                            if (serial == transitional) {
                              after_swap ? ++seen.transitional_after : ++seen.transitional_before;
                            } else if (after_swap && serial == managed_serial) {
                              ++seen.managed_after;
                            } else if (!after_swap) {
                              ++seen.managed_before;  // swapped before the test saw the log line
                            } else {
                              ++seen.other;
                            }
                          });
  });

  // Release the validation when a quarter of the loop has run, so that plenty runs before and after.
  const bool started = wait_until([&] { return done.load() >= wanted / 4; }, 60s);
  gate.open();
  const bool issued = wait_issued(px, "app");
  if (issued) managed_serial = *issued_serial(px.log(), "app");
  swapped = true;
  loop.join();

  REQUIRE(started);
  REQUIRE(issued);
  INFO("requests " << tally.requests << ", failures " << tally.failures << ", handshakes " << tally.handshakes
                   << ", keep-alive reuses " << tally.keepalive_reuses << ", transitional before "
                   << seen.transitional_before << ", managed before the log line " << seen.managed_before
                   << ", managed after " << seen.managed_after << ", transitional after "
                   << seen.transitional_after << ", other " << seen.other);
  INFO("first errors: " << (tally.errors.empty() ? std::string("none") : tally.errors.front()));
  CHECK(tally.requests == wanted);
  CHECK(tally.failures == 0);
  CHECK(tally.keepalive_reuses > 0);
  CHECK(seen.transitional_before > 0);
  CHECK(seen.managed_after > 0);
  CHECK(seen.transitional_after == 0);
  CHECK(seen.other == 0);
  CHECK(upstream.request_count() == wanted);
  auto served = served_certificate(px.https_port(), "app.example.com");
  REQUIRE(served);
  CHECK(served->serial == managed_serial);
  CHECK(served->issuer_cn == subject_cn(pebble.intermediate_pem()));
}

// --- time to first certificate ---------------------------------------------------------------------

TEST_CASE("a new endpoint is served its managed certificate within seconds of the reload that creates it",
          "[integration][acme]") {
  constexpr std::size_t issuances = 12;
  // Target under 1 s on an idle machine; the bound only catches a regression on a loaded one.
  constexpr Millis median_bound = 5s;
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  // A first endpoint creates the ACME account, which later issuances reuse.
  std::vector<EndpointSpec> endpoints{managed("seed", {"seed.example.com"}, upstream)};
  PortcullisFixture px(acme_options(pebble, http_port, endpoints));
  LogOnFailure dump(px, "portcullis log");
  REQUIRE(wait_issued(px, "seed"));

  std::vector<Millis> took;
  std::vector<long> portcullis_ms;  // the issuance alone, as the binary logs it
  for (std::size_t i = 0; i < issuances; ++i) {
    const auto id = fmt::format("e{}", i);
    const auto host = fmt::format("e{}.example.com", i);
    endpoints.push_back(managed(id, {host}, upstream));
    auto next = px.options();
    next.endpoints = endpoints;
    const auto created = Clock::now();
    px.rewrite_config(next);
    REQUIRE(px.reload() == ReloadOutcome::applied);
    // Served: s_client sees the serial the binary reports issuing (the log line follows the swap).
    REQUIRE(wait_until(
        [&] {
          auto serial = issued_serial(px.log(), id);
          return serial && px.served_serial(host) == serial;
        },
        issuance_deadline, 5ms));
    took.push_back(std::chrono::duration_cast<Millis>(Clock::now() - created));
    portcullis_ms.push_back(std::stol(field(issued_lines(px.log(), id).back(), "elapsed_ms")));
  }
  auto sorted = took;
  std::sort(sorted.begin(), sorted.end());
  const auto median = (sorted[issuances / 2 - 1] + sorted[issuances / 2]) / 2;
  std::sort(portcullis_ms.begin(), portcullis_ms.end());
  const auto summary = fmt::format(
      "endpoint created -> certificate served over {} issuances: median {} ms, min {} ms, max {} ms "
      "(issuance alone as logged: median {} ms, min {} ms, max {} ms)",
      issuances, median.count(), sorted.front().count(), sorted.back().count(),
      (portcullis_ms[issuances / 2 - 1] + portcullis_ms[issuances / 2]) / 2, portcullis_ms.front(),
      portcullis_ms.back());
  WARN(summary);
  CHECK(median < median_bound);
}

// --- an unreachable CA -----------------------------------------------------------------------------

TEST_CASE("an unreachable CA is logged as an error naming the directory and the retry delay while the proxy serves on",
          "[integration][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  pebble.stop_pebble();  // its ports stay reserved by nobody: connections are refused
  PortcullisFixture px(acme_options(pebble, http_port, {managed("app", {"app.example.com"}, upstream)}));
  LogOnFailure dump(px, "portcullis log");

  // The error (a person must act) and the scheduler's warning with the retry delay.
  REQUIRE(wait_until([&] { return count_occurrences(px.log(), "retry_in_s=") >= 1; }, issuance_deadline));
  const auto errors = lines_with(px.log(), " error acme: issuance failed endpoint=app ");
  REQUIRE(errors.size() == 1);
  const auto error = errors.front();
  INFO("error line: " << error);
  CHECK(error.find(pebble.directory_url()) != std::string::npos);
  CHECK(count_occurrences(px.log(), "retry_in_s=60") >= 1);
  CHECK(issued_lines(px.log(), "app").empty());
  // The data plane does not wait for the CA.
  auto r = px.curl("app.example.com", "/while-ca-down");
  CHECK(r.status == 200);
}

TEST_CASE("after Pebble dies in the middle of an order the endpoint gets a certificate once Pebble is back",
          "[integration][acme][slow]") {
  // The first retry comes after the scheduler's 1-minute backoff.
  constexpr Millis retry_deadline = 60s + issuance_deadline;
  UpstreamServer upstream;
  const auto http_port = free_port();
  ValidationGate gate(http_port);
  PebbleFixture pebble(PebbleOptions{.http_port = gate.port()});
  PortcullisFixture px(acme_options(pebble, http_port, {managed("app", {"app.example.com"}, upstream)}));
  LogOnFailure dump(px, "portcullis log");

  REQUIRE(wait_until([&] { return gate.received() >= 1; }, issuance_deadline));
  pebble.stop_pebble();
  REQUIRE(wait_until([&] { return count_occurrences(px.log(), "retry_in_s=60") >= 1; }, issuance_deadline));
  const auto errors = lines_with(px.log(), " error acme: issuance failed endpoint=app ");
  REQUIRE(errors.size() == 1);
  INFO("error line: " << errors.front());

  pebble.start_pebble();  // a new Pebble: no account, no order, a new intermediate
  gate.open();
  REQUIRE(wait_issued(px, "app", 1, retry_deadline));
  auto served = served_certificate(px.https_port(), "app.example.com");
  REQUIRE(served);
  CHECK(served->serial == issued_serial(px.log(), "app"));
  CHECK(served->issuer_cn == subject_cn(pebble.intermediate_pem()));
}

// --- reload with the CA given on the command line --------------------------------------------------

// A SIGHUP re-reads the file; the --acme-directory and --acme-ca-bundle overrides must be applied
// again, or the reload would turn ACME off ("acme disabled").
TEST_CASE("a reload keeps managing certificates when the CA was given on the command line",
          "[integration][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  FixtureOptions o;
  o.http_port = http_port;
  o.endpoints = {managed("app", {"app.example.com"}, upstream)};
  o.extra_args = {"--acme-directory", pebble.directory_url(), "--acme-ca-bundle", pebble.ca_bundle().string()};
  PortcullisFixture px(o);
  LogOnFailure dump(px, "portcullis log");
  REQUIRE(wait_issued(px, "app"));

  o.endpoints.push_back(managed("added", {"added.example.com"}, upstream));
  px.rewrite_config(o);
  REQUIRE(px.reload() == ReloadOutcome::applied);
  wait_until([&] { return !issued_lines(px.log(), "added").empty() || count_occurrences(px.log(), "acme disabled") > 0; },
             issuance_deadline);
  CHECK(count_occurrences(px.log(), "acme disabled") == 0);
  CHECK(issued_lines(px.log(), "added").size() == 1);
}

// --- removed endpoints and corrected CA settings ---------------------------------------------------

TEST_CASE("a removed endpoint's managed certificate is withdrawn at once and kept in the store as removed",
          "[integration][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  StandardCerts certs;
  auto o = acme_options(pebble, http_port,
                        {managed("app", {"app.example.com"}, upstream), managed("api", {"api.example.com"}, upstream)});
  o.default_cert = certs.default_cert;
  const TempDir data("portcullis-removed");
  o.data_dir = data.path();
  PortcullisFixture first(o);
  LogOnFailure dump(first, "portcullis log");
  REQUIRE(wait_issued(first, "app"));
  REQUIRE(wait_issued(first, "api"));
  const auto app_serial = issued_serial(first.log(), "app");
  REQUIRE(first.served_serial("app.example.com") == app_serial);
  PortcullisFixture* px = &first;

  SECTION("removed by a reload") {
    o.endpoints = {managed("api", {"api.example.com"}, upstream)};
    px->rewrite_config(o);
    REQUIRE(px->reload() == ReloadOutcome::applied);
    // The reload's snapshot is published before "config reloaded" is logged: no wait needed.
    CHECK(px->served_serial("app.example.com") == certs.default_cert.serial);
    CHECK(px->served_serial("api.example.com") == issued_serial(px->log(), "api"));
    CHECK(lines_with(px->log(), "certificate withdrawn endpoint=app ").size() == 1);
  }
  SECTION("managed_https turned off by a reload") {
    o.endpoints[0].managed_https = false;
    px->rewrite_config(o);
    REQUIRE(px->reload() == ReloadOutcome::applied);
    CHECK(px->served_serial("app.example.com") == certs.default_cert.serial);
    CHECK(lines_with(px->log(), "reason=\"managed_https off\"").size() == 1);
  }
  SECTION("removed while the proxy was stopped") {
    REQUIRE(first.stop() == 0);
    o.endpoints = {managed("api", {"api.example.com"}, upstream)};
    PortcullisFixture second(o);
    LogOnFailure dump_second(second, "portcullis log after the restart");
    CHECK(second.served_serial("app.example.com") == certs.default_cert.serial);
    CHECK(second.served_serial("api.example.com") == issued_serial(first.log(), "api"));
    CHECK(lines_with(second.log(), "certificate withdrawn endpoint=app ").size() == 1);
  }
  auto storage = portcullis::certstore::SqliteStorage::open(data.path() / "portcullis.db");
  REQUIRE(storage);
  auto kept = (*storage)->get_certificate("app");
  REQUIRE(kept);
  REQUIRE(kept->has_value());
  CHECK((*kept)->removed_unix >= unix_now() - 120);
  CHECK(normalize_serial((*kept)->serial_hex) == app_serial);
  auto live = (*storage)->get_certificate("api");
  REQUIRE(live);
  REQUIRE(live->has_value());
  CHECK((*live)->removed_unix == 0);
}

TEST_CASE("without [dns] an allowlisted endpoint is validated over HTTP-01 only when its allowlist holds the CA",
          "[integration][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});  // validates from 127.0.0.1
  EndpointSpec inside("inside", {"inside.example.com"}, {upstream.address()}, "external", {"127.0.0.1/32"});
  EndpointSpec outside("outside", {"outside.example.com"}, {upstream.address()}, "external", {"127.0.0.2/32"});
  inside.managed_https = outside.managed_https = true;
  PortcullisFixture px(acme_options(pebble, http_port, {inside, outside}));
  LogOnFailure dump(px, "portcullis log");

  REQUIRE(wait_issued(px, "inside"));
  // The plain listener refuses the CA's request for the outside endpoint's token: the CA says 403.
  REQUIRE(wait_until([&] { return !lines_with(px.log(), "issuance failed endpoint=outside ").empty(); },
                     issuance_deadline));
  const auto failed = lines_with(px.log(), "issuance failed endpoint=outside ").front();
  INFO(failed);
  CHECK(failed.find("/.well-known/acme-challenge/") != std::string::npos);
  CHECK(failed.find("returned 403") != std::string::npos);
  CHECK(issued_lines(px.log(), "outside").empty());
}

TEST_CASE("a corrected CA directory is tried at once, not after the failure backoff", "[integration][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  auto o = acme_options(pebble, http_port, {managed("app", {"app.example.com"}, upstream)});
  // Nothing listens there: the first attempt fails and the 1-minute backoff starts.
  const auto wrong = fmt::format("https://127.0.0.1:{}/dir", free_port());
  o.extra_toml = fmt::format("[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n", wrong, pebble.ca_bundle().string());
  PortcullisFixture px(o);
  LogOnFailure dump(px, "portcullis log");
  REQUIRE(wait_until([&] { return count_occurrences(px.log(), "retry_in_s=60") >= 1; }, issuance_deadline));

  o.extra_toml = acme_toml(pebble);
  px.rewrite_config(o);
  REQUIRE(px.reload() == ReloadOutcome::applied);
  // Well inside the 60 s backoff the certificate from the corrected CA is issued and served.
  REQUIRE(wait_issued(px, "app", 1, 20s));
  CHECK(count_occurrences(px.log(), "failure backoff reset endpoints=1") == 1);
  CHECK(px.served_serial("app.example.com") == issued_serial(px.log(), "app"));
}
