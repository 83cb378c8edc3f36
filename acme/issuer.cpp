#include "acme/issuer.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "acme/jws.hpp"
#include "base/hostname.hpp"
#include "base/logging.hpp"
#include "certstore/pem.hpp"

namespace portcullis::acme {
namespace asio = boost::asio;
using certstore::ChallengeBoard;
using base::SecretBytes;
using certstore::StoredCertificate;
using certstore::StoredOrder;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
}

std::vector<std::string> normalise(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& raw : names) {
    std::string name = base::normalize_hostname(raw);
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

bool same_names(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// The order may still complete: keep its row so that the next attempt (or the next start, after a
// stop at shutdown) resumes it rather than opening a second one.
bool may_complete_later(const Error& e) {
  return e.code() == Errc::network || e.code() == Errc::timeout || e.code() == Errc::cancelled;
}

// Deletes the order row once the order is done with (issued, or failed for good). A failure is
// logged, not returned: the outcome of the issuance is already decided.
asio::awaitable<void> drop_order(base::BlockingPool& pool, certstore::Storage& storage, const std::string& endpoint) {
  auto dropped = co_await pool.store([&] { return storage.delete_order(endpoint); });
  if (!dropped)
    log::acme()->warn("order row delete failed endpoint={} error=\"{}\"", endpoint, dropped.error().message());
}

// Releases the names this issuance holds, in this process at once and in the store through the
// pool's store lane (queued, not awaited: a destructor cannot suspend; the lane's order makes the
// release visible to every store call submitted after it).
class LeaseGuard {
 public:
  LeaseGuard(certstore::Storage& storage, base::BlockingPool& pool, std::set<std::string>& in_flight,
             std::string holder)
      : storage_(storage), pool_(pool), in_flight_(in_flight), holder_(std::move(holder)) {}
  ~LeaseGuard() {
    for (const auto& name : held_) in_flight_.erase(name);
    if (held_.empty()) return;
    pool_.post_store([&storage = storage_, names = std::move(held_), holder = holder_] {
      for (const auto& name : names) {
        if (auto released = storage.release_lease(name, holder); !released)
          log::acme()->warn("lease release failed name={} error=\"{}\"", name, released.error().message());
      }
    });
  }
  asio::awaitable<Status> acquire(const std::string& name, std::chrono::seconds ttl) {
    if (in_flight_.count(name))
      co_return fail(Errc::conflict, fmt::format("an order for {} is already in flight", name));
    // Held in this process before the store answers: a second issuance for the name, starting
    // while this one waits on the pool, is refused here rather than racing it in the store.
    in_flight_.insert(name);
    held_.push_back(name);
    auto got = co_await pool_.store([&] { return storage_.try_acquire_lease(name, holder_, ttl); });
    if (!got) co_return tl::unexpected(got.error().with_context("lease " + name));
    if (!*got) co_return fail(Errc::conflict, fmt::format("an order for {} is in flight on another node", name));
    co_return Status{};
  }

 private:
  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  std::set<std::string>& in_flight_;
  std::string holder_;
  std::vector<std::string> held_;
};

// Removes every answer this issuance published, however it ends.
class BoardGuard {
 public:
  explicit BoardGuard(ChallengeBoard& board) : board_(board) {}
  ~BoardGuard() {
    for (const auto& token : http01_) board_.remove_http01(token);
    for (const auto& [fqdn, value] : dns01_) board_.remove_dns01(fqdn, value);
  }
  void put_http01(const std::string& token, std::string key_authorization) {
    board_.put_http01(token, std::move(key_authorization));
    http01_.push_back(token);
  }
  void put_dns01(const std::string& fqdn, const std::string& value) {
    board_.put_dns01(fqdn, value);
    dns01_.emplace_back(fqdn, value);
  }

 private:
  ChallengeBoard& board_;
  std::vector<std::string> http01_;
  std::vector<std::pair<std::string, std::string>> dns01_;
};

Error validation_error(const Authorization& authz, const std::string& type) {
  const Challenge* challenge = authz.challenge(type);
  if (challenge && challenge->error)
    return problem_error(fmt::format("validate {} {}", type, authz.identifier), challenge->url, *challenge->error);
  return Error(Errc::acme, fmt::format("acme: validate {} {}: authorization {} is {}", type, authz.identifier,
                                       authz.url, authz.status));
}

std::optional<std::int64_t> asn1_to_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

std::string_view to_string(ChallengeType type) noexcept {
  return type == ChallengeType::dns01 ? "dns-01" : "http-01";
}

Result<LeafFacts> leaf_facts(std::string_view chain_pem) {
  auto chain = certstore::pem::parse_chain(chain_pem);
  if (!chain) return tl::unexpected(chain.error());
  X509* leaf = chain->front().get();
  LeafFacts facts;
  base::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr));
  char* hex = serial ? BN_bn2hex(serial.get()) : nullptr;
  if (!hex) return fail(Errc::crypto, "certificate serial: " + base::openssl_errors());
  facts.serial_hex = hex;
  OPENSSL_free(hex);
  auto not_before = asn1_to_unix(X509_get0_notBefore(leaf));
  auto not_after = asn1_to_unix(X509_get0_notAfter(leaf));
  if (!not_before || !not_after) return fail(Errc::crypto, "certificate validity: unreadable notBefore/notAfter");
  facts.not_before_unix = *not_before;
  facts.not_after_unix = *not_after;
  base::GeneralNamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type != GEN_DNS) continue;
    const auto* s = gn->d.dNSName;
    facts.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                             static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return facts;
}

Issuer::Issuer(AcmeClient& client, certstore::Storage& storage, ChallengeBoard& board, base::BlockingPool& pool,
               IssuerOptions options)
    : client_(client), storage_(storage), board_(board), pool_(pool), options_(std::move(options)) {}

asio::awaitable<Result<IssuedCertificate>> Issuer::issue(IssueRequest request) {
  const auto started = std::chrono::steady_clock::now();
  const std::string& endpoint = request.endpoint_id;
  const auto names = normalise(request.names);
  if (names.empty()) co_return fail(Errc::invalid_input, fmt::format("issue {}: no names", endpoint));
  const bool has_wildcard =
      std::any_of(names.begin(), names.end(), [](const std::string& n) { return base::is_wildcard(n); });
  if (has_wildcard && !request.challenge_for && request.challenge != ChallengeType::dns01)
    co_return fail(Errc::invalid_input,
                   fmt::format("issue {}: wildcard names need dns-01, not {}", endpoint, to_string(request.challenge)));

  LeaseGuard leases(storage_, pool_, in_flight_names_, options_.lease_holder);
  for (const auto& name : names) {
    auto held = co_await leases.acquire(name, options_.lease_ttl);
    if (!held) co_return tl::unexpected(held.error().with_context("issue " + endpoint));
  }
  BoardGuard board(board_);

  auto account = co_await client_.account();
  if (!account) co_return tl::unexpected(account.error());

  // Resume the stored order when there is one for the same names (RFC 8555 §7.4: the CA keeps it;
  // a second order would count against rate limits).
  auto stored_orders = co_await pool_.store([&] { return storage_.load_orders(); });
  if (!stored_orders) co_return tl::unexpected(stored_orders.error().with_context("issue " + endpoint));
  std::optional<StoredOrder> stored;
  for (auto& o : *stored_orders)
    if (o.endpoint_id == endpoint) stored = std::move(o);
  if (stored && !same_names(stored->names, names)) {
    log::acme()->info("stored order dropped endpoint={} reason=names_changed url={}", endpoint, stored->order_url);
    stored.reset();
  }

  std::optional<Order> order;
  if (stored && !stored->order_url.empty()) {
    auto current = co_await client_.get_order(stored->order_url);
    if (!current) {
      if (may_complete_later(current.error())) co_return tl::unexpected(current.error());
      log::acme()->info("stored order dropped endpoint={} url={} reason=\"{}\"", endpoint, stored->order_url,
                        current.error().message());
    } else if (current->status == "invalid") {
      log::acme()->info("stored order dropped endpoint={} url={} reason=invalid", endpoint, stored->order_url);
    } else {
      order = std::move(*current);
      log::acme()->info("order resumed endpoint={} url={} status={}", endpoint, order->url, order->status);
    }
  }
  if (!order) {
    // Persist the key and the intent before the CA hears of the order.
    // The key and its PEM on the pool: the control thread does no key work.
    auto key_pem = co_await pool_.run([]() -> Result<SecretBytes> {
      auto key = certstore::pem::generate_p256();
      if (!key) return tl::unexpected(key.error());
      return certstore::pem::to_pem(key->get());
    });
    if (!key_pem) co_return tl::unexpected(key_pem.error().with_context("issue " + endpoint));
    stored = StoredOrder{endpoint, "", names, "new", std::move(*key_pem), request.replaces, unix_now(), unix_now()};
    auto put = co_await pool_.store([&] { return storage_.put_order(*stored); });
    if (!put) co_return tl::unexpected(put.error().with_context("issue " + endpoint));
    auto created = co_await client_.new_order(names, request.replaces);
    if (!created) co_return tl::unexpected(created.error());
    order = std::move(*created);
    stored->order_url = order->url;
    stored->status = order->status;
    stored->updated_unix = unix_now();
    auto updated = co_await pool_.store([&] { return storage_.put_order(*stored); });
    if (!updated) co_return tl::unexpected(updated.error().with_context("issue " + endpoint));
  }
  auto certificate_key = co_await pool_.run([&] { return certstore::pem::parse_private_key(stored->cert_key_pem); });
  if (!certificate_key) co_return tl::unexpected(certificate_key.error().with_context("issue " + endpoint + ": stored order key"));

  auto persist_status = [&](const std::string& status) -> asio::awaitable<Status> {
    stored->status = status;
    stored->updated_unix = unix_now();
    auto put = co_await pool_.store([&] { return storage_.put_order(*stored); });
    if (!put) co_return tl::unexpected(put.error().with_context("issue " + endpoint));
    co_return Status{};
  };

  if (order->status == "pending") {
    // Every answer goes out before the CA validates any (see IssueRequest::publish), then each is
    // checked, then the CA is told.
    struct Pending {
      PublishedAnswer answer;
      std::string authz_url, type, challenge_url;
      bool respond = false;  // the challenge is still "pending" (not already processing)
    };
    std::vector<Pending> pending;
    for (const auto& authz_url : order->authorizations) {
      auto authz = co_await client_.get_authorization(authz_url);
      if (!authz) co_return tl::unexpected(authz.error());
      const ChallengeType chosen =
          request.challenge_for ? request.challenge_for(authz->identifier, authz->wildcard) : request.challenge;
      const std::string type(to_string(chosen));
      if (authz->status == "valid") continue;  // reused authorization (RFC 8555 §7.1.3)
      if (authz->status != "pending") co_return tl::unexpected(validation_error(*authz, type));
      if (authz->wildcard && chosen != ChallengeType::dns01)
        co_return fail(Errc::invalid_input, fmt::format("issue {}: *.{} needs dns-01, not {}", endpoint,
                                                        authz->identifier, type));
      const Challenge* challenge = authz->challenge(type);
      if (!challenge)
        co_return fail(Errc::acme, fmt::format("acme: get-authorization {}: the CA offers no {} challenge for {}",
                                               authz_url, type, authz->identifier));
      auto key_authz = client_.key_authorization(challenge->token);
      if (!key_authz) co_return tl::unexpected(key_authz.error());
      PublishedAnswer answer{chosen, authz->identifier, challenge->token, *key_authz};
      if (chosen == ChallengeType::http01) {
        board.put_http01(answer.key, answer.value);
      } else {
        answer.key = request.dns01_owner ? request.dns01_owner(authz->identifier)
                                         : "_acme-challenge." + authz->identifier;
        answer.value = dns01_txt_value(*key_authz);
        board.put_dns01(answer.key, answer.value);
      }
      pending.push_back({std::move(answer), authz_url, type, challenge->url, challenge->status == "pending"});
    }
    if (request.publish && !pending.empty()) {
      std::vector<PublishedAnswer> answers;
      for (const auto& p : pending) answers.push_back(p.answer);
      if (auto published = request.publish(answers); !published)
        co_return tl::unexpected(published.error().with_context(fmt::format("issue {}: publish answers", endpoint)));
    }
    if (request.before_validation) {
      for (const auto& p : pending) {
        auto visible = co_await request.before_validation(p.answer);
        if (!visible) co_return tl::unexpected(visible.error().with_context(
                          fmt::format("issue {}: {} answer for {}", endpoint, p.type, p.answer.identifier)));
      }
    }
    std::vector<std::pair<std::string, std::string>> to_wait;  // authorization, challenge type
    for (const auto& p : pending) {
      if (p.respond) {
        auto responded = co_await client_.respond(p.challenge_url);
        if (!responded) co_return tl::unexpected(responded.error());
      }
      to_wait.emplace_back(p.authz_url, p.type);
    }
    for (const auto& [authz_url, type] : to_wait) {
      auto authz = co_await client_.wait_authorization(authz_url);
      if (!authz) co_return tl::unexpected(authz.error());
      if (authz->status != "valid") {
        auto err = validation_error(*authz, type);
        co_await drop_order(pool_, storage_, endpoint);
        co_return tl::unexpected(err);
      }
    }
    auto ready = co_await client_.wait_order(order->url);
    if (!ready) co_return tl::unexpected(ready.error());
    order = std::move(*ready);
    auto status = order->status;
    auto put = co_await persist_status(status);
    if (!put) co_return tl::unexpected(put.error());
  }

  if (order->status == "ready") {
    std::string processing = "processing";
    auto put = co_await persist_status(processing);
    if (!put) co_return tl::unexpected(put.error());
    auto finalized = co_await client_.finalize(*order, certificate_key->get());
    if (!finalized) {
      if (!may_complete_later(finalized.error())) co_await drop_order(pool_, storage_, endpoint);
      co_return tl::unexpected(finalized.error());
    }
    order = std::move(*finalized);
  } else if (order->status == "processing") {
    auto waited = co_await client_.wait_order(order->url);
    if (!waited) co_return tl::unexpected(waited.error());
    order = std::move(*waited);
  }
  if (order->status != "valid") {
    co_await drop_order(pool_, storage_, endpoint);
    if (order->error) co_return tl::unexpected(problem_error("order", order->url, *order->error));
    co_return fail(Errc::acme, fmt::format("acme: order {}: status {}, expected valid", order->url, order->status));
  }
  std::string valid = "valid";
  if (auto put = co_await persist_status(valid); !put) co_return tl::unexpected(put.error());

  auto chain = co_await client_.download_certificate(order->certificate);
  if (!chain) co_return tl::unexpected(chain.error());
  // Parsed once, here: the bundle is what the proxy serves, and its facts are what the row keeps.
  auto bundle = co_await pool_.run([&] {
    return certstore::CertBundle::from_pem(*chain, stored->cert_key_pem, request.source, "acme:" + endpoint);
  });
  if (!bundle) {
    co_return tl::unexpected(bundle.error().with_context("acme: download-certificate " + order->certificate));
  }

  StoredCertificate cert;
  cert.name_key = endpoint;
  cert.endpoint_id = endpoint;
  cert.source = request.source;
  cert.names = names;
  cert.chain_pem = std::move(*chain);
  cert.key_pem = std::move(stored->cert_key_pem);
  cert.set_facts(**bundle);  // serial, validity, the certificate's own names, issuer: read at start
  cert.created_unix = unix_now();
  auto put = co_await pool_.store([&] { return storage_.put_certificate(cert); });
  if (!put) co_return tl::unexpected(put.error().with_context("issue " + endpoint));
  co_await drop_order(pool_, storage_, endpoint);

  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log::acme()->info("issued endpoint={} names={} serial={} not_after={} elapsed_ms={}", endpoint,
                    fmt::join(names, ","), cert.serial_hex, cert.not_after_unix, elapsed.count());
  co_return IssuedCertificate{std::move(cert), std::move(*bundle)};
}

}  // namespace portcullis::acme
