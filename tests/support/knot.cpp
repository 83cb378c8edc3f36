#include "tests/support/knot.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "tests/support/kdig.hpp"

namespace portcullis::testing {
namespace {

constexpr auto knsupdate_deadline = 10s;
}  // namespace

KnotFixture::KnotFixture(KnotOptions options) : options_(std::move(options)) {
  process_ = start_retrying_port(
      "knotd", start_attempts, options_.ready_deadline,
      [&] {
        port_ = free_port(options_.host);
        write_files();
        return std::make_unique<ChildProcess>(std::vector<std::string>{"knotd", "-c", (dir_ / "knot.conf").string()}, dir_.path());
      },
      [&](std::string& last_error) { return ready(last_error); }, [&] { return address(); });
}

KnotFixture::~KnotFixture() = default;

std::string KnotFixture::address() const { return fmt::format("{}@{}", options_.host, port_); }

std::string KnotFixture::log() const {
  return process_ ? process_->stdout_text() + process_->stderr_text() : std::string();
}

void KnotFixture::write_files() const {
  const auto dir = dir_.path().string();
  std::string zones;
  for (const auto& zone : options_.zones) {
    // TTL 0 everywhere (SOA minimum too, RFC 2308 negative answers): a resolver keeps nothing.
    std::string text = fmt::format(
        "$ORIGIN {0}.\n$TTL 0\n@ SOA ns.{0}. hostmaster.{0}. 1 3600 600 86400 0\n@ NS ns.{0}.\nns A {1}\n",
        zone.name, options_.host);
    for (const auto& record : zone.records) text += record + "\n";
    write_file(dir_ / "zones" / (zone.name + ".zone"), text);
    zones += fmt::format("  - domain: {}\n    acl: local_update\n", zone.name);
  }
  std::filesystem::create_directories(dir_ / "run");
  std::filesystem::create_directories(dir_ / "storage");
  // zonefile-sync -1 and journal-content none: updates live in memory only, the files stay as
  // written. One worker of each kind: the machine is shared with the build.
  write_file(dir_ / "knot.conf", fmt::format(R"(server:
    rundir: "{0}/run"
    listen: {1}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{0}/storage"
control:
    listen: "{0}/run/knot.sock"
log:
  - target: stderr
    any: info
acl:
  - id: local_update
    address: [127.0.0.1, {3}]
    action: update
template:
  - id: default
    storage: "{0}/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
{2})",
                                             dir, address(), zones, options_.host));
}

bool KnotFixture::ready(std::string& last_error) const {
  // A query sent before the UDP socket is bound waits out kdig's whole timeout; TCP says at once
  // whether the server listens yet (it binds both before it answers).
  if (!can_connect(options_.host, port_, 100ms)) {
    last_error = "not listening on TCP yet";
    return false;
  }
  for (const auto& zone : options_.zones) {
    const auto reply = kdig(options_.host, port_, zone.name, "SOA");
    if (reply.status != "NOERROR" || !reply.authoritative || reply.answers.empty()) {
      last_error = fmt::format("{} SOA: {}", zone.name, reply.answered ? reply.status : "no answer");
      return false;
    }
  }
  return true;
}

void KnotFixture::update(const std::string& zone, const std::vector<std::string>& commands) const {
  std::string script = fmt::format("server {} {}\nzone {}.\n", options_.host, port_, zone);
  for (const auto& command : commands) script += "update " + command + "\n";
  script += "send\nquit\n";
  const auto run = run_command({"knsupdate"}, knsupdate_deadline, script);
  if (run.exit_code != 0 || run.timed_out)
    throw std::runtime_error(fmt::format("knsupdate to {} for zone {} failed (exit {}{}):\n{}{}\nscript:\n{}",
                                         address(), zone, run.exit_code, run.timed_out ? ", timed out" : "", run.out,
                                         run.err, script));
}

void KnotFixture::set_cname(const std::string& zone, const std::string& name, const std::string& target) const {
  update(zone, {fmt::format("delete {}. CNAME", name), fmt::format("add {}. 0 CNAME {}", name, target)});
}

void KnotFixture::remove(const std::string& zone, const std::string& name, const std::string& type) const {
  update(zone, {fmt::format("delete {}. {}", name, type)});
}

}  // namespace portcullis::testing
