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
#include "domain/platform_certificate.hpp"

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

// Whether two name lists hold the same set of names. Copies nothing when both are already sorted
// without repeats (one name, or what a store row and an endpoint usually hold).
bool same_names(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  auto plain = [](const std::vector<std::string>& v) {
    return std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end();
  };
  if (plain(a) && plain(b)) return a == b;
  return sorted(a) == sorted(b);
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

// What the certificate managed under `endpoint_id` is: the platform wildcard is served as the
// fallback, every other one as managed.
certstore::CertSource managed_source(const std::string& endpoint_id) {
  return domain::is_platform_certificate(endpoint_id) ? certstore::CertSource::fallback
                                                      : certstore::CertSource::managed;
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
                                       base::BlockingPool& pool, certstore::ChallengeBoard& challenges,
                                       CertCatalog& catalog)
    : control_(control),
      storage_(storage),
      pool_(pool),
      challenges_(challenges),
      catalog_(catalog),
      timer_(control),
      tasks_(control.get_executor(), log::acme()) {}

CertificateManager::~CertificateManager() = default;

CertificateManager::EndpointStatus CertificateManager::status(const std::string& endpoint_id) const {
  EndpointStatus out;
  out.managed = managed_.count(endpoint_id) > 0 && scheduler_ != nullptr;
  if (!out.managed) return out;
  out.in_flight = scheduler_->in_flight(endpoint_id);
  out.renewal = scheduler_->state(endpoint_id);
  if (auto it = challenge_choices_.find(endpoint_id); it != challenge_choices_.end()) out.challenge = it->second;
  if (auto it = last_failure_.find(endpoint_id); it != last_failure_.end()) out.last_failure = it->second;
  return out;
}

std::vector<std::string> CertificateManager::managed_ids() const {
  std::vector<std::string> ids;
  if (!scheduler_) return ids;
  for (const auto& entry : managed_) ids.push_back(entry.first);
  return ids;
}

Status CertificateManager::renew_now(const std::string& endpoint_id, bool force) {
  if (!scheduler_ || !managed_.count(endpoint_id)) {
    return fail(Errc::not_found, "endpoint " + endpoint_id + " has no managed certificate (managed_https off, no "
                                 "[acme], or a wildcard without [dns])");
  }
  if (auto st = scheduler_->renew_now(endpoint_id, force); !st) return st;
  log::acme()->info("renewal requested endpoint={} force={}", endpoint_id, force);
  wake();
  return {};
}

asio::awaitable<void> CertificateManager::shutdown() {
  tasks_.stop();
  co_await tasks_.wait();
}

void CertificateManager::wake() { timer_.cancel(); }

void CertificateManager::adopt_renewal_states(std::vector<certstore::RenewalState> states) {
  if (!scheduler_) stored_states_ = std::move(states);
}

Status CertificateManager::configure(const domain::Config& config) {
  if (!config.acme.enabled) {
    if (!managed_.empty()) log::acme()->info("acme disabled: managed certificates are no longer renewed");
    managed_.clear();
    attempts_.clear();
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
    options.request_counts = &acme_requests_;
    auto client = acme::AcmeClient::create(control_.get_executor(), options, storage_, pool_);
    if (!client) return tl::unexpected(client.error().with_context("acme"));
    auto session = std::make_shared<AcmeSession>();
    session->client = std::move(*client);
    session->issuer = std::make_unique<acme::Issuer>(*session->client, storage_, challenges_, pool_);
    // An issuance in flight runs on to its end on the session it started with (its task holds
    // it); the previous ARI poll ends now, and the previous session with the last of them.
    if (ari_task_) tasks_.cancel(*ari_task_);
    acme_ = std::move(session);
    directory_caa_identities_.clear();
    account_url_.clear();
    // One scheduler for the manager's lifetime: it knows which endpoints are in flight, so a new
    // CA configured mid-issuance cannot start a second order for the same names.
    if (!scheduler_) {
      acme::RenewalPolicy policy;
      policy.renew_before_ratio = config.acme.renew_before_ratio;
      scheduler_ = std::make_unique<acme::RenewalScheduler>(storage_, policy, [] { return acme::Clock::now(); },
                                                            unit_random);
      if (stored_states_) {
        scheduler_->adopt(std::move(*stored_states_));
        stored_states_.reset();
      } else if (auto st = scheduler_->load(); !st) {
        return st;
      }
      // From here on the scheduler's writes queue on the store lane (write-behind, see renewal.hpp).
      scheduler_->set_writer([&pool = pool_, &storage = storage_](const certstore::RenewalState& state) {
        pool.post_store([&storage, state] {
          auto put = storage.put_renewal_state(state);
          if (!put) {
            log_unsaved(tl::unexpected(put.error().with_context("renewal: store state for " + state.endpoint_id)));
          }
        });
        return Status{};
      });
    } else if (config.acme.renew_before_ratio != acme_config_.renew_before_ratio) {
      log::acme()->warn("acme.renew_before_ratio changed: the new ratio applies after a restart");
    }
    acme_config_ = config.acme;
    // A new client starts a new ARI poll, and a look at whether the failures so far were seen with
    // other settings.
    ari_task_ = tasks_.spawn("ari", ari_loop(acme_));
    auto fingerprint = acme_settings_fingerprint(config.acme, options.ca_bundle);
    tasks_.spawn("acme settings", reset_backoff_on_new_settings(std::move(fingerprint), config.acme.directory));
  }

  // Takes effect at once: a lower bound lets the orders running end, a higher one starts more.
  max_orders_ = std::max<std::size_t>(1, config.acme.max_concurrent_orders);
  acme_config_.max_concurrent_orders = config.acme.max_concurrent_orders;

  std::map<std::string, domain::EndpointConfig> next;
  for (const auto& ep : config.endpoints) {
    if (!ep.managed_https) continue;
    const bool dns01 = planner_ && planner_->uses_dns();
    if (!dns01 && std::any_of(ep.hostnames.begin(), ep.hostnames.end(), [](const auto& n) { return base::is_wildcard(n); })) {
      log::acme()->warn("endpoint not managed endpoint={} reason=\"a wildcard name needs DNS-01\"", ep.id);
      continue;
    }
    next[ep.id] = ep;
  }
  // The platform's own wildcard, ordered over DNS-01 in our zone like any endpoint's certificate
  // (not when tls.fallback_cert is configured: the operator's own fallback wins).
  if (auto platform = domain::platform_certificate(config); platform && planner_ && planner_->uses_dns()) {
    next[platform->id] = *platform;
  }
  for (const auto& [id, ep] : managed_) {
    if (!next.contains(id)) scheduler_->forget(id);
  }
  for (const auto& [id, ep] : next) {
    std::optional<acme::CertificateLifetime> lifetime;
    // Managed certificates are stored under the endpoint id. One for another set of names than
    // the endpoint has now is due at once.
    const auto* cert = catalog_.stored(id);
    if (cert && cert->bundle->source() == managed_source(id) && same_names(cert->names, ep.hostnames)) {
      lifetime = acme::CertificateLifetime{cert->bundle->not_before(), cert->bundle->not_after()};
    }
    if (auto st = scheduler_->track(id, lifetime); !st) return st;
  }
  managed_ = std::move(next);
  std::erase_if(attempts_, [this](const auto& entry) { return !managed_.contains(entry.first); });
  const bool platform = managed_.contains(std::string(domain::platform_certificate_id));
  log::acme()->info("managing endpoints={} platform_wildcard={} directory={}", managed_.size() - (platform ? 1 : 0),
                    platform ? "ordered" : "no", acme_config_.directory);
  if (!loop_running_) {
    loop_running_ = tasks_.spawn("schedule", schedule_loop()).has_value();
  } else {
    wake();
  }
  return {};
}

asio::awaitable<void> CertificateManager::reset_backoff_on_new_settings(std::string fingerprint,
                                                                       std::string directory) {
  auto stored = co_await pool_.store([&] { return storage_.get_value(acme_settings_key); });
  if (!stored) {
    log::acme()->error("acme settings not compared error=\"{}\"", stored.error().message());
    co_return;
  }
  if (*stored && (*stored)->reveal() == fingerprint) co_return;
  // Unknown before (a first start, or a store from an older build): nothing to compare with, and
  // a failure backoff from before is as likely to be stale as not. Reset it too.
  auto reset = scheduler_->reset_backoff();
  if (!reset) {
    log::acme()->error("failure backoff not reset error=\"{}\"", reset.error().message());
    co_return;
  }
  if (*reset > 0) {
    log::acme()->info("acme settings changed: failure backoff reset endpoints={} directory={}", *reset, directory);
    wake();
  }
  auto put =
      co_await pool_.store([&] { return storage_.put_value(acme_settings_key, base::SecretBytes(fingerprint)); });
  if (!put) log::acme()->warn("acme settings not saved error=\"{}\"", put.error().message());
}

asio::awaitable<void> CertificateManager::schedule_loop() {
  for (;;) {
    // At most max_concurrent_orders issuances at once: a renewal storm (a restart after an
    // outage, a CA's mass revocation) becomes a steady flow the CA and the control loop can take.
    // The rest stay due; each issuance that ends wakes the loop to start the next.
    const std::size_t room = max_orders_ > orders_running_ ? max_orders_ - orders_running_ : 0;
    if (scheduler_ && room > 0) {
      for (auto& id : scheduler_->take_due(room)) {
        auto name = "issue " + id;
        ++orders_running_;
        tasks_.spawn(std::move(name), run_order(std::move(id), acme_));
      }
    }
    auto now = acme::Clock::now();
    // Full: nothing can start before an issuance ends, and that wakes the loop.
    auto next = scheduler_ && orders_running_ < max_orders_ ? scheduler_->next_due() : std::nullopt;
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

asio::awaitable<void> CertificateManager::run_order(std::string endpoint_id, std::shared_ptr<AcmeSession> acme) {
  co_await issue_one(std::move(endpoint_id), std::move(acme));
  // Not reached when the task is cancelled at shutdown: nothing starts afterwards anyway.
  --orders_running_;
  wake();
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
  request.source = managed_source(endpoint_id);
  // A renewal names the certificate it replaces (RFC 9773 §5); sent only if the CA offers ARI.
  if (auto current = managed_bundle(endpoint_id)) {
    if (auto id = acme::ari_certificate_id(current->leaf())) request.replaces = *id;
  }
  auto started = std::chrono::steady_clock::now();
  if (planner_) {
    // Which challenge proves each name, from the customer's DNS as a CA's resolver sees it now.
    // When a name can be proved by neither, no order is placed (a failed validation counts
    // against the CA's limits): the endpoint waits and is looked at again 10 s later, doubling.
    domain::EndpointConfig endpoint = it->second;
    auto decision = co_await planner_->decide(std::move(endpoint));
    if (managed_.find(endpoint_id) == managed_.end()) {
      scheduler_->forget(endpoint_id);
      co_return;
    }
    if (!decision.ready) {
      // The endpoint's summary, then each waiting name's own words: the record to create and what
      // was found in its place.
      std::string reason = decision.reason;
      for (const auto& h : decision.hostnames)
        if (h.choice == domain::ChallengeChoice::wait) reason += "; " + h.hostname + ": " + h.reason;
      const unsigned waits = ++waits_[endpoint_id];
      const auto delay = domain::recheck_delay(waits);
      log::acme()->warn("issuance waiting endpoint={} recheck_in_s={} reason=\"{}\"", endpoint_id, delay.count(),
                        reason);
      challenge_choices_[endpoint_id] = "waiting: " + reason;
      log_unsaved(scheduler_->postpone(endpoint_id, delay, std::move(reason)));
      wake();
      co_return;
    }
    // CAA (RFC 8659) before any order: a name whose CAA forbids our CA would fail at the CA and
    // count against its limits. It waits like a missing record, rechecked after the same delay.
    auto forbidden = co_await check_caa(endpoint_id, acme, decision);
    if (!forbidden.empty()) {
      const unsigned waits = ++waits_[endpoint_id];
      const auto delay = domain::recheck_delay(waits);
      log::acme()->warn("issuance waiting endpoint={} recheck_in_s={} reason=\"{}\"", endpoint_id, delay.count(),
                        forbidden);
      challenge_choices_[endpoint_id] = "waiting: " + forbidden;
      log_unsaved(scheduler_->postpone(endpoint_id, delay, std::move(forbidden)));
      wake();
      co_return;
    }
    if (managed_.find(endpoint_id) == managed_.end()) {
      scheduler_->forget(endpoint_id);
      co_return;
    }
    waits_.erase(endpoint_id);
    // Which challenge, and why, per name: the decision's own words ("external endpoint with an
    // IP allowlist: ...; DNS-01: ... CNAME is verified").
    std::string why;
    for (const auto& h : decision.hostnames) why += (why.empty() ? "" : "; ") + h.hostname + ": " + h.reason;
    challenge_choices_[endpoint_id] = why.empty() ? decision.reason : decision.reason + " (" + why + ")";
    log::acme()->info("challenges chosen endpoint={} {} reason=\"{}\"", endpoint_id, decision.reason, why);
    planner_->apply(it->second, decision, request);
  }
  if (!planner_) challenge_choices_[endpoint_id] = "http-01 for every name (no [dns]: HTTP-01 is the only challenge)";
  log::acme()->info("issuance started endpoint={} names={}", endpoint_id, fmt::join(request.names, ","));
  ++attempts_[endpoint_id].attempts;
  auto result = co_await acme->issuer->issue(std::move(request));
  if (planner_) planner_->withdraw(endpoint_id);
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
    if (managed_.contains(endpoint_id)) ++attempts_[endpoint_id].failures;
    log::acme()->error("issuance failed endpoint={} elapsed_ms={} error=\"{}\"", endpoint_id, elapsed.count(),
                       result.error().message());
    log_unsaved(scheduler_->failed(endpoint_id, result.error().message()));
    const auto code = result.error().code();
    last_failure_[endpoint_id] = code;
    if (code == Errc::network || code == Errc::timeout) {
      ca_unreachable_ = result.error().message();
    } else if (code == Errc::acme) {
      ca_unreachable_.clear();  // the CA answered
    }
    if (on_change_) on_change_(endpoint_id);
    wake();
    co_return;
  }
  ++stats_.issued;
  // The endpoint stays in flight until the scheduler hears succeeded() or failed(): without one of
  // them it would never be renewed again. The bundle was parsed once, by the issuer.
  const auto& bundle = result->bundle;
  log_unsaved(scheduler_->succeeded(endpoint_id, {bundle->not_before(), bundle->not_after()}));
  last_failure_.erase(endpoint_id);
  ca_unreachable_.clear();
  const auto& stored = result->stored;
  // publish_ms: the publish step alone (the SNI index change and what observes it), on this thread.
  const auto publishing = std::chrono::steady_clock::now();
  if (auto st = catalog_.put_stored(stored.name_key, {stored.endpoint_id, stored.names, bundle, nullptr}); !st) {
    log::acme()->error("certificate stored but not published endpoint={} error=\"{}\"", endpoint_id,
                       st.error().message());
  } else {
    const std::chrono::duration<double, std::milli> publish = std::chrono::steady_clock::now() - publishing;
    log::acme()->info("certificate issued endpoint={} serial={} not_after={} elapsed_ms={} swapped=true "
                      "publish_ms={:.2f}",
                      endpoint_id, stored.serial_hex, stored.not_after_unix, elapsed.count(), publish.count());
  }
  if (on_change_) on_change_(endpoint_id);
  wake();
}

asio::awaitable<std::string> CertificateManager::check_caa(std::string endpoint_id, std::shared_ptr<AcmeSession> acme,
                                                           domain::EndpointDecision decision) {
  // The CA's identities from its directory, and our account URL (RFC 8657 accounturi): both
  // cached by the client, and needed by the order that follows anyway.
  auto directory = co_await acme->client->directory();
  if (directory && acme == acme_) directory_caa_identities_ = directory->caa_identities;
  auto account = co_await acme->client->account();
  if (account && acme == acme_) account_url_ = account->url;
  auto it = managed_.find(endpoint_id);
  if (it == managed_.end()) co_return std::string();
  domain::EndpointConfig endpoint = it->second;
  auto findings = co_await planner_->check_caa(std::move(endpoint), std::move(decision), caa_context());
  if (!findings) {
    // The CA looks for itself; a resolver failure here is no reason to hold the order back.
    log::acme()->warn("caa not checked endpoint={} error=\"{}\"", endpoint_id, findings.error().message());
    co_return std::string();
  }
  std::string reason;
  for (const auto& f : *findings)
    reason += (reason.empty() ? "" : "; ") + fmt::format("CAA forbids our CA for {}: {}. {}", f.subject, f.found, f.fix);
  if (alerts_) alerts_->report("monitor.caa", endpoint_id, std::move(*findings));
  co_return reason;
}

CertificateManager::RenewalDates CertificateManager::renewal_dates(const std::string& endpoint_id) const {
  RenewalDates dates;
  if (auto bundle = managed_bundle(endpoint_id)) dates.not_after = bundle->not_after();
  if (scheduler_) {
    if (auto window = scheduler_->renewal_window(endpoint_id)) dates.ari_window_start = window->first;
  }
  return dates;
}

domain::CaaContext CertificateManager::caa_context() const {
  domain::CaaContext caa;
  caa.ca_identities = directory_caa_identities_.empty() ? acme_config_.caa_identities : directory_caa_identities_;
  caa.account_uri = account_url_;
  return caa;
}

certstore::CertBundlePtr CertificateManager::managed_bundle(const std::string& endpoint_id) const {
  const auto* cert = catalog_.stored(endpoint_id);  // managed certificates are keyed by endpoint id
  if (!cert || cert->bundle->source() != managed_source(endpoint_id)) return nullptr;
  return cert->bundle;
}

asio::awaitable<void> CertificateManager::ari_loop(std::shared_ptr<AcmeSession> acme) {
  asio::steady_timer timer(control_);
  for (;;) {
    auto wait = std::chrono::duration_cast<std::chrono::seconds>(ari_poll_interval);
    std::vector<std::string> ids;
    for (const auto& entry : managed_) ids.push_back(entry.first);
    // One line per failure would be one per endpoint when the CA is down: the first failure of a
    // pass is logged whole, the others are counted in one line at the pass's end. A CA that cannot
    // be reached ends the pass (the next poll tries again) instead of being asked once per endpoint.
    std::size_t failed = 0, skipped = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto& id = ids[i];
      auto cert = managed_bundle(id);
      if (!cert) continue;
      auto info = co_await acme->client->renewal_info(cert);
      const auto state = co_await asio::this_coro::cancellation_state;
      if (is_cancelled(state)) co_return;  // a new session took over, or shutdown
      if (!info) {
        if (info.error().code() == Errc::not_found) {
          log::acme()->info("the CA offers no renewal information (ARI): renewing by certificate lifetime");
          co_return;
        }
        if (failed++ == 0) {
          log::acme()->warn("renewal information failed endpoint={} error=\"{}\"", id, info.error().message());
        }
        if (info.error().code() == Errc::network || info.error().code() == Errc::timeout) {
          skipped = ids.size() - i - 1;
          break;
        }
        continue;
      }
      if (info->retry_after) wait = std::min(wait, *info->retry_after);
      if (scheduler_) {
        auto st = scheduler_->set_renewal_window(id, info->window_start, info->window_end);
        // not_found: the endpoint stopped being managed while the CA answered.
        if (!st && st.error().code() != Errc::not_found) log_unsaved(st);
      }
    }
    if (failed > 1 || skipped > 0) {
      log::acme()->warn("renewal information failed endpoints={} not_asked={} (the first failure is logged above; "
                        "the next poll tries again)",
                        failed, skipped);
    }
    wake();
    timer.expires_after(std::max(wait, std::chrono::seconds(60)));
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) co_return;  // the timer is this task's own: aborted only by its cancellation
  }
}

}  // namespace portcullis::control
