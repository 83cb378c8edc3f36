#include "acme/request_counts.hpp"

#include <array>

namespace portcullis::acme {
namespace {

constexpr std::string_view metric_help =
    "Requests sent to the ACME CA, by RFC 8555 resource (type) and HTTP status (error: no answer).";

}  // namespace

std::string_view AcmeRequestCounts::type_of(std::string_view step) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 13> types{{
      {"directory", "directory"},
      {"new-nonce", "newNonce"},
      {"new-account", "newAccount"},
      {"new-order", "newOrder"},
      {"get-order", "order"},
      {"poll-order", "order"},
      {"get-authorization", "authorization"},
      {"poll-authorization", "authorization"},
      {"respond-challenge", "challenge"},
      {"finalize", "finalize"},
      {"download-certificate", "certificate"},
      {"revoke", "revokeCert"},
      {"renewal-info", "renewalInfo"},
  }};
  for (const auto& [name, type] : types)
    if (name == step) return type;
  return "other";
}

void AcmeRequestCounts::count(std::string_view step, int status) {
  ++counts_[{std::string(type_of(step)), status > 0 ? std::to_string(status) : std::string("error")}];
}

void AcmeRequestCounts::write_metrics(base::MetricsWriter& out) const {
  out.declare("portcullis_acme_requests_total", metric_help, base::MetricsWriter::Type::counter);
  for (const auto& [key, n] : counts_) {
    out.counter("portcullis_acme_requests_total", metric_help, static_cast<double>(n),
                {{"type", key.first}, {"status", key.second}});
  }
}

}  // namespace portcullis::acme
