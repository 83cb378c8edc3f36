// CertTimeline: every change of the certificate served for each endpoint's names — the default
// certificate, then the transitional one, then the managed one, then each renewal — with when and
// why. After each publish of the SNI index (and each change of the endpoint list) the certificate a
// handshake gets for each hostname is compared with the last one recorded; a change of source or
// serial is a swap. The newest `capacity` swaps of each endpoint are kept, in memory for the admin
// API and in the store so a restart keeps them.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/blocking_pool.hpp"
#include "base/error.hpp"
#include "certstore/cert_snapshot.hpp"
#include "certstore/storage.hpp"
#include "domain/endpoint.hpp"

namespace portcullis::control {

// Why the served certificate changed, from what was served before (none: the hostname is new) to
// what is served now. `before_expired`: the previous certificate had passed its notAfter. Pure.
// "endpoint added", "issued", "renewed", "transitional uploaded", "transitional replaced",
// "transitional removed", "transitional expired", "managed removed", "managed expired",
// "platform certificate changed".
std::string swap_reason(std::optional<certstore::CertSource> before, certstore::CertSource now, bool before_expired);

class CertTimeline {
 public:
  static constexpr std::size_t capacity = 50;

  // `storage` and `pool` must outlive the timeline.
  CertTimeline(certstore::Storage& storage, base::BlockingPool& pool);
  CertTimeline(const CertTimeline&) = delete;
  CertTimeline& operator=(const CertTimeline&) = delete;

  // Reads the stored swaps. Blocking: at start-up, before the first observe().
  Status load();

  // Records, for each endpoint of `endpoints`, the hostnames whose served certificate in
  // `snapshot` differs from the last one recorded: one swap per certificate they moved to. The
  // store is written behind on the pool's store lane (a failure is logged). O(hostnames).
  // Control thread.
  void observe(const certstore::CertSnapshot& snapshot, const std::vector<domain::EndpointConfig>& endpoints,
               certstore::Clock::time_point now);
  // The same after a publish that moved only certificates for `changed_names` (exact names): only
  // the hostnames among them are looked at, of the endpoints the last observe() was given, so one
  // issued certificate costs O(its names), not O(endpoints). A wildcard among them (it covers
  // hostnames of other spellings) makes it the full observe() over those endpoints.
  void observe_changed(const certstore::CertSnapshot& snapshot, const std::vector<std::string>& changed_names,
                       certstore::Clock::time_point now);

  // The endpoint's swaps, newest first (at most `capacity`). Control thread.
  std::vector<certstore::CertificateSwap> swaps(std::string_view endpoint_id) const;

 private:
  struct Served {
    certstore::CertSource source;
    std::string serial_hex;
    std::int64_t not_after_unix = 0;
  };
  void record(certstore::CertificateSwap swap);
  // Records the moves of one endpoint's hostnames (check each, then record).
  void observe_endpoint(const std::string& endpoint_id, const std::vector<std::string>& hostnames,
                        const certstore::CertSnapshot& snapshot, std::int64_t now_unix);
  // Compares one hostname's served certificate with the last recorded; a move joins `moved`.
  void check(const std::string& endpoint_id, const std::string& hostname, const certstore::CertSnapshot& snapshot,
             std::int64_t now_unix, std::vector<certstore::CertificateSwap>& moved);

  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  // Per endpoint, oldest first.
  std::map<std::string, std::deque<certstore::CertificateSwap>, std::less<>> swaps_;
  // Per endpoint, per hostname: the certificate last recorded.
  std::map<std::string, std::map<std::string, Served>, std::less<>> last_;
  // The endpoints of the last observe(): hostname -> endpoint ids, and each endpoint's hostnames
  // (for observe_changed).
  std::unordered_map<std::string, std::vector<std::string>> owners_;
  std::vector<std::pair<std::string, std::vector<std::string>>> endpoints_;
};

}  // namespace portcullis::control
