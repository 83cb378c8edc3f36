#include "acme/acme_client.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "acme/jws.hpp"
#include "base/logging.hpp"
#include "certstore/pem.hpp"

namespace portcullis::acme {
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using base::PkeyPtr;
using base::SecretBytes;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view jose_json = "application/jose+json";
constexpr std::string_view pem_chain = "application/pem-certificate-chain";
constexpr std::string_view bad_nonce = "urn:ietf:params:acme:error:badNonce";
constexpr std::string_view account_does_not_exist = "urn:ietf:params:acme:error:accountDoesNotExist";
constexpr std::size_t nonce_pool_limit = 32;
constexpr int max_cn_length = 64;  // RFC 5280 ub-common-name

bool settled_authorization(const std::string& status) { return status != "pending" && status != "processing"; }
bool settled_order(const std::string& status) { return status != "pending" && status != "processing"; }

template <class T>
tl::unexpected<Error> with_step(const Result<T>& r, std::string_view step, std::string_view url) {
  return tl::unexpected(r.error().with_context(fmt::format("acme: {} {}", step, url)));
}

}  // namespace

std::string account_url_storage_key(std::string_view directory_url) {
  return fmt::format("acme.account_url:{}", directory_url);
}

AcmeClient::AcmeClient(asio::any_io_executor executor, AcmeClientOptions options, certstore::Storage& storage,
                       base::BlockingPool& pool, std::unique_ptr<HttpClient> http)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      storage_(storage),
      pool_(pool),
      http_(std::move(http)) {}

AcmeClient::~AcmeClient() = default;

Result<std::unique_ptr<AcmeClient>> AcmeClient::create(asio::any_io_executor executor, AcmeClientOptions options,
                                                       certstore::Storage& storage, base::BlockingPool& pool) {
  if (options.directory_url.empty()) return fail(Errc::config, "acme: directory URL is empty");
  if (options.eab_kid.empty() != options.eab_hmac_key.empty())
    return fail(Errc::config, "acme: eab_kid and eab_hmac_key must be set together");
  HttpClientOptions http_options;
  http_options.ca_bundle = options.ca_bundle;
  http_options.timeouts = options.timeouts;
  auto http = HttpClient::create(executor, http_options);
  if (!http) return tl::unexpected(http.error().with_context("acme"));
  return std::unique_ptr<AcmeClient>(new AcmeClient(std::move(executor), std::move(options), storage, pool, std::move(*http)));
}

void AcmeClient::reset() {
  directory_.reset();
  account_.reset();
  nonces_.clear();
  http_->close_idle();
}

asio::awaitable<bool> AcmeClient::sleep_for(std::chrono::milliseconds delay) {
  asio::steady_timer timer(executor_, delay);
  auto [ec] = co_await timer.async_wait(use_tuple);
  co_return !ec;  // the timer is this call's own: only a cancellation of the caller aborts it
}

asio::awaitable<Result<HttpResponse>> AcmeClient::send(std::string_view step, HttpRequest request) {
  ++stats_.requests;
  std::string url = request.url;
  auto response = co_await http_->request(std::move(request));
  if (options_.request_counts) options_.request_counts->count(step, response ? response->status : 0);
  if (!response) co_return with_step(response, step, url);
  log::acme()->debug("response step={} url={} status={}", step, url, response->status);
  co_return response;
}

// The pool is used newest first: the freshest nonce is the likeliest to be accepted (a CA
// forgets old ones), and a badNonce retry takes the nonce of the very answer that rejected
// the request (RFC 8555 §6.5). When full, the oldest is dropped.
void AcmeClient::keep_nonce(const HttpResponse& response) {
  auto nonce = response.header("Replay-Nonce");
  if (nonce.empty()) return;
  if (nonces_.size() >= nonce_pool_limit) nonces_.pop_front();
  nonces_.push_back(std::move(nonce));
}

asio::awaitable<Result<std::string>> AcmeClient::take_nonce(std::string_view step) {
  if (!nonces_.empty()) {
    auto nonce = std::move(nonces_.back());
    nonces_.pop_back();
    co_return nonce;
  }
  auto dir = co_await directory();
  if (!dir) co_return tl::unexpected(dir.error());
  HttpRequest req{http::verb::head, dir->new_nonce, {}, {}, {}, {}};
  auto response = co_await send("new-nonce", std::move(req));
  if (!response) co_return tl::unexpected(response.error());
  auto nonce = response->header("Replay-Nonce");
  if (nonce.empty())
    co_return fail(Errc::acme, fmt::format("acme: new-nonce {}: {} without a Replay-Nonce header", dir->new_nonce,
                                           response->status));
  co_return nonce;
}

asio::awaitable<Result<Directory>> AcmeClient::directory() {
  if (directory_) co_return *directory_;
  HttpRequest req{http::verb::get, options_.directory_url, {}, {}, "application/json", {}};
  auto response = co_await send("directory", std::move(req));
  if (!response) co_return tl::unexpected(response.error());
  if (response->status != 200)
    co_return tl::unexpected(problem_error("directory", options_.directory_url, parse_problem(response->status, response->body)));
  auto parsed = parse_directory(response->body);
  if (!parsed) co_return with_step(parsed, "directory", options_.directory_url);
  directory_ = *parsed;
  co_return *parsed;
}

asio::awaitable<Result<HttpResponse>> AcmeClient::post(std::string_view step, std::string url,
                                                      std::optional<std::string> payload, bool embed_jwk) {
  if (!account_key_) co_return fail(Errc::internal, fmt::format("acme: {} {}: no account key loaded", step, url));
  JwsSigner signer{account_key_.get(), embed_jwk || !account_ ? std::string() : account_->url};
  const std::string accept = step == "download-certificate" ? std::string(pem_chain) : std::string();
  for (int attempt = 0;; ++attempt) {
    auto nonce = co_await take_nonce(step);
    if (!nonce) co_return tl::unexpected(nonce.error());
    auto jws = sign_request(signer, url, *nonce, payload);
    if (!jws) co_return with_step(jws, step, url);
    HttpRequest req{http::verb::post, url, json::serialize(*jws), std::string(jose_json), accept, {}};
    auto response = co_await send(step, std::move(req));
    if (!response) co_return tl::unexpected(response.error());
    keep_nonce(*response);
    if (response->status < 400) co_return response;
    auto problem = parse_problem(response->status, response->body);
    // RFC 8555 §6.5: badNonce is retryable; the response carried a fresh nonce (kept above).
    if (problem.type == bad_nonce && attempt < options_.max_bad_nonce_retries) {
      ++stats_.bad_nonce_retries;
      log::acme()->debug("bad nonce step={} url={} attempt={}", step, url, attempt + 1);
      continue;
    }
    co_return tl::unexpected(problem_error(step, url, std::move(problem)));
  }
}

asio::awaitable<Result<HttpResponse>> AcmeClient::post_as_account(std::string_view step, std::string url,
                                                                 std::optional<std::string> payload) {
  auto acct = co_await account();
  if (!acct) co_return tl::unexpected(acct.error());
  auto response = co_await post(step, url, payload);
  if (!response && response.error().problem() && response.error().problem()->type == account_does_not_exist) {
    // The CA forgot the account (a test CA restarted, or the account was deleted): register the
    // same key again and retry once.
    log::acme()->warn("account unknown to the CA url={}; registering again", acct->url);
    std::string forgotten = acct->url;
    auto again = co_await settled_account(std::move(forgotten));
    if (!again) co_return tl::unexpected(again.error());
    response = co_await post(step, url, payload);
  }
  co_return response;
}

asio::awaitable<Status> AcmeClient::load_account_key() {
  if (account_key_) co_return Status{};
  auto stored = co_await pool_.store([&] { return storage_.get_value(std::string(account_key_storage_key)); });
  if (!stored) co_return tl::unexpected(stored.error().with_context("acme: load account key"));
  if (*stored) {
    auto key = certstore::pem::parse_private_key(**stored);
    if (!key) co_return tl::unexpected(key.error().with_context("acme: stored account key"));
    if (auto alg = jws_algorithm(key->get()); !alg) co_return tl::unexpected(alg.error().with_context("acme: stored account key"));
    account_key_ = std::move(*key);
    co_return Status{};
  }
  auto key = co_await pool_.run([] { return certstore::pem::generate_p256(); });
  if (!key) co_return tl::unexpected(key.error().with_context("acme: generate account key"));
  SecretBytes pem = certstore::pem::to_pem(key->get());
  auto put = co_await pool_.store([&] { return storage_.put_value(std::string(account_key_storage_key), pem); });
  if (!put)
    co_return tl::unexpected(put.error().with_context("acme: store account key"));
  account_key_ = std::move(*key);
  log::acme()->info("account key generated alg=ES256");
  co_return Status{};
}

asio::awaitable<Result<Account>> AcmeClient::account() {
  // Named, not a temporary in the co_await expression: GCC 12 mishandles those.
  std::string none;
  auto account = co_await settled_account(std::move(none));
  co_return account;
}

asio::awaitable<Result<Account>> AcmeClient::settled_account(std::string forgotten_url) {
  // One lookup or registration at a time: the orders of several endpoints start together, and
  // each registering the same key would cost the CA a request (Pebble even answers the second
  // one 500 "Error saving account"). Waiters take the holder's result, or try in turn if it failed.
  while (account_gate_) {
    auto gate = account_gate_;
    co_await gate->async_wait(use_tuple);
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none)
      co_return fail(Errc::cancelled, "acme: account: stopped while another request settles it");
  }
  if (account_ && account_->url != forgotten_url) co_return *account_;
  auto gate = std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
  account_gate_ = gate;
  account_.reset();
  Result<Account> result = fail(Errc::internal, "acme: account not settled");
  if (forgotten_url.empty()) {
    result = co_await load_or_register_account();
  } else {
    result = co_await register_account();
  }
  account_gate_.reset();
  gate->cancel();
  co_return result;
}

asio::awaitable<Result<Account>> AcmeClient::load_or_register_account() {
  if (auto loaded = co_await load_account_key(); !loaded) co_return tl::unexpected(loaded.error());
  auto stored_url =
      co_await pool_.store([&] { return storage_.get_value(account_url_storage_key(options_.directory_url)); });
  if (!stored_url) co_return tl::unexpected(stored_url.error().with_context("acme: load account URL"));
  if (*stored_url && !(*stored_url)->empty()) {
    auto thumbprint = jwk_thumbprint(account_key_.get());
    if (!thumbprint) co_return tl::unexpected(thumbprint.error());
    account_ = Account{std::string((*stored_url)->reveal()), *thumbprint, false};
    co_return *account_;
  }
  co_return co_await register_account();
}

asio::awaitable<Result<Account>> AcmeClient::register_account() {
  if (auto loaded = co_await load_account_key(); !loaded) co_return tl::unexpected(loaded.error());
  auto dir = co_await directory();
  if (!dir) co_return tl::unexpected(dir.error());
  json::object payload;
  payload["termsOfServiceAgreed"] = true;
  if (!options_.email.empty()) payload["contact"] = json::array{json::string("mailto:" + options_.email)};
  if (!options_.eab_kid.empty()) {
    auto eab = external_account_binding(account_key_.get(), options_.eab_kid, options_.eab_hmac_key, dir->new_account);
    if (!eab) co_return tl::unexpected(eab.error().with_context("acme: new-account"));
    payload["externalAccountBinding"] = std::move(*eab);
  } else if (dir->external_account_required) {
    co_return fail(Errc::config, fmt::format("acme: new-account {}: the CA requires External Account Binding; "
                                             "set eab_kid and eab_hmac_key",
                                             dir->new_account));
  }
  auto response = co_await post("new-account", dir->new_account, json::serialize(payload), true);
  if (!response) co_return tl::unexpected(response.error());
  auto url = response->header("Location");
  if (url.empty())
    co_return fail(Errc::acme, fmt::format("acme: new-account {}: {} without a Location header", dir->new_account,
                                           response->status));
  auto thumbprint = jwk_thumbprint(account_key_.get());
  if (!thumbprint) co_return tl::unexpected(thumbprint.error());
  auto put = co_await pool_.store(
      [&] { return storage_.put_value(account_url_storage_key(options_.directory_url), SecretBytes(url)); });
  if (!put)
    co_return tl::unexpected(put.error().with_context("acme: store account URL"));
  bool created = response->status == 201;
  if (created) ++stats_.accounts_created;
  account_ = Account{url, *thumbprint, created};
  log::acme()->info("account {} url={}", created ? "created" : "found", url);
  co_return *account_;
}

Result<std::string> AcmeClient::key_authorization(std::string_view token) const {
  if (!account_) return fail(Errc::internal, "acme: key authorization requested before the account is loaded");
  return acme::key_authorization(token, account_->thumbprint);
}

asio::awaitable<Result<Order>> AcmeClient::new_order(std::vector<std::string> names, std::string replaces) {
  auto dir = co_await directory();
  if (!dir) co_return tl::unexpected(dir.error());
  json::object payload;
  json::array identifiers;
  for (const auto& name : names) identifiers.push_back(json::object{{"type", "dns"}, {"value", name}});
  payload["identifiers"] = std::move(identifiers);
  if (!replaces.empty() && !dir->renewal_info.empty()) payload["replaces"] = replaces;  // RFC 9773 §5
  if (!options_.profile.empty()) {
    if (dir->profiles.count(options_.profile))
      payload["profile"] = options_.profile;
    else
      log::acme()->warn("profile not offered by the CA profile={} directory={}", options_.profile,
                        options_.directory_url);
  }
  auto response = co_await post_as_account("new-order", dir->new_order, json::serialize(payload));
  if (!response) co_return tl::unexpected(response.error());
  auto order = parse_order(response->body);
  if (!order) co_return with_step(order, "new-order", dir->new_order);
  order->url = response->header("Location");
  if (order->url.empty())
    co_return fail(Errc::acme, fmt::format("acme: new-order {}: {} without a Location header", dir->new_order,
                                           response->status));
  ++stats_.orders_created;
  log::acme()->info("order created url={} names={} status={}", order->url, fmt::join(names, ","), order->status);
  co_return order;
}

asio::awaitable<Result<Order>> AcmeClient::get_order(std::string url) {
  auto response = co_await post_as_account("get-order", url, std::nullopt);
  if (!response) co_return tl::unexpected(response.error());
  auto order = parse_order(response->body);
  if (!order) co_return with_step(order, "get-order", url);
  order->url = url;
  co_return order;
}

asio::awaitable<Result<Authorization>> AcmeClient::get_authorization(std::string url) {
  auto response = co_await post_as_account("get-authorization", url, std::nullopt);
  if (!response) co_return tl::unexpected(response.error());
  auto authz = parse_authorization(response->body);
  if (!authz) co_return with_step(authz, "get-authorization", url);
  authz->url = url;
  co_return authz;
}

asio::awaitable<Result<Challenge>> AcmeClient::respond(std::string challenge_url) {
  auto response = co_await post_as_account("respond-challenge", challenge_url, std::string("{}"));
  if (!response) co_return tl::unexpected(response.error());
  auto challenge = parse_challenge(response->body);
  if (!challenge) co_return with_step(challenge, "respond-challenge", challenge_url);
  co_return challenge;
}

asio::awaitable<Result<Authorization>> AcmeClient::wait_authorization(std::string url) {
  const auto give_up = std::chrono::steady_clock::now() + options_.poll_deadline;
  auto delay = options_.poll_initial;
  for (;;) {
    auto response = co_await post_as_account("poll-authorization", url, std::nullopt);
    if (!response) co_return tl::unexpected(response.error());
    auto authz = parse_authorization(response->body);
    if (!authz) co_return with_step(authz, "poll-authorization", url);
    authz->url = url;
    if (settled_authorization(authz->status)) co_return authz;
    auto wait = delay;
    if (auto retry = parse_retry_after(response->header("Retry-After"), Clock::now()))
      wait = std::max<std::chrono::milliseconds>(*retry, options_.poll_initial);
    if (std::chrono::steady_clock::now() + wait > give_up)
      co_return fail(Errc::timeout, fmt::format("acme: poll-authorization {}: still {} after the {} ms deadline", url,
                                                authz->status, options_.poll_deadline.count()));
    if (!co_await sleep_for(wait))
      co_return fail(Errc::cancelled, fmt::format("acme: poll-authorization {}: stopped while {}", url, authz->status));
    delay = std::min(delay * 2, options_.poll_max);
  }
}

asio::awaitable<Result<Order>> AcmeClient::wait_order(std::string url) {
  const auto give_up = std::chrono::steady_clock::now() + options_.poll_deadline;
  auto delay = options_.poll_initial;
  for (;;) {
    auto response = co_await post_as_account("poll-order", url, std::nullopt);
    if (!response) co_return tl::unexpected(response.error());
    auto order = parse_order(response->body);
    if (!order) co_return with_step(order, "poll-order", url);
    order->url = url;
    if (settled_order(order->status)) co_return order;
    auto wait = delay;
    if (auto retry = parse_retry_after(response->header("Retry-After"), Clock::now()))
      wait = std::max<std::chrono::milliseconds>(*retry, options_.poll_initial);
    if (std::chrono::steady_clock::now() + wait > give_up)
      co_return fail(Errc::timeout, fmt::format("acme: poll-order {}: still {} after the {} ms deadline", url,
                                                order->status, options_.poll_deadline.count()));
    if (!co_await sleep_for(wait))
      co_return fail(Errc::cancelled, fmt::format("acme: poll-order {}: stopped while {}", url, order->status));
    delay = std::min(delay * 2, options_.poll_max);
  }
}

asio::awaitable<Result<Order>> AcmeClient::finalize(Order order, EVP_PKEY* certificate_key) {
  // Building and signing the CSR is an ECDSA signature: on the pool, not the control thread.
  auto csr = co_await pool_.run([&] { return make_csr_der(certificate_key, order.names); });
  if (!csr) co_return with_step(csr, "finalize", order.finalize);
  json::object payload{{"csr", base64url_encode(*csr)}};
  auto response = co_await post_as_account("finalize", order.finalize, json::serialize(payload));
  if (!response) co_return tl::unexpected(response.error());
  auto finalized = parse_order(response->body);
  if (!finalized) co_return with_step(finalized, "finalize", order.finalize);
  finalized->url = order.url;
  if (!settled_order(finalized->status)) {
    auto waited = co_await wait_order(order.url);
    if (!waited) co_return tl::unexpected(waited.error());
    finalized = std::move(waited);
  }
  if (finalized->status != "valid") {
    if (finalized->error) co_return tl::unexpected(problem_error("finalize", order.url, *finalized->error));
    co_return fail(Errc::acme, fmt::format("acme: finalize {}: order is {}, expected valid", order.url, finalized->status));
  }
  co_return finalized;
}

asio::awaitable<Result<std::string>> AcmeClient::download_certificate(std::string url) {
  auto response = co_await post_as_account("download-certificate", url, std::nullopt);
  if (!response) co_return tl::unexpected(response.error());
  std::string chain = std::move(response->body);
  if (options_.preferred_chain.empty()) co_return chain;

  auto issuer = chain_top_issuer_cn(chain);
  if (issuer && *issuer == options_.preferred_chain) co_return chain;
  // RFC 8555 §7.4.2: alternate chains are announced as Link rel="alternate".
  for (const auto& alternate : parse_link_header(response->header_values("Link"), "alternate")) {
    auto alt = co_await post_as_account("download-certificate", alternate, std::nullopt);
    if (!alt) {
      if (alt.error().code() == Errc::cancelled) co_return tl::unexpected(alt.error());
      log::acme()->warn("alternate chain unavailable url={} error=\"{}\"", alternate, alt.error().message());
      continue;
    }
    auto alt_issuer = chain_top_issuer_cn(alt->body);
    if (alt_issuer && *alt_issuer == options_.preferred_chain) {
      log::acme()->info("alternate chain chosen url={} issuer=\"{}\"", alternate, *alt_issuer);
      co_return std::move(alt->body);
    }
  }
  log::acme()->info("preferred chain not offered preferred=\"{}\" using=\"{}\"", options_.preferred_chain,
                    issuer ? *issuer : std::string());
  co_return chain;
}

asio::awaitable<Status> AcmeClient::revoke(std::string certificate_pem, int reason) {
  auto dir = co_await directory();
  if (!dir) co_return tl::unexpected(dir.error());
  if (dir->revoke_cert.empty()) co_return fail(Errc::acme, "acme: revoke: the directory has no revokeCert");
  auto chain = certstore::pem::parse_chain(certificate_pem);
  if (!chain) co_return with_step(chain, "revoke", dir->revoke_cert);
  int len = i2d_X509(chain->front().get(), nullptr);
  std::string der(static_cast<size_t>(std::max(len, 0)), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (len <= 0 || i2d_X509(chain->front().get(), &out) != len)
    co_return fail(Errc::crypto, fmt::format("acme: revoke {}: cannot encode the certificate", dir->revoke_cert));
  json::object payload{{"certificate", base64url_encode(der)}, {"reason", reason}};
  auto response = co_await post_as_account("revoke", dir->revoke_cert, json::serialize(payload));
  if (!response) co_return tl::unexpected(response.error());
  log::acme()->info("certificate revoked reason={}", reason);
  co_return Status{};
}

asio::awaitable<Result<RenewalInfo>> AcmeClient::renewal_info(std::string certificate_pem) {
  auto chain = certstore::pem::parse_chain(certificate_pem);
  Result<std::string> id = chain ? ari_certificate_id(chain->front().get()) : tl::unexpected(chain.error());
  auto info = co_await renewal_info_of(std::move(id));
  co_return info;
}

asio::awaitable<Result<RenewalInfo>> AcmeClient::renewal_info(certstore::CertBundlePtr certificate) {
  auto id = ari_certificate_id(certificate->leaf());
  auto info = co_await renewal_info_of(std::move(id));
  co_return info;
}

asio::awaitable<Result<RenewalInfo>> AcmeClient::renewal_info_of(Result<std::string> id) {
  auto dir = co_await directory();
  if (!dir) co_return tl::unexpected(dir.error());
  if (dir->renewal_info.empty())
    co_return fail(Errc::not_found, fmt::format("acme: renewal-info: {} offers no ARI", options_.directory_url));
  if (!id) co_return with_step(id, "renewal-info", dir->renewal_info);
  std::string base = dir->renewal_info;
  if (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + "/" + *id;
  HttpRequest req{http::verb::get, url, {}, {}, "application/json", {}};
  auto response = co_await send("renewal-info", std::move(req));
  if (!response) co_return tl::unexpected(response.error());
  if (response->status != 200) co_return tl::unexpected(problem_error("renewal-info", url, parse_problem(response->status, response->body)));
  auto info = parse_renewal_info(response->body);
  if (!info) co_return with_step(info, "renewal-info", url);
  info->retry_after = parse_retry_after(response->header("Retry-After"), Clock::now());
  co_return info;
}

Result<std::string> make_csr_der(EVP_PKEY* key, const std::vector<std::string>& names) {
  if (names.empty()) return fail(Errc::invalid_input, "csr: no names");
  base::X509ReqPtr req(X509_REQ_new());
  if (!req) return fail(Errc::crypto, "csr: X509_REQ_new: " + base::openssl_errors());
  X509_REQ_set_version(req.get(), 0);  // PKCS#10 v1
  if (names.front().size() <= max_cn_length) {
    X509_NAME* subject = X509_REQ_get_subject_name(req.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1, 0);
  }
  base::GeneralNamesPtr sans(sk_GENERAL_NAME_new_null());
  for (const auto& name : names) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (!gn || !ia5 || ASN1_STRING_set(ia5, name.data(), static_cast<int>(name.size())) != 1) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(ia5);
      return fail(Errc::crypto, "csr: building subjectAltName: " + base::openssl_errors());
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    sk_GENERAL_NAME_push(sans.get(), gn);
  }
  X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans.get());
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  bool ok = ext && exts && sk_X509_EXTENSION_push(exts, ext) > 0 && X509_REQ_add_extensions(req.get(), exts) == 1;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!ok) return fail(Errc::crypto, "csr: adding subjectAltName: " + base::openssl_errors());
  if (X509_REQ_set_pubkey(req.get(), key) != 1 || X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0)
    return fail(Errc::crypto, "csr: signing: " + base::openssl_errors());
  int len = i2d_X509_REQ(req.get(), nullptr);
  if (len <= 0) return fail(Errc::crypto, "csr: encoding: " + base::openssl_errors());
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509_REQ(req.get(), &out);
  return der;
}

Result<std::string> chain_top_issuer_cn(std::string_view chain_pem) {
  auto chain = certstore::pem::parse_chain(chain_pem);
  if (!chain) return tl::unexpected(chain.error());
  X509_NAME* issuer = X509_get_issuer_name(chain->back().get());
  int index = X509_NAME_get_index_by_NID(issuer, NID_commonName, -1);
  if (index < 0) return std::string();
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return fail(Errc::crypto, "issuer CN: " + base::openssl_errors());
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return cn;
}

}  // namespace portcullis::acme
