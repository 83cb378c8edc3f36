#include "app/server.hpp"

#include <csignal>
#include <string_view>
#include <unordered_map>
#include <thread>

#include <fmt/ranges.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/demo_upstream.hpp"
#include "base/atomic_file.hpp"
#include "base/logging.hpp"
#include "certstore/cert_loader.hpp"
#include "certstore/pem.hpp"
#include "certstore/sqlite_storage.hpp"

namespace portcullis::app {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using certstore::CertBundle;
using certstore::CertSource;

// How often the drain loop looks at the in-flight request count.
constexpr std::chrono::milliseconds drain_poll_interval{20};
// How long the background tasks (issuances, renewal loop) get to end once cancelled. They end at
// their next step, within milliseconds; the bound keeps a stuck one from holding the process.
constexpr std::chrono::seconds background_stop_deadline{5};
// The self-signed default certificate, generated once per data dir.
constexpr int default_cert_days = 3650;

// Certificate files parsed once per process and reused across reloads while unchanged.
certstore::CertFileCache& file_cache() {
  static certstore::CertFileCache cache;
  return cache;
}

Result<certstore::CertBundlePtr> load_bundle_files(const fs::path& cert_file, const fs::path& key_file,
                                                   CertSource source) {
  return file_cache().load(cert_file, key_file, source);
}

// The default certificate: configured, or self-signed and kept in the data dir (0600 key).
Result<certstore::CertBundlePtr> default_bundle(const domain::Config& config) {
  if (!config.tls.default_cert.empty()) {
    return load_bundle_files(config.resolve(config.tls.default_cert), config.resolve(config.tls.default_key),
                             CertSource::default_cert);
  }
  fs::path dir = config.resolve(config.server.data_dir);
  fs::path cert_file = dir / "default.crt", key_file = dir / "default.key";
  std::error_code ec;
  if (!fs::exists(cert_file, ec) || !fs::exists(key_file, ec)) {
    auto key = certstore::pem::generate_p256();
    if (!key) return tl::unexpected(key.error());
    auto cert = certstore::pem::self_signed(key->get(), {"portcullis.invalid"}, default_cert_days);
    if (!cert) return tl::unexpected(cert.error());
    if (auto st = base::write_secret_file(key_file, certstore::pem::to_pem(key->get())); !st) {
      return tl::unexpected(st.error());
    }
    if (auto st = base::write_file_atomic(cert_file, certstore::pem::to_pem(cert->get()), 0644); !st) {
      return tl::unexpected(st.error());
    }
    log::proxy()->info("generated default certificate file={}", cert_file.string());
  }
  return load_bundle_files(cert_file, key_file, CertSource::default_cert);
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
    : config_(std::move(config)), overrides_(std::move(overrides)), cert_dirs_(file_cache()) {
  overrides_.apply(config_);
}

Server::~Server() {
  for (auto& w : workers_) w->stop();
  for (auto& w : workers_) w->join();
}

std::vector<fs::path> Server::certificate_dirs(const domain::Config& config) {
  std::vector<fs::path> dirs;
  for (const auto& d : config.certificate_dirs) {
    fs::path dir = config.resolve(d.path).lexically_normal();
    if (!dir.has_filename() && dir.has_parent_path() && dir != dir.root_path()) dir = dir.parent_path();
    dirs.push_back(std::move(dir));
  }
  return dirs;
}

Result<certstore::CertSnapshotPtr> Server::load_certificates(const domain::Config& config, certstore::Storage* storage,
                                                             const certstore::CertDirectories::Files* dir_files,
                                                             std::vector<Withdrawn>* withdrawn) {
  certstore::CertSnapshot::Builder builder;
  auto def = default_bundle(config);
  if (!def) return tl::unexpected(def.error().with_context("tls.default_cert"));
  builder.default_cert(*def);
  if (!config.tls.fallback_cert.empty()) {
    auto fb = load_bundle_files(config.resolve(config.tls.fallback_cert), config.resolve(config.tls.fallback_key),
                                CertSource::fallback);
    if (!fb) return tl::unexpected(fb.error().with_context("tls.fallback_cert"));
    builder.fallback(*fb);
  }
  for (const auto& c : config.certificates) {
    auto bundle = load_bundle_files(config.resolve(c.cert_file), config.resolve(c.key_file), CertSource::transitional);
    if (!bundle) return tl::unexpected(bundle.error().with_context("certificate"));
    if ((*bundle)->expired(certstore::Clock::now())) {
      log::proxy()->warn("certificate expired file={} not_after_passed=true", c.cert_file.string());
    }
    builder.add(*bundle);
  }
  if (dir_files != nullptr) {
    for (const auto& [file, bundle] : *dir_files) builder.add(bundle);
  }
  if (storage != nullptr) {
    auto stored = storage->load_certificates();
    if (!stored) return tl::unexpected(stored.error());
    std::unordered_map<std::string_view, const domain::EndpointConfig*> endpoints;
    for (const auto& ep : config.endpoints) endpoints.emplace(ep.id, &ep);
    for (const auto& s : *stored) {
      // A stored certificate belongs to its endpoint: once the endpoint is gone (or, for a managed
      // one, no longer managed) it must not answer for the names any more.
      auto ep = endpoints.find(s.endpoint_id);
      const char* reason = ep == endpoints.end() ? "endpoint removed"
                           : s.source == CertSource::managed && !ep->second->managed_https ? "managed_https off"
                                                                                           : nullptr;
      if (reason != nullptr) {
        if (withdrawn != nullptr) withdrawn->push_back({s.name_key, s.endpoint_id, reason});
        continue;
      }
      auto bundle = CertBundle::from_pem(s.chain_pem, s.key_pem, s.source, "store:" + s.name_key);
      if (!bundle) {
        log::proxy()->error("stored certificate unusable name_key={} error=\"{}\"", s.name_key, bundle.error().message());
        continue;
      }
      builder.add(*bundle);
    }
  }
  return builder.build();
}

Status Server::start() {
  if (auto st = log::set_level(config_.server.log_level); !st) return st;
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

  // Watched before they are read: a file changed in between is read again, never missed.
  dir_watcher_ = std::make_unique<control::DirWatcher>(
      control_, [this](std::vector<fs::path> changed, bool overflow) { on_certificate_files(std::move(changed), overflow); });
  auto dirs = certificate_dirs(config_);
  if (auto st = dir_watcher_->watch(dirs); !st) return tl::unexpected(st.error().with_context("certificate_dir"));
  auto dir_files = cert_dirs_.scan(dirs, /*strict=*/true);
  if (!dir_files) return tl::unexpected(dir_files.error().with_context("certificate_dir"));
  cert_dirs_.commit(std::move(*dir_files), std::move(dirs));

  std::vector<Withdrawn> withdrawn;
  auto certs = load_certificates(config_, storage_.get(), &cert_dirs_.files(), &withdrawn);
  if (!certs) return tl::unexpected(certs.error());
  file_cache().sweep();
  publish_certificates(*certs);
  record_withdrawn(withdrawn);
  shared_.routes.publish(std::make_shared<const proxy::RouteTable>(config_.endpoints, config_.limits));
  certificates_ = std::make_unique<control::CertificateManager>(control_, *storage_, shared_.challenges,
                                                                [this] { return republish_certificates(); });
  if (auto st = certificates_->configure(config_); !st) return st;

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
  for (auto& w : workers_) w->start();

  for (const auto& lc : config_.listeners) {
    log::proxy()->info("listening name={} address={} protocol={} scope={}", lc.name, lc.address.to_string(),
                       lc.protocol == domain::Protocol::https ? "https" : "http",
                       lc.scope == domain::Scope::external ? "external" : "internal");
  }
  log::proxy()->info("started workers={} endpoints={} certificates={} config={}", workers,
                     config_.endpoints.size(), (*certs)->size(), config_.source.string());
  return {};
}

Status Server::start_dns() {
  if (!config_.dns.enabled) return {};
  if (auto st = platform_zone_.configure(config_.dns, config_.endpoints); !st) return st;
  dns::DnsServerOptions options;
  options.listen = config_.dns.listen;
  options.rate_limit = config_.dns.rate_limit;
  dns_server_ = std::make_unique<dns::DnsServer>(platform_zone_.registry(), std::move(options));
  if (auto st = dns_server_->listen(); !st) return st;
  dns_server_->start();
  return {};
}

Status Server::republish_certificates() {
  std::vector<Withdrawn> withdrawn;
  auto certs = load_certificates(config_, storage_.get(), &cert_dirs_.files(), &withdrawn);
  if (!certs) return tl::unexpected(certs.error());
  publish_certificates(*certs);
  record_withdrawn(withdrawn);
  return {};
}

void Server::record_withdrawn(const std::vector<Withdrawn>& withdrawn) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(certstore::Clock::now().time_since_epoch()).count();
  for (const auto& w : withdrawn) {
    if (auto st = storage_->mark_certificate_removed(w.name_key, now); !st) {
      // Not served either way (it is left out of every snapshot); the mark is for the record.
      log::proxy()->warn("certificate withdrawn but not marked removed name_key={} error=\"{}\"", w.name_key,
                         st.error().message());
      continue;
    }
    log::proxy()->info("certificate withdrawn endpoint={} name_key={} reason=\"{}\"", w.endpoint_id, w.name_key,
                       w.reason);
  }
}

void Server::publish_certificates(certstore::CertSnapshotPtr snapshot) {
  auto now = certstore::Clock::now();
  std::optional<certstore::Clock::time_point> next_expiry = snapshot->next_expiry();
  shared_.certs.publish(std::move(snapshot));
  expiry_timer_.cancel();
  if (!next_expiry) return;
  expiry_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(*next_expiry - now) +
                              std::chrono::seconds(1));
  expiry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    log::proxy()->info("a certificate expired: rebuilding the SNI index");
    if (auto st = republish_certificates(); !st) log::proxy()->error("rebuild failed: {}", st.error().message());
  });
}

void Server::on_certificate_files(std::vector<fs::path> changed, bool overflow) {
  certstore::CertChanges changes;
  if (overflow) {
    log::proxy()->warn("certificate folder events overflowed: rescanning every folder");
    auto files = cert_dirs_.scan(cert_dirs_.dirs(), /*strict=*/false);
    if (!files) {
      log::proxy()->error("certificate folder rescan failed: {}", files.error().message());
      return;
    }
    changes = cert_dirs_.commit(std::move(*files), cert_dirs_.dirs());
  } else {
    for (const auto& file : changed) {
      auto one = cert_dirs_.refresh(file);
      changes.removed.insert(changes.removed.end(), one.removed.begin(), one.removed.end());
      changes.added.insert(changes.added.end(), one.added.begin(), one.added.end());
    }
  }
  if (changes.empty()) return;
  auto next = shared_.certs.current()->with_changes(changes.removed, changes.added);
  log::proxy()->debug("certificates published removed={} added={} certificates={} overlay={}", changes.removed.size(),
                      changes.added.size(), next->size(), next->overlay_size());
  publish_certificates(std::move(next));
}

void Server::reload() {
  if (config_.source == "<embedded>") {
    log::proxy()->info("config reloaded source=<embedded> (nothing to re-read)");
    return;
  }
  auto next = load_config(config_.source);
  if (!next) {
    log::proxy()->error("reload rejected, previous config stays: {}", next.error().message());
    return;
  }
  overrides_.apply(*next);
  // Read at start only. The running values stay, so that nothing is half-applied (a new data_dir
  // would read the default certificate from one folder and the store from another), and the log
  // says which changes wait for a restart.
  std::vector<std::string_view> restart_only;
  if (next->resolve(next->server.data_dir) != config_.resolve(config_.server.data_dir)) restart_only.push_back("server.data_dir");
  if (next->server.workers != config_.server.workers) restart_only.push_back("server.workers");
  if (next->tls.min_version != config_.tls.min_version) restart_only.push_back("tls.min_version");
  if (next->demo.enabled != config_.demo.enabled || next->demo.listen.to_string() != config_.demo.listen.to_string())
    restart_only.push_back("demo");
  next->server.data_dir = config_.resolve(config_.server.data_dir);
  next->server.workers = config_.server.workers;
  next->tls.min_version = config_.tls.min_version;
  next->demo = config_.demo;
  // The DNS server's sockets and limiter are set up at start; the zone's content is reloaded.
  if (next->dns.enabled != config_.dns.enabled) {
    restart_only.push_back("dns");
  } else if (next->dns.enabled) {
    bool listen_changed = next->dns.listen.size() != config_.dns.listen.size();
    for (std::size_t i = 0; !listen_changed && i < next->dns.listen.size(); ++i) {
      listen_changed = next->dns.listen[i].to_string() != config_.dns.listen[i].to_string();
    }
    if (listen_changed) restart_only.push_back("dns.listen");
    if (next->dns.rate_limit != config_.dns.rate_limit) restart_only.push_back("dns.rate_limit");
  }
  if (next->dns.enabled != config_.dns.enabled) next->dns = config_.dns;
  next->dns.listen = config_.dns.listen;
  next->dns.rate_limit = config_.dns.rate_limit;
  auto dirs = certificate_dirs(*next);
  // Folders are read again in full (unchanged files come from the cache), and watched from now on;
  // a rejected reload goes back to watching the current ones.
  auto reject = [&](const Error& error) {
    log::proxy()->error("reload rejected, previous config stays: {}", error.message());
    if (auto st = dir_watcher_->watch(cert_dirs_.dirs()); !st) log::proxy()->error("{}", st.error().message());
  };
  if (auto st = dir_watcher_->watch(dirs); !st) return reject(st.error().with_context("certificate_dir"));
  auto dir_files = cert_dirs_.scan(dirs, /*strict=*/false);
  if (!dir_files) return reject(dir_files.error().with_context("certificate_dir"));
  std::vector<Withdrawn> withdrawn;
  auto certs = load_certificates(*next, storage_.get(), &*dir_files, &withdrawn);
  if (!certs) return reject(certs.error());
  bool listeners_changed = next->listeners.size() != config_.listeners.size();
  for (std::size_t i = 0; !listeners_changed && i < next->listeners.size(); ++i) {
    const auto &a = next->listeners[i], &b = config_.listeners[i];
    listeners_changed = a.name != b.name || a.address.to_string() != b.address.to_string() ||
                        a.protocol != b.protocol || a.scope != b.scope;
  }
  if (auto st = certificates_->configure(*next); !st) return reject(st.error());
  cert_dirs_.commit(std::move(*dir_files), std::move(dirs));
  file_cache().sweep();
  if (listeners_changed) restart_only.push_back("listener");
  if (!restart_only.empty()) {
    log::proxy()->warn("changes take effect after a restart settings={}", fmt::join(restart_only, ","));
  }
  if (next->server.log_level != config_.server.log_level) (void)log::set_level(next->server.log_level);
  // Certificates first: a handshake for a new endpoint must never see its routes without them.
  publish_certificates(*certs);
  shared_.routes.publish(std::make_shared<const proxy::RouteTable>(next->endpoints, next->limits));
  record_withdrawn(withdrawn);
  if (dns_server_) {
    // The settings were checked by the reader: a failure here is a broken invariant, and the
    // previous zone stays live.
    if (auto st = platform_zone_.configure(next->dns, next->endpoints); !st) {
      log::dns()->error("zone not rebuilt, previous zone stays: {}", st.error().message());
    }
  }
  auto listeners = std::move(config_.listeners);
  config_ = std::move(*next);
  config_.listeners = std::move(listeners);
  log::proxy()->info("config reloaded endpoints={} certificates={}", config_.endpoints.size(), (*certs)->size());
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
  dir_watcher_->stop();
  expiry_timer_.cancel();
  log::proxy()->info("stopped");
}

asio::awaitable<void> Server::stop_background_tasks() {
  if (!certificates_) co_return;
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(control_, background_stop_deadline);
  auto first = co_await (certificates_->shutdown() || deadline.async_wait(asio::use_awaitable));
  if (first.index() == 1) {
    // What is left may touch the store after it closes: a bug to fix, not a state to live with.
    log::proxy()->error("background tasks still running after the stop deadline deadline_s={}",
                        background_stop_deadline.count());
  }
}

void Server::wait_for_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload();
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
    asio::co_spawn(control_, stop_background_tasks(), [this](std::exception_ptr) { control_.stop(); });
    control_.run();
    return 1;
  }
  wait_for_signals();
  control_.run();
  return exit_code_;
}

}  // namespace portcullis::app
