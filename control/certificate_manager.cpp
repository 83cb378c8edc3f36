#include "control/certificate_manager.hpp"

#include <algorithm>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/hostname.hpp"
#include "base/logging.hpp"
#include "certstore/pem.hpp"

namespace portcullis::control {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// With nothing due, the loop still looks again this often (a clock jump, a missed wake).
constexpr std::chrono::minutes idle_recheck{10};
// RFC 9773 §4.3: poll renewalInfo regularly (the CA's Retry-After, when sent, wins if shorter).
constexpr std::chrono::hours ari_poll_interval{6};

bool same_acme(const domain::AcmeConfig& a, const domain::AcmeConfig& b) {
  return a.enabled == b.enabled && a.directory == b.directory && a.ca_bundle == b.ca_bundle && a.email == b.email &&
         a.eab_kid == b.eab_kid && a.eab_hmac_key == b.eab_hmac_key && a.profile == b.profile &&
         a.preferred_chain == b.preferred_chain && a.renew_before_ratio == b.renew_before_ratio;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// The scheduler keeps its state in memory first; a failed write is lost on restart only.
void log_unsaved(const Status& st) {
  if (!st) log::acme()->warn("renewal state not saved error=\"{}\"", st.error().message());
}

// Where the fingerprint of the ACME settings that a failure may depend on is kept.
constexpr const char* acme_settings_key = "acme.settings_fingerprint";

// SHA-256 (hex) over the settings that decide whom we talk to and as which account: a change of
// any of them makes earlier failures meaningless. Hashed so the EAB key is not stored twice.
std::string acme_settings_fingerprint(const domain::AcmeConfig& acme, const std::filesystem::path& ca_bundle) {
  std::string text;
  for (const std::string& part : {acme.directory, ca_bundle.string(), acme.email, acme.eab_kid, acme.eab_hmac_key,
                                  acme.profile}) {
    text += std::to_string(part.size()) + ":" + part + ";";
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  OPENSSL_cleanse(text.data(), text.size());
  return fmt::format("{:02x}", fmt::join(digest, digest + size, ""));
}

bool is_cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

double unit_random() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

CertificateManager::CertificateManager(asio::io_context& control, certstore::Storage& storage,
                                       certstore::ChallengeBoard& challenges, Republish republish)
    : control_(control),
      storage_(storage),
      challenges_(challenges),
      republish_(std::move(republish)),
      timer_(control),
      tasks_(control.get_executor(), log::acme()) {}

CertificateManager::~CertificateManager() = default;

asio::awaitable<void> CertificateManager::shutdown() {
  tasks_.stop();
  co_await tasks_.wait();
}

void CertificateManager::wake() { timer_.cancel(); }

Status CertificateManager::configure(const domain::Config& config) {
  if (!config.acme.enabled) {
    if (!managed_.empty()) log::acme()->info("acme disabled: managed certificates are no longer renewed");
    managed_.clear();
    return {};
  }
  if (!acme_ || !same_acme(acme_config_, config.acme)) {
    acme::AcmeClientOptions options;
    options.directory_url = config.acme.directory;
    options.ca_bundle = config.acme.ca_bundle.empty() ? std::filesystem::path() : config.resolve(config.acme.ca_bundle);
    options.email = config.acme.email;
    options.eab_kid = config.acme.eab_kid;
    options.eab_hmac_key = config.acme.eab_hmac_key;
    options.profile = config.acme.profile;
    options.preferred_chain = config.acme.preferred_chain;
    auto client = acme::AcmeClient::create(control_.get_executor(), options, storage_);
    if (!client) return tl::unexpected(client.error().with_context("acme"));
    auto session = std::make_shared<AcmeSession>();
    session->client = std::move(*client);
    session->issuer = std::make_unique<acme::Issuer>(*session->client, storage_, challenges_);
    // An issuance in flight runs on to its end on the session it started with (its task holds
    // it); the previous ARI poll ends now, and the previous session with the last of them.
    if (ari_task_) tasks_.cancel(*ari_task_);
    acme_ = std::move(session);
    // One scheduler for the manager's lifetime: it knows which endpoints are in flight, so a new
    // CA configured mid-issuance cannot start a second order for the same names.
    if (!scheduler_) {
      acme::RenewalPolicy policy;
      policy.renew_before_ratio = config.acme.renew_before_ratio;
      scheduler_ = std::make_unique<acme::RenewalScheduler>(storage_, policy, [] { return acme::Clock::now(); },
                                                            unit_random);
      if (auto st = scheduler_->load(); !st) return st;
    } else if (config.acme.renew_before_ratio != acme_config_.renew_before_ratio) {
      log::acme()->warn("acme.renew_before_ratio changed: the new ratio applies after a restart");
    }
    acme_config_ = config.acme;
    // A new client starts a new ARI poll.
    ari_task_ = tasks_.spawn("ari", ari_loop(acme_));
  }

  auto stored = storage_.load_certificates();
  if (!stored) return tl::unexpected(stored.error());
  std::map<std::string, domain::EndpointConfig> next;
  for (const auto& ep : config.endpoints) {
    if (!ep.managed_https) continue;
    if (std::any_of(ep.hostnames.begin(), ep.hostnames.end(), [](const auto& n) { return base::is_wildcard(n); })) {
      log::acme()->warn("endpoint not managed endpoint={} reason=\"a wildcard name needs DNS-01\"", ep.id);
      continue;
    }
    next[ep.id] = ep;
  }
  for (const auto& [id, ep] : managed_) {
    if (!next.contains(id)) scheduler_->forget(id);
  }
  for (const auto& [id, ep] : next) {
    std::optional<acme::CertificateLifetime> lifetime;
    for (const auto& cert : *stored) {
      if (cert.source != certstore::CertSource::managed || cert.name_key != id) continue;
      // A certificate for another set of names than the endpoint has now is due at once.
      if (sorted(cert.names) != sorted(ep.hostnames)) break;
      auto facts = acme::leaf_facts(cert.chain_pem);
      if (!facts) break;
      lifetime = acme::CertificateLifetime{acme::Clock::from_time_t(facts->not_before_unix),
                                           acme::Clock::from_time_t(facts->not_after_unix)};
    }
    if (auto st = scheduler_->track(id, lifetime); !st) return st;
  }
  managed_ = std::move(next);
  if (auto st = reset_backoff_on_new_settings(config); !st) return st;
  log::acme()->info("managing endpoints={} directory={}", managed_.size(), acme_config_.directory);
  if (!loop_running_) {
    loop_running_ = tasks_.spawn("schedule", schedule_loop()).has_value();
  } else {
    wake();
  }
  return {};
}

Status CertificateManager::reset_backoff_on_new_settings(const domain::Config& config) {
  const auto ca_bundle = config.acme.ca_bundle.empty() ? std::filesystem::path() : config.resolve(config.acme.ca_bundle);
  const auto fingerprint = acme_settings_fingerprint(config.acme, ca_bundle);
  auto stored = storage_.get_value(acme_settings_key);
  if (!stored) return tl::unexpected(stored.error());
  if (*stored && (*stored)->reveal() == fingerprint) return {};
  // Unknown before (a first start, or a store from an older build): nothing to compare with, and
  // a failure backoff from before is as likely to be stale as not. Reset it too.
  auto reset = scheduler_->reset_backoff();
  if (!reset) return tl::unexpected(reset.error());
  if (*reset > 0) {
    log::acme()->info("acme settings changed: failure backoff reset endpoints={} directory={}", *reset,
                      config.acme.directory);
  }
  return storage_.put_value(acme_settings_key, base::SecretBytes(fingerprint));
}

asio::awaitable<void> CertificateManager::schedule_loop() {
  for (;;) {
    if (scheduler_) {
      for (auto& id : scheduler_->take_due()) {
        auto name = "issue " + id;
        tasks_.spawn(std::move(name), issue_one(std::move(id), acme_));
      }
    }
    auto now = acme::Clock::now();
    auto next = scheduler_ ? scheduler_->next_due() : std::nullopt;
    auto wait = next ? std::max(std::chrono::duration_cast<std::chrono::milliseconds>(*next - now),
                                std::chrono::milliseconds(0))
                     : std::chrono::duration_cast<std::chrono::milliseconds>(idle_recheck);
    wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(idle_recheck));
    timer_.expires_after(wait);
    co_await timer_.async_wait(use_tuple);  // aborted by wake(): look again at once
    const auto state = co_await asio::this_coro::cancellation_state;
    if (is_cancelled(state)) co_return;  // aborted by shutdown()
  }
}

asio::awaitable<void> CertificateManager::issue_one(std::string endpoint_id, std::shared_ptr<AcmeSession> acme) {
  auto it = managed_.find(endpoint_id);
  if (it == managed_.end()) {
    scheduler_->forget(endpoint_id);
    co_return;
  }
  acme::IssueRequest request;
  request.endpoint_id = endpoint_id;
  request.names = it->second.hostnames;
  request.challenge = acme::ChallengeType::http01;
  // A renewal names the certificate it replaces (RFC 9773 §5); sent only if the CA offers ARI.
  if (auto current = stored_managed(endpoint_id)) {
    if (auto chain = certstore::pem::parse_chain(current->chain_pem); chain && !chain->empty()) {
      if (auto id = acme::ari_certificate_id(chain->front().get())) request.replaces = *id;
    }
  }
  auto started = std::chrono::steady_clock::now();
  log::acme()->info("issuance started endpoint={} names={}", endpoint_id, fmt::join(request.names, ","));
  auto result = co_await acme->issuer->issue(std::move(request));
  // An issuance started on a previous CA configuration still reports to the same scheduler: its
  // certificate (already stored by the issuer) is as valid as any.
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  const auto state = co_await asio::this_coro::cancellation_state;
  if (!result && (result.error().code() == Errc::cancelled || is_cancelled(state))) {
    // Shutdown: not the CA's failure, so no backoff; the issuer kept the order row for the next start.
    log::acme()->info("issuance stopped endpoint={} elapsed_ms={} reason=\"{}\"", endpoint_id, elapsed.count(),
                      result.error().message());
    co_return;
  }
  if (!result) {
    ++stats_.failed;
    log::acme()->error("issuance failed endpoint={} elapsed_ms={} error=\"{}\"", endpoint_id, elapsed.count(),
                       result.error().message());
    log_unsaved(scheduler_->failed(endpoint_id, result.error().message()));
    wake();
    co_return;
  }
  ++stats_.issued;
  // The endpoint stays in flight until the scheduler hears succeeded() or failed(): without one of
  // them it would never be renewed again.
  if (auto facts = acme::leaf_facts(result->chain_pem)) {
    log_unsaved(scheduler_->succeeded(endpoint_id, {acme::Clock::from_time_t(facts->not_before_unix),
                                                    acme::Clock::from_time_t(facts->not_after_unix)}));
  } else {
    log::acme()->error("issued certificate unreadable endpoint={} error=\"{}\"", endpoint_id,
                       facts.error().message());
    log_unsaved(scheduler_->failed(endpoint_id, facts.error().message()));
  }
  if (auto st = republish_(); !st) {
    log::acme()->error("certificate stored but not published endpoint={} error=\"{}\"", endpoint_id,
                       st.error().message());
  } else {
    log::acme()->info("certificate issued endpoint={} serial={} not_after={} elapsed_ms={} swapped=true", endpoint_id,
                      result->serial_hex, result->not_after_unix, elapsed.count());
  }
  wake();
}

std::optional<certstore::StoredCertificate> CertificateManager::stored_managed(const std::string& endpoint_id) {
  auto stored = storage_.get_certificate(endpoint_id);  // managed certificates are keyed by endpoint id
  if (!stored) {
    log::acme()->warn("stored certificate unreadable endpoint={} error=\"{}\"", endpoint_id, stored.error().message());
    return std::nullopt;
  }
  if (!*stored || (*stored)->source != certstore::CertSource::managed || (*stored)->removed_unix != 0)
    return std::nullopt;
  return std::move(**stored);
}

asio::awaitable<void> CertificateManager::ari_loop(std::shared_ptr<AcmeSession> acme) {
  asio::steady_timer timer(control_);
  for (;;) {
    auto wait = std::chrono::duration_cast<std::chrono::seconds>(ari_poll_interval);
    std::vector<std::string> ids;
    for (const auto& entry : managed_) ids.push_back(entry.first);
    for (const auto& id : ids) {
      auto cert = stored_managed(id);
      if (!cert) continue;
      auto info = co_await acme->client->renewal_info(cert->chain_pem);
      const auto state = co_await asio::this_coro::cancellation_state;
      if (is_cancelled(state)) co_return;  // a new session took over, or shutdown
      if (!info) {
        if (info.error().code() == Errc::not_found) {
          log::acme()->info("the CA offers no renewal information (ARI): renewing by certificate lifetime");
          co_return;
        }
        log::acme()->warn("renewal information failed endpoint={} error=\"{}\"", id, info.error().message());
        continue;
      }
      if (info->retry_after) wait = std::min(wait, *info->retry_after);
      if (scheduler_) {
        auto st = scheduler_->set_renewal_window(id, info->window_start, info->window_end);
        // not_found: the endpoint stopped being managed while the CA answered.
        if (!st && st.error().code() != Errc::not_found) log_unsaved(st);
      }
    }
    wake();
    timer.expires_after(std::max(wait, std::chrono::seconds(60)));
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) co_return;  // the timer is this task's own: aborted only by its cancellation
  }
}

}  // namespace portcullis::control
