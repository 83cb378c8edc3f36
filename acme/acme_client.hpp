// AcmeClient: one ACME account at one CA, spoken over RFC 8555 — directory, nonce pool with
// badNonce retry, account (key created once and kept in Storage), orders, authorizations,
// challenges, polling, finalize, certificate download with alternate-chain choice, revocation,
// and ARI renewalInfo (RFC 9773). It opens no listening socket and solves no challenge itself:
// the Issuer publishes answers and calls respond().
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "acme/http_client.hpp"
#include "acme/request_counts.hpp"
#include "acme/protocol.hpp"
#include "base/blocking_pool.hpp"
#include "base/error.hpp"
#include "base/ossl.hpp"
#include "certstore/storage.hpp"

namespace portcullis::acme {

struct AcmeClientOptions {
  std::string directory_url;
  std::filesystem::path ca_bundle;  // empty: the system trust store
  std::string email;                // contact; empty: none
  std::string eab_kid;              // External Account Binding, both or neither
  std::string eab_hmac_key;         // base64url, as the CA hands it out
  std::string profile;              // sent on new-order only when the directory lists it
  std::string preferred_chain;      // issuer CN of the chain's top certificate; empty: the default
  HttpTimeouts timeouts;
  int max_bad_nonce_retries = 5;
  // Polling an authorization or order: Retry-After when the CA sends one, else a backoff that
  // starts small (a local CA answers within milliseconds) and grows to poll_max.
  std::chrono::milliseconds poll_initial{20};
  std::chrono::milliseconds poll_max{1000};
  std::chrono::milliseconds poll_deadline{120'000};  // give up waiting for one object after this
  // Counts every request sent, by type and status; none: not counted. Must outlive the client.
  AcmeRequestCounts* request_counts = nullptr;
};

struct Account {
  std::string url;
  std::string thumbprint;  // RFC 7638, for key authorizations
  bool created_now = false;  // true when this process registered it (newAccount answered 201)
};

struct AcmeStats {
  std::uint64_t requests = 0;
  std::uint64_t bad_nonce_retries = 0;
  std::uint64_t accounts_created = 0;
  std::uint64_t orders_created = 0;
};

// Storage keys (Storage::put_value). The account URL is per directory: another CA, another account.
inline constexpr std::string_view account_key_storage_key = "acme.account_key";
std::string account_url_storage_key(std::string_view directory_url);

class AcmeClient {
 public:
  // Does no I/O. `storage` and `pool` must outlive the client; every store call and the account
  // key generation run on `pool` (store calls on its store lane). Errors: Errc::config
  // (unreadable CA bundle, EAB half configured).
  static Result<std::unique_ptr<AcmeClient>> create(boost::asio::any_io_executor executor,
                                                    AcmeClientOptions options, certstore::Storage& storage,
                                                    base::BlockingPool& pool);
  ~AcmeClient();

  // Every coroutine below runs on the executor given to create() and may run concurrently with
  // the others. Errors: Errc::acme with the CA's problem document (message "acme: <step> <url>:
  // <status> <type> \"<detail>\""), Errc::network / Errc::timeout naming the step and URL.

  // The directory, fetched once and cached.
  boost::asio::awaitable<Result<Directory>> directory();

  // Loads the account key and URL from Storage, or generates the key (ES256), stores it, and
  // registers it (with EAB when configured). Cached after the first success; concurrent callers
  // share one lookup (one new-account request however many orders start together).
  boost::asio::awaitable<Result<Account>> account();

  // RFC 8555 §7.4. `replaces` (an ARI certificate id) is sent only when the CA offers ARI; the
  // configured profile only when the directory lists it. The returned Order carries its URL.
  boost::asio::awaitable<Result<Order>> new_order(std::vector<std::string> names, std::string replaces = {});
  boost::asio::awaitable<Result<Order>> get_order(std::string url);
  boost::asio::awaitable<Result<Authorization>> get_authorization(std::string url);
  // RFC 8555 §7.5.1: tells the CA the challenge is ready to be validated.
  boost::asio::awaitable<Result<Challenge>> respond(std::string challenge_url);
  // Polls until the authorization leaves "pending" (valid, invalid, ...), or poll_deadline.
  boost::asio::awaitable<Result<Authorization>> wait_authorization(std::string url);
  // Polls until the order is neither "pending" nor "processing", or poll_deadline.
  boost::asio::awaitable<Result<Order>> wait_order(std::string url);
  // Sends a CSR for the order's names made with `certificate_key`, then waits for "valid".
  boost::asio::awaitable<Result<Order>> finalize(Order order, EVP_PKEY* certificate_key);
  // POST-as-GET of the chain (PEM, leaf first). With preferred_chain set, the default and every
  // Link rel="alternate" chain are compared by the issuer CN of their top certificate.
  boost::asio::awaitable<Result<std::string>> download_certificate(std::string url);
  // RFC 8555 §7.6, signed with the account key. `reason` is an RFC 5280 CRLReason code.
  boost::asio::awaitable<Status> revoke(std::string certificate_pem, int reason = 0);
  // RFC 9773 renewalInfo for the leaf of `certificate_pem`; Errc::not_found when the CA has no ARI.
  boost::asio::awaitable<Result<RenewalInfo>> renewal_info(std::string certificate_pem);
  // The same for a certificate already parsed (the one being served): no PEM is parsed again.
  boost::asio::awaitable<Result<RenewalInfo>> renewal_info(certstore::CertBundlePtr certificate);

  // Valid after account() succeeded.
  Result<std::string> key_authorization(std::string_view token) const;

  const AcmeStats& stats() const noexcept { return stats_; }
  const AcmeClientOptions& options() const noexcept { return options_; }
  // Forgets cached state (directory, account URL, nonces, connections): after the CA restarted.
  void reset();

 private:
  struct Signed {
    HttpResponse response;
    std::string location;
  };
  AcmeClient(boost::asio::any_io_executor executor, AcmeClientOptions options, certstore::Storage& storage,
             base::BlockingPool& pool, std::unique_ptr<HttpClient> http);

  boost::asio::awaitable<Result<HttpResponse>> send(std::string_view step, HttpRequest request);
  boost::asio::awaitable<Result<std::string>> take_nonce(std::string_view step);
  void keep_nonce(const HttpResponse& response);
  // Signed POST (payload) or POST-as-GET (nullopt) with nonce handling and badNonce retries.
  // Uses the account URL as kid unless `embed_jwk`. 4xx/5xx answers become problem errors.
  boost::asio::awaitable<Result<HttpResponse>> post(std::string_view step, std::string url,
                                                   std::optional<std::string> payload, bool embed_jwk = false);
  boost::asio::awaitable<Result<HttpResponse>> post_as_account(std::string_view step, std::string url,
                                                              std::optional<std::string> payload);
  boost::asio::awaitable<Status> load_account_key();
  boost::asio::awaitable<Result<Account>> register_account();
  boost::asio::awaitable<Result<Account>> load_or_register_account();
  // account(), single-flight; with `forgotten_url`, the CA no longer knows that account: register
  // the key again unless another caller already did.
  boost::asio::awaitable<Result<Account>> settled_account(std::string forgotten_url);
  // renewalInfo for the certificate with this ARI id (or the error computing it).
  boost::asio::awaitable<Result<RenewalInfo>> renewal_info_of(Result<std::string> id);
  // False when the wait was cancelled (the task is stopping).
  boost::asio::awaitable<bool> sleep_for(std::chrono::milliseconds delay);

  boost::asio::any_io_executor executor_;
  AcmeClientOptions options_;
  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  std::unique_ptr<HttpClient> http_;
  std::optional<Directory> directory_;
  base::PkeyPtr account_key_;
  std::optional<Account> account_;
  // Set while one caller loads or registers the account; the others wait on it (cancelled when done).
  std::shared_ptr<boost::asio::steady_timer> account_gate_;
  std::deque<std::string> nonces_;
  AcmeStats stats_;
};

// A PKCS#10 CSR (DER) for `names` (subjectAltName dNSNames; the first name is also the CN when it
// fits the 64-character limit), signed with `key`.
Result<std::string> make_csr_der(EVP_PKEY* key, const std::vector<std::string>& names);

// The issuer CN of the last certificate in a PEM chain ("" when absent).
Result<std::string> chain_top_issuer_cn(std::string_view chain_pem);

}  // namespace portcullis::acme
