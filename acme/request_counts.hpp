// AcmeRequestCounts: every request the ACME client sent its CA, by type (RFC 8555's resource
// names: newNonce, newAccount, newOrder, order, authorization, challenge, finalize, certificate,
// renewalInfo, ...) and by the HTTP status answered ("error" when no answer came: refused, reset,
// timed out). Kept by the certificate manager across ACME clients, written as
// portcullis_acme_requests_total{type,status}.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "base/metrics_writer.hpp"

namespace portcullis::acme {

class AcmeRequestCounts {
 public:
  // The client's step name ("new-order", "poll-authorization", "download-certificate") as the
  // type label ("newOrder", "authorization", "certificate"). Pure.
  static std::string_view type_of(std::string_view step) noexcept;

  // Counts one request; `status` 0: no HTTP answer. Control thread.
  void count(std::string_view step, int status);
  // (type, status) -> requests. Control thread.
  const std::map<std::pair<std::string, std::string>, std::uint64_t>& counts() const noexcept { return counts_; }
  // portcullis_acme_requests_total (declared even before the first request). Control thread.
  void write_metrics(base::MetricsWriter& out) const;

 private:
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts_;
};

}  // namespace portcullis::acme
