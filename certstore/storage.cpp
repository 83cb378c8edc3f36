#include "certstore/storage.hpp"

namespace portcullis::certstore {
namespace {

std::int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Clock::time_point from_unix(std::int64_t seconds) { return Clock::time_point(std::chrono::seconds(seconds)); }

}  // namespace

void StoredCertificate::set_facts(const CertBundle& bundle) {
  serial_hex = bundle.serial_hex();
  not_after_unix = unix_seconds(bundle.not_after());
  cert_names = bundle.names();
  not_before_unix = unix_seconds(bundle.not_before());
  issuer_cn = bundle.issuer_cn();
}

CertFacts StoredCertificate::facts() const& {
  return {cert_names, from_unix(not_before_unix), from_unix(not_after_unix), serial_hex, issuer_cn};
}

CertFacts StoredCertificate::facts() && {
  return {std::move(cert_names), from_unix(not_before_unix), from_unix(not_after_unix), std::move(serial_hex),
          std::move(issuer_cn)};
}

}  // namespace portcullis::certstore
