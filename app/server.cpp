#include "app/server.hpp"

#include <csignal>
#include <thread>

#include <fmt/ranges.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "admin/admin_tls.hpp"
#include "admin/token.hpp"
#include "app/demo_upstream.hpp"
#include "app/file_limit.hpp"
#include "base/logging.hpp"
#include "certstore/sqlite_storage.hpp"
#include "control/reload.hpp"
#include "dns/resolver_address.hpp"

namespace portcullis::app {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// How often the drain loop looks at the in-flight request count.
constexpr std::chrono::milliseconds drain_poll_interval{20};
// How long the background tasks (issuances, renewal loop) get to end once cancelled. They end at
// their next step, within milliseconds; the bound keeps a stuck one from holding the process.
constexpr std::chrono::seconds background_stop_deadline{5};
// The monitor's pool: DNS checks at once, each a few blocking queries.
constexpr std::size_t monitor_threads = 4;
// Per attempt (two attempts): a check stops at its first failed query, so it ends within 2 s.
constexpr std::chrono::milliseconds monitor_query_timeout{1'000};

// The snapshots the workers let go are freed on the control thread (Published::set_reclaimer):
// freeing a table of 100,000 entries takes tens of milliseconds, which a worker would otherwise
// spend between two handshakes. After the drain the control loop no longer runs: what is posted
// then is freed with it.
template <class T>
void reclaim_on(base::Published<T>& published, asio::io_context& control) {
  published.set_reclaimer([executor = control.get_executor()](std::shared_ptr<const T> snapshot) {
    asio::post(executor, [snapshot = std::move(snapshot)] {});
  });
}

}  // namespace

void ConfigOverrides::apply(domain::Config& config) const {
  if (!acme_directory.empty()) {
    config.acme.enabled = true;
    config.acme.directory = acme_directory;
  }
  if (!acme_ca_bundle.empty()) config.acme.ca_bundle = acme_ca_bundle;
}

Server::Server(domain::Config config, ConfigOverrides overrides)
    : config_(std::move(config)), overrides_(std::move(overrides)) {
  overrides_.apply(config_);
}

Server::~Server() {
  for (auto& w : workers_) w->stop();
  for (auto& w : workers_) w->join();
}

Status Server::start() {
  if (auto st = log::set_level(config_.server.log_level); !st) return st;
  if (auto st = log::set_format(config_.server.log_format); !st) return st;
  const auto files = raise_open_file_limit();
  if (files.error.empty()) {
    log::proxy()->info("open file limit soft={} hard={} was={}", files.soft, files.hard, files.before);
  } else {
    log::proxy()->warn("open file limit soft={} hard={}: not raised: {}", files.soft, files.hard, files.error);
  }
  fs::path data_dir = config_.resolve(config_.server.data_dir);
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) return fail(Errc::io, data_dir.string() + ": " + ec.message());
  fs::permissions(data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  auto lock = base::DataDirLock::acquire(data_dir);
  if (!lock) return tl::unexpected(lock.error());
  data_lock_.emplace(std::move(*lock));

  auto storage = certstore::SqliteStorage::open(data_dir / "portcullis.db");
  if (!storage) return tl::unexpected(storage.error());
  storage_ = std::move(*storage);
  reclaim_on(shared_.certs, control_);
  reclaim_on(shared_.routes, control_);
  reclaim_on(shared_.challenges, control_);

  // The endpoints created through the admin API are served with the file's from the start: the
  // catalog withdraws the stored certificates of endpoints it is not given.
  endpoints_ = std::make_unique<control::EndpointService>(*storage_, pool_, control_.get_executor());
  if (auto st = endpoints_->load(); !st) return st;
  endpoints_->set_aside_clashes(config_.endpoints);
  auto merged = endpoints_->merge(config_.endpoints);
  if (!merged) return tl::unexpected(merged.error());
  endpoints_->set_file_endpoints(config_.endpoints);
  endpoints_->set_rules(domain::endpoint_rules(config_));
  config_.endpoints = std::move(*merged);
  endpoints_->set_apply([this](std::vector<domain::EndpointConfig> endpoints) {
    return apply_endpoints(std::move(endpoints));
  });

  timeline_ = std::make_unique<control::CertTimeline>(*storage_, pool_);
  if (auto st = timeline_->load(); !st) return st;
  timeline_endpoints_ = &config_.endpoints;
  catalog_ = std::make_unique<control::CertCatalog>(control_, *storage_, pool_, shared_.certs);
  // One issued or removed certificate: only its names are looked at (O(1) per publish); a
  // rebuild: every endpoint's hostnames.
  catalog_->set_on_publish([this](const certstore::CertSnapshot& snapshot, const std::vector<std::string>* changed) {
    if (changed && timeline_endpoints_ == &config_.endpoints) {
      timeline_->observe_changed(snapshot, *changed, certstore::Clock::now());
    } else {
      timeline_->observe(snapshot, *timeline_endpoints_, certstore::Clock::now());
    }
  });
  if (auto st = catalog_->start(config_); !st) return st;
  transitional_ = std::make_unique<control::TransitionalCertificates>(*storage_, pool_, *catalog_);
  shared_.routes.publish(std::make_shared<const proxy::RouteTable>(config_.endpoints, config_.limits,
                                                                   domain::endpoint_rules(config_).upstream_deny));
  certificates_ = std::make_unique<control::CertificateManager>(control_, *storage_, pool_, shared_.challenges,
                                                                *catalog_);
  if (config_.dns.enabled) {
    auto resolver = dns::resolver_address(config_.dns);
    if (!resolver) return tl::unexpected(resolver.error().with_context("dns.resolver"));
    control::ChallengePlannerSettings planner;
    planner.zone = config_.dns.zone;
    planner.resolver.address = *resolver;
    planner.external_addresses = config_.dns.external_addresses;
    planner_ = std::make_unique<control::ChallengePlanner>(pool_, std::move(planner), &platform_zone_);
    certificates_->set_challenge_planner(planner_.get());
  }
  // Read here, before the control loop runs, also with ACME off: a reload that turns it on then
  // schedules renewals without a store read on the control thread.
  auto renewal_states = storage_->load_renewal_states();
  if (!renewal_states) return tl::unexpected(renewal_states.error().with_context("renewal: load state"));
  certificates_->adopt_renewal_states(std::move(*renewal_states));
  if (auto st = certificates_->configure(config_); !st) return st;
  if (auto st = start_alerts(); !st) return st;

  // The port the plain listener redirects to: the first https listener of the same scope.
  listeners_.reserve(config_.listeners.size());
  for (const auto& lc : config_.listeners) {
    proxy::ListenerRuntime rt;
    rt.config = lc;
    rt.tls_hooks = proxy::ListenerTls{&shared_.certs, &shared_.routes, lc.scope, proxy::tls_policy(config_.tls)};
    for (const auto& other : config_.listeners) {
      if (other.protocol == domain::Protocol::https && other.scope == lc.scope) {
        rt.redirect_port = other.address.port;
        break;
      }
    }
    listeners_.push_back(std::move(rt));
  }
  for (auto& rt : listeners_) {
    if (rt.config.protocol != domain::Protocol::https) continue;
    auto ctx = proxy::make_server_ctx(&rt.tls_hooks);
    if (!ctx) return tl::unexpected(ctx.error().with_context("listener " + rt.config.name));
    rt.ssl = std::make_shared<asio::ssl::context>(ctx->release());
  }

  // SO_REUSEPORT lets a second process running as the same user bind the same address and take
  // part of the traffic: an address another process listens on is refused here instead.
  for (const auto& lc : config_.listeners) {
    if (auto st = proxy::ensure_not_listened_on(lc); !st) return st;
  }
  unsigned workers = config_.server.workers ? config_.server.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < workers; ++i) {
    auto worker = std::make_unique<proxy::Worker>(i, shared_, listeners_);
    if (auto st = worker->listen(); !st) return st;
    workers_.push_back(std::move(worker));
  }
  if (config_.demo.enabled) {
    if (auto st = start_demo_upstream(control_, config_.demo.listen); !st) return st;
  }
  if (auto st = start_dns(); !st) return st;
  register_metrics();
  start_monitor();
  for (auto& w : workers_) w->start();
  if (auto st = start_admin(); !st) return st;

  for (const auto& lc : config_.listeners) {
    log::proxy()->info("listening name={} address={} protocol={} scope={}", lc.name, lc.address.to_string(),
                       lc.protocol == domain::Protocol::https ? "https" : "http",
                       lc.scope == domain::Scope::external ? "external" : "internal");
  }
  log::proxy()->info("started workers={} endpoints={} certificates={} config={}", workers,
                     config_.endpoints.size(), catalog_->current()->size(), config_.source.string());
  // Certificates read deferred (stored rows, large folders) are parsed in full in the background.
  tasks_.spawn("verify certificates", catalog_->verify_pending());
  return {};
}

Status Server::start_alerts() {
  control::AlertBookOptions options;
  options.keep_resolved = std::chrono::hours(24 * config_.alerts.keep_resolved_days);
  alerts_ = std::make_unique<control::AlertBook>(*storage_, pool_, options);
  if (auto st = alerts_->load(); !st) return st;
  auto hooks = control::Webhooks::create(control_, *storage_, pool_, config_);
  if (!hooks) return tl::unexpected(hooks.error());
  webhooks_ = std::move(*hooks);
  if (auto st = webhooks_->load(); !st) return st;
  alerts_->set_notifier(webhooks_.get());
  // The certificate manager reports what it finds before an order (CAA) to the book too.
  certificates_->set_alert_sink(alerts_.get());
  certificate_alerts_ =
      std::make_unique<control::CertificateAlerts>(control_, *alerts_, *catalog_, *certificates_, *transitional_);
  certificates_->set_on_change([this](const std::string& id) { certificate_alerts_->evaluate(id); });
  certificate_alerts_->configure(config_);
  webhooks_->start();
  certificate_alerts_->start();
  return {};
}

Status Server::start_dns() {
  if (!config_.dns.enabled) return {};
  // The monitor's canaries are answered from the first zone on; its setting is reloaded with it.
  (void)platform_zone_.set_canaries(config_.monitor.enabled);
  if (auto st = platform_zone_.configure(config_.dns, config_.endpoints); !st) return st;
  dns::DnsServerOptions options;
  options.listen = config_.dns.listen;
  options.rate_limit = config_.dns.rate_limit;
  options.tcp_idle_timeout = config_.dns.tcp_idle_timeout;
  options.tcp_max_queries = config_.dns.tcp_max_queries;
  options.tcp_max_connections_per_ip = config_.dns.tcp_max_connections_per_ip;
  dns_server_ = std::make_unique<dns::DnsServer>(platform_zone_.registry(), std::move(options));
  if (auto st = dns_server_->listen(); !st) return st;
  dns_server_->start();
  return {};
}

control::MonitorSettings Server::monitor_settings(const domain::Config& config) {
  control::MonitorSettings settings;
  settings.enabled = config.monitor.enabled;
  settings.check_interval = config.monitor.check_interval;
  settings.pre_renewal_days = config.monitor.pre_renewal_days;
  settings.max_concurrent_checks = monitor_threads;
  return settings;
}

void Server::start_monitor() {
  // [dns] is read at start only: without it there is no zone to check records against.
  if (!config_.dns.enabled) return;
  auto resolver = dns::resolver_address(config_.dns);
  if (!resolver) return;  // start() has refused it already for the planner
  control::DnsChecksSettings checks;
  checks.zone = config_.dns.zone;
  checks.resolver.address = *resolver;
  checks.resolver.timeout = monitor_query_timeout;  // a check in flight ends soon after a drain starts
  checks.external_addresses = config_.dns.external_addresses;
  checks.canary = true;  // the zone answers them whenever the monitor is on
  monitor_checks_ = std::make_unique<control::DnsChecks>(std::move(checks));
  monitor_pool_ = std::make_unique<base::BlockingPool>(monitor_threads);
  monitor_ = std::make_unique<control::Monitor>(control_.get_executor(), *monitor_pool_, *alerts_, *monitor_checks_);
  monitor_->set_dates_source([this](const std::string& id) {
    auto dates = certificates_->renewal_dates(id);
    return control::RenewalDates{dates.not_after, dates.ari_window_start};
  });
  monitor_->set_caa_source([this] { return certificates_->caa_context(); });
  monitor_->configure(monitor_settings(config_), config_.endpoints);
}

Status Server::start_admin() {
  if (!config_.admin.enabled) return {};
  auto token = admin::load_or_create_token(config_);
  if (!token) return tl::unexpected(token.error());
  admin_api_ = std::make_unique<admin::AdminApi>(
      admin::ApiServices{*endpoints_, *transitional_, *certificates_, *catalog_, *timeline_, pool_,
                         [this]() -> std::optional<admin::DnsSettings> {
                           if (!config_.dns.enabled) return std::nullopt;
                           auto resolver = dns::resolver_address(config_.dns);
                           if (!resolver) return std::nullopt;
                           return admin::DnsSettings{config_.dns.zone, *resolver};
                         },
                         [this] { return !shared_.draining.load(); }, &metrics_, config_.admin.metrics_public,
                         alerts_.get(), [this] { certificate_alerts_->evaluate(); },
                         [this] { return config_.limits.renew_now_interval; }, {}});
  auto tls = admin::make_admin_tls(config_);
  if (!tls) return tl::unexpected(tls.error());
  admin::AdminServerOptions options;
  options.listen = config_.admin.listen;
  options.token = std::move(token->value);
  const bool https = *tls != nullptr;
  options.tls = std::move(*tls);
  for (const auto& host : config_.admin.allowed_hosts) {
    if (auto pattern = admin::parse_host(host)) options.allowed_hosts.push_back(*pattern);
  }
  options.max_connections_per_ip = config_.admin.max_connections_per_ip;
  admin_server_ = std::make_unique<admin::AdminServer>(control_, std::move(options), admin_api_->router());
  if (auto st = admin_server_->listen(); !st) return st;
  admin_server_->start();
  if (token->generated) log::admin()->info("generated admin token file={}", token->file.string());
  if (!https && admin::beyond_loopback(config_.admin.listen)) {
    log::admin()->warn("admin API listens beyond loopback without TLS listen={}: the token and every answer "
                       "cross the network in clear; set [admin] cert_file and key_file",
                       config_.admin.listen.to_string());
  }
  log::admin()->info("admin API listening url={}://{} token_file={}", https ? "https" : "http",
                     config_.admin.listen.to_string(),
                     token->file.empty() ? std::string("(admin.token in the configuration)") : token->file.string());
  return {};
}

void Server::request_reload() {
  if (reloading_) {
    reload_again_ = true;
    return;
  }
  // Set first: the task may run up to its first suspension inside spawn(), and a reload that
  // ends there clears it.
  reloading_ = true;
  if (!tasks_.spawn("reload", reload_until_settled())) reloading_ = false;
}

asio::awaitable<void> Server::reload_until_settled() {
  do {
    reload_again_ = false;
    co_await reload();
  } while (reload_again_);
  reloading_ = false;
}

asio::awaitable<void> Server::reload() {
  if (config_.source == "<embedded>") {
    log::proxy()->info("config reloaded source=<embedded> (nothing to re-read)");
    co_return;
  }
  auto next = load_config(config_.source);
  if (!next) {
    log::proxy()->error("reload rejected, previous config stays: {}", next.error().message());
    co_return;
  }
  overrides_.apply(*next);
  // Read at start only. The running values stay, so that nothing is half-applied (a new data_dir
  // would read the default certificate from one folder and the store from another), and the log
  // says which changes wait for a restart.
  auto restart_only = control::keep_start_only(config_, *next);
  // No endpoint change through the admin API between the merge and the apply.
  auto lock = co_await endpoints_->mutex().lock();
  if (!lock) co_return;
  auto file_endpoints = next->endpoints;
  auto merged = endpoints_->merge(next->endpoints);
  if (!merged) {
    log::proxy()->error("reload rejected, previous config stays: {}", merged.error().message());
    co_return;
  }
  next->endpoints = std::move(*merged);
  auto served = co_await apply(std::move(*next));
  if (!served) {
    log::proxy()->error("reload rejected, previous config stays: {}", served.error().message());
    co_return;
  }
  endpoints_->set_file_endpoints(std::move(file_endpoints));
  endpoints_->set_rules(domain::endpoint_rules(config_));
  if (!restart_only.empty()) {
    log::proxy()->warn("changes take effect after a restart settings={}", fmt::join(restart_only, ","));
  }
  log::proxy()->info("config reloaded endpoints={} certificates={}", config_.endpoints.size(), *served);
}

asio::awaitable<Status> Server::apply_endpoints(std::vector<domain::EndpointConfig> endpoints) {
  domain::Config next = config_;
  next.endpoints = std::move(endpoints);
  auto served = co_await apply(std::move(next));
  if (!served) co_return tl::unexpected(served.error());
  log::proxy()->info("endpoints applied endpoints={} certificates={}", config_.endpoints.size(), *served);
  co_return Status{};
}

asio::awaitable<Result<std::size_t>> Server::apply(domain::Config next) {
  // The catalog watches the new folders from now on; a rejected change goes back to the current ones.
  auto prepared = co_await catalog_->prepare(next);
  if (!prepared) {
    catalog_->abandon();
    co_return tl::unexpected(prepared.error());
  }
  if (auto st = certificates_->configure(next); !st) {
    catalog_->abandon();
    co_return tl::unexpected(st.error());
  }
  if (next.server.log_level != config_.server.log_level) (void)log::set_level(next.server.log_level);
  if (next.server.log_format != config_.server.log_format) (void)log::set_format(next.server.log_format);
  // Certificates first: a handshake for a new endpoint must never see its routes without them.
  // What the commit publishes is recorded against the endpoints being applied.
  timeline_endpoints_ = &next.endpoints;
  struct Restore {
    Server& server;
    ~Restore() { server.timeline_endpoints_ = &server.config_.endpoints; }
  } restore{*this};
  auto served = co_await catalog_->commit(std::move(*prepared));
  tasks_.spawn("verify certificates", catalog_->verify_pending());
  shared_.routes.publish(std::make_shared<const proxy::RouteTable>(next.endpoints, next.limits,
                                                                   domain::endpoint_rules(next).upstream_deny));
  if (dns_server_) {
    // The settings were checked by the reader: a failure here is a broken invariant, and the
    // previous zone stays live.
    (void)platform_zone_.set_canaries(next.monitor.enabled);
    if (auto st = platform_zone_.configure(next.dns, next.endpoints); !st) {
      log::dns()->error("zone not rebuilt, previous zone stays: {}", st.error().message());
    }
  }
  if (monitor_) monitor_->configure(monitor_settings(next), next.endpoints);
  config_ = std::move(next);
  if (certificate_alerts_) certificate_alerts_->configure(config_);
  timeline_endpoints_ = &config_.endpoints;
  // A new endpoint served by a certificate already published (the default, the platform
  // wildcard) is recorded here: its commit may have published nothing.
  timeline_->observe(*catalog_->current(), config_.endpoints, certstore::Clock::now());
  co_return served;
}

void Server::begin_drain(int signal_number) {
  if (shared_.draining.exchange(true)) return;
  log::proxy()->info("draining signal={} active_requests={}", signal_number, shared_.active_requests.load());
  for (auto& w : workers_) w->stop_accepting();
  auto deadline = std::chrono::steady_clock::now() + shared_.routes.current()->limits().drain_timeout;
  // However the drain ends, the control loop stops and run() returns; the Server outlives it.
  asio::co_spawn(control_, drain(deadline), [this](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log::proxy()->error("drain failed error=\"{}\"", e.what());
      }
      exit_code_ = 1;
    }
    control_.stop();
  });
}

asio::awaitable<void> Server::drain(std::chrono::steady_clock::time_point deadline) {
  asio::steady_timer timer(control_);
  while (shared_.active_requests.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(drain_poll_interval);
    co_await timer.async_wait(asio::use_awaitable);
  }
  auto left = shared_.active_requests.load();
  if (left > 0) log::proxy()->warn("drain deadline passed active_requests={}", left);
  for (auto& w : workers_) w->stop();
  for (auto& w : workers_) w->join();
  if (dns_server_) dns_server_->stop();
  co_await stop_background_tasks();
  // What the tasks queued on the store lane (lease releases, renewal state) reaches the store.
  pool_.finish();
  if (catalog_) catalog_->stop();
  lag_probe_.stop();
  lag_probe_.log_summary();
  log::proxy()->info("stopped");
}

asio::awaitable<void> Server::stop_background_tasks() {
  // The admin API first: its connections may be applying a change, which uses everything below.
  if (admin_server_) co_await admin_server_->shutdown();
  tasks_.stop();
  if (!certificates_) {
    co_await tasks_.wait();
    co_return;
  }
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(control_, background_stop_deadline);
  auto first = co_await ((certificates_->shutdown() && tasks_.wait() && stop_monitor() && stop_alerts()) ||
                         deadline.async_wait(asio::use_awaitable));
  if (first.index() == 1) {
    // What is left may touch the store after it closes: a bug to fix, not a state to live with.
    log::proxy()->error("background tasks still running after the stop deadline deadline_s={}",
                        background_stop_deadline.count());
  }
}

asio::awaitable<void> Server::stop_alerts() {
  // What is still pending stays in the webhooks' outbox for the next start.
  if (webhooks_) co_await webhooks_->shutdown();
  if (certificate_alerts_) co_await certificate_alerts_->shutdown();
}

asio::awaitable<void> Server::stop_monitor() {
  if (monitor_) co_await monitor_->shutdown();
}

void Server::wait_for_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      request_reload();
    } else {
      begin_drain(sig);
    }
    wait_for_signals();
  });
}

int Server::run() {
  std::signal(SIGPIPE, SIG_IGN);
  signals_.add(SIGHUP);
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  if (auto st = start(); !st) {
    log::proxy()->error("start failed: {}", st.error().message());
    // Tasks the certificate manager spawned have not run yet: end them before anything they use goes.
    asio::co_spawn(control_, stop_background_tasks(), [this](std::exception_ptr) {
      pool_.finish();
      control_.stop();
    });
    control_.run();
    return 1;
  }
  wait_for_signals();
  lag_probe_.start();
  control_.run();
  return exit_code_;
}

}  // namespace portcullis::app
