#include "control/transitional_certificates.hpp"

#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/logging.hpp"
#include "certstore/cert_policy.hpp"
#include "certstore/pem.hpp"

namespace portcullis::control {
namespace {

using certstore::CertBundle;
using certstore::Clock;

std::string fingerprint(X509* leaf) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(leaf, EVP_sha256(), digest, &size) != 1) return {};
  std::string out;
  for (unsigned int i = 0; i < size; ++i) out += fmt::format("{}{:02X}", i ? ":" : "", digest[i]);
  return out;
}

std::int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

CertificateSummary summarize(const CertBundle& bundle, Clock::time_point now) {
  CertificateSummary s;
  s.names = bundle.names();
  s.issuer = bundle.issuer_cn();
  s.serial_hex = bundle.serial_hex();
  s.not_after = bundle.not_after();
  s.sha256_fingerprint = fingerprint(bundle.leaf());
  if (bundle.expired(now)) {
    s.warnings.push_back(fmt::format("the certificate expired at {}", certstore::format_time(bundle.not_after())));
  } else if (bundle.not_after() - now < TransitionalCertificates::warn_before) {
    // Whole days, rounded up: a certificate valid for 5 days from its issue shows "5 days".
    const auto days = (std::chrono::duration_cast<std::chrono::hours>(bundle.not_after() - now).count() + 23) / 24;
    s.warnings.push_back(fmt::format("the certificate expires in {} day{} ({}): the managed certificate should "
                                     "replace it before then",
                                     days, days == 1 ? "" : "s", certstore::format_time(bundle.not_after())));
  }
  return s;
}

TransitionalCertificates::TransitionalCertificates(certstore::Storage& storage, base::BlockingPool& pool,
                                                   CertCatalog& catalog)
    : storage_(storage), pool_(pool), catalog_(catalog) {}

ChangeResult<TransitionalCertificates::Checked> TransitionalCertificates::check(
    std::string_view chain_pem, const base::SecretBytes& key_pem, const std::vector<std::string>& hostnames,
    Clock::time_point now, Trust trust) {
  auto refused = [](std::vector<FieldProblem> problems) {
    return tl::unexpected(ChangeError{Errc::invalid_input, "the certificate cannot be used", std::move(problems)});
  };
  std::vector<FieldProblem> problems;
  std::vector<std::string> warnings;
  auto chain = certstore::pem::parse_chain(chain_pem);
  if (!chain) problems.push_back({"certificate", chain.error().message()});
  auto key = certstore::pem::parse_private_key(key_pem);
  if (!key) problems.push_back({"private_key", key.error().message()});
  if (chain && key && X509_check_private_key(chain->front().get(), key->get()) != 1) {
    ERR_clear_error();
    problems.push_back({"private_key", "the private key does not match the certificate (the first one, the leaf)"});
  }
  if (chain) {
    std::vector<X509*> certs;
    for (const auto& c : *chain) certs.push_back(c.get());
    auto verdict = certstore::check_outside_chain(certs, trust.store, now, trust.allow_untrusted);
    for (auto& p : verdict.problems) problems.push_back({"certificate", std::move(p)});
    warnings = std::move(verdict.warnings);
    if (!problems.empty()) {
      // The key, its type, a signature or the trust is refused: the chain's own problems (expiry,
      // order, names) are reported with them, not after those are fixed.
      for (auto& p : certstore::chain_problems(certs, now, hostnames)) problems.push_back({"certificate", std::move(p)});
    }
  }
  if (!problems.empty()) return refused(std::move(problems));
  auto bundle = CertBundle::from_pem(chain_pem, key_pem, certstore::CertSource::transitional, "upload");
  if (!bundle) return refused({{"certificate", bundle.error().message()}});
  for (auto& p : (*bundle)->problems(now, hostnames)) problems.push_back({"certificate", std::move(p)});
  if (!problems.empty()) return refused(std::move(problems));
  return Checked{std::move(*bundle), std::move(warnings)};
}

boost::asio::awaitable<ChangeResult<CertificateSummary>> TransitionalCertificates::put(domain::EndpointConfig endpoint,
                                                                                        std::string chain_pem,
                                                                                        base::SecretBytes key_pem,
                                                                                        bool allow_untrusted) {
  const auto now = Clock::now();
  // Parsing, the trust store (read from disk) and signature checks: on the pool, not the control
  // thread. The store is read per upload, so a CA added to the system is seen without a restart.
  auto checked = co_await pool_.run([&]() -> ChangeResult<Checked> {
    auto store = certstore::system_trust_store();
    if (!store) return tl::unexpected(ChangeError{store.error().code(), store.error().message(), {}});
    return check(chain_pem, key_pem, endpoint.hostnames, now, {store->get(), allow_untrusted});
  });
  if (!checked) co_return tl::unexpected(ChangeError{checked.error().code(), checked.error().message(), {}});
  if (!*checked) co_return tl::unexpected(checked->error());
  certstore::CertBundlePtr bundle = std::move((*checked)->bundle);
  std::vector<std::string> trust_warnings = std::move((*checked)->warnings);

  certstore::StoredCertificate row;
  row.name_key = name_key(endpoint.id);
  row.endpoint_id = endpoint.id;
  row.source = certstore::CertSource::transitional;
  row.names = bundle->names();
  row.chain_pem = bundle->chain_pem();
  row.key_pem = std::move(key_pem);
  row.set_facts(*bundle);
  auto stored = co_await pool_.store([&] { return storage_.put_certificate(row); });
  if (!stored) co_return tl::unexpected(ChangeError{stored.error().code(), stored.error().message(), {}});
  if (auto st = catalog_.put_stored(row.name_key, {endpoint.id, row.names, bundle, nullptr}); !st) {
    co_return tl::unexpected(ChangeError{st.error().code(), st.error().message(), {}});
  }
  auto summary = summarize(*bundle, now);
  summary.warnings.insert(summary.warnings.begin(), trust_warnings.begin(), trust_warnings.end());
  log::proxy()->info("transitional certificate stored endpoint={} names={} issuer=\"{}\" serial={} not_after={}",
                     endpoint.id, fmt::join(summary.names, ","), summary.issuer, summary.serial_hex,
                     row.not_after_unix);
  for (const auto& w : summary.warnings) {
    log::proxy()->warn("transitional certificate endpoint={} warning=\"{}\"", endpoint.id, w);
  }
  co_return summary;
}

boost::asio::awaitable<ChangeResult<bool>> TransitionalCertificates::remove(std::string endpoint_id) {
  const auto key = name_key(endpoint_id);
  if (!catalog_.stored(key)) {
    co_return tl::unexpected(ChangeError{
        Errc::not_found, fmt::format("endpoint \"{}\" has no transitional certificate", endpoint_id), {}});
  }
  const auto now = unix_seconds(Clock::now());
  auto marked = co_await pool_.store([&] { return storage_.mark_certificate_removed(key, now); });
  if (!marked) co_return tl::unexpected(ChangeError{marked.error().code(), marked.error().message(), {}});
  catalog_.remove_stored(key);
  log::proxy()->info("transitional certificate removed endpoint={}", endpoint_id);
  co_return true;
}

std::optional<CertificateSummary> TransitionalCertificates::current(const std::string& endpoint_id) const {
  const auto* stored = catalog_.stored(name_key(endpoint_id));
  if (!stored) return std::nullopt;
  return summarize(*stored->bundle, Clock::now());
}

}  // namespace portcullis::control
