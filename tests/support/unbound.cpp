#include "tests/support/unbound.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "tests/support/kdig.hpp"

namespace portcullis::testing {
namespace {

constexpr auto control_deadline = 10s;
}  // namespace

UnboundFixture::UnboundFixture(UnboundOptions options) : options_(std::move(options)) {
  process_ = start_retrying_port(
      "unbound", start_attempts, options_.ready_deadline,
      [&] {
        port_ = free_port(options_.host);
        write_config();
        return std::make_unique<ChildProcess>(std::vector<std::string>{"unbound", "-d", "-c", (dir_ / "unbound.conf").string()}, dir_.path());
      },
      [&](std::string& last_error) { return ready(last_error); }, [&] { return host_port(); });
}

UnboundFixture::~UnboundFixture() = default;

std::string UnboundFixture::host_port() const { return fmt::format("{}:{}", options_.host, port_); }

std::string UnboundFixture::log() const {
  return process_ ? process_->stdout_text() + process_->stderr_text() : std::string();
}

void UnboundFixture::write_config() const {
  const auto dir = dir_.path().string();
  std::string zones;
  for (const auto& zone : options_.zones) {
    zones += fmt::format("{0}-zone:\n    name: \"{1}\"\n    {0}-addr: {2}@{3}\n", zone.forward ? "forward" : "stub",
                         zone.name, zone.host, zone.port);
  }
  // The log goes to stderr (-d, logfile ""). The cache is kept small and every TTL capped to 0;
  // remote control listens on a socket in the fixture's directory, for flush().
  write_file(dir_ / "unbound.conf", fmt::format(R"(server:
    interface: {1}@{2}
    port: {2}
    chroot: ""
    username: ""
    directory: "{0}"
    pidfile: "{0}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    do-daemonize: no
    do-ip6: no
    num-threads: 1
    outgoing-range: 64
    so-reuseport: no
    module-config: "iterator"
    do-not-query-localhost: no
    qname-minimisation: no
    cache-max-ttl: 0
    cache-max-negative-ttl: 0
    access-control: 127.0.0.0/8 allow
remote-control:
    control-enable: yes
    control-interface: "{0}/unbound.ctl"
    control-use-cert: no
{3})",
                                                dir, options_.host, port_, zones));
}

bool UnboundFixture::ready(std::string& last_error) const {
  // A query sent before the UDP socket is bound waits out kdig's whole timeout; TCP says at once
  // whether the server listens yet (it binds both before it answers).
  if (!can_connect(options_.host, port_, 100ms)) {
    last_error = "not listening on TCP yet";
    return false;
  }
  const auto reply = kdig(options_.host, port_, "version.server", "TXT", "CH");
  if (reply.status == "NOERROR") return true;
  last_error = reply.answered ? "version.server CH TXT: " + reply.status : "no answer";
  return false;
}

void UnboundFixture::flush() const {
  const auto run = run_command({"unbound-control", "-c", (dir_ / "unbound.conf").string(), "flush_zone", "."},
                               control_deadline);
  if (run.exit_code != 0 || run.out.find("ok") == std::string::npos)
    throw std::runtime_error(fmt::format("unbound-control flush_zone . (pid {}) failed (exit {}): {}{}", pid(),
                                         run.exit_code, run.out, run.err));
}

}  // namespace portcullis::testing
