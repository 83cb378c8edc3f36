// Server: the process, and the composition root: owns the configuration, the shared snapshots, the
// workers and the control thread; wires the control plane (certificate catalog, certificate
// manager) to the data plane, handles the signals and the drain. `portcullis run` is Server::run().
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "admin/admin_api.hpp"
#include "admin/admin_server.hpp"
#include "app/toml_config.hpp"
#include "base/logging.hpp"
#include "base/blocking_pool.hpp"
#include "base/data_dir_lock.hpp"
#include "base/loop_lag.hpp"
#include "base/metrics_registry.hpp"
#include "base/task_group.hpp"
#include "certstore/storage.hpp"
#include "control/alert_book.hpp"
#include "control/cert_catalog.hpp"
#include "control/certificate_alerts.hpp"
#include "control/cert_timeline.hpp"
#include "control/certificate_manager.hpp"
#include "control/webhooks.hpp"
#include "control/endpoint_service.hpp"
#include "control/monitor.hpp"
#include "dns/dns_server.hpp"
#include "dns/platform_zone.hpp"
#include "proxy/worker.hpp"

namespace portcullis::app {

// Settings given on the command line over the file's; re-applied after every reload.
struct ConfigOverrides {
  std::string acme_directory;               // --acme-directory: sets [acme] directory, turns ACME on
  std::filesystem::path acme_ca_bundle;     // --acme-ca-bundle (absolute)
  void apply(domain::Config& config) const;
};

class Server {
 public:
  explicit Server(domain::Config config, ConfigOverrides overrides = {});
  ~Server();

  // Binds every listener, loads certificates, starts the workers, then runs the control loop on
  // the calling thread until SIGTERM/SIGINT (drain) completes. Returns the process exit code.
  int run();

 private:
  Status start();
  // SIGHUP: one reload at a time; a SIGHUP during a reload runs another one after it.
  void request_reload();
  boost::asio::awaitable<void> reload_until_settled();
  // Re-reads the config file, merges the endpoints created through the admin API and applies the
  // result; a rejected file leaves the running config live.
  boost::asio::awaitable<void> reload();
  // Serves `next` whole or not at all: certificates through the catalog, managed endpoints,
  // routes, the platform zone. The one path of every change while running: a reload, and an
  // endpoint created, changed or deleted through the admin API. Returns the certificates served;
  // on an error nothing changed.
  boost::asio::awaitable<Result<std::size_t>> apply(domain::Config next);
  // The admin API's changes: the running config with `endpoints` (the file's and the stored ones).
  boost::asio::awaitable<Status> apply_endpoints(std::vector<domain::EndpointConfig> endpoints);
  // [admin]: the token, the API and its listener.
  Status start_admin();
  void begin_drain(int signal_number);
  // Waits for requests in flight (up to the drain deadline), stops the workers, then stops the
  // background tasks and awaits their end. Runs on the control thread; begin_drain() stops the
  // control loop once it returns (or throws).
  boost::asio::awaitable<void> drain(std::chrono::steady_clock::time_point deadline);
  // Stops the admin API's connections, the certificate manager's tasks and the reload, and awaits
  // them, bounded by a deadline of its own.
  boost::asio::awaitable<void> stop_background_tasks();
  // The webhooks' senders and the certificate checks' timer.
  boost::asio::awaitable<void> stop_alerts();
  void wait_for_signals();
  // [dns]: publishes the platform zone and starts its server (its own thread).
  Status start_dns();
  // The collectors behind GET /metrics (app/server_metrics.cpp).
  void register_metrics();
  // The alert book (read from the store), the webhooks and the certificate checks.
  Status start_alerts();
  // [monitor] (with [dns]): the checks of customers' records, the canary and CAA.
  void start_monitor();
  boost::asio::awaitable<void> stop_monitor();
  static control::MonitorSettings monitor_settings(const domain::Config& config);

  domain::Config config_;
  ConfigOverrides overrides_;
  // First member: destroyed last, after everything that holds timers or sockets on it.
  boost::asio::io_context control_{1};
  boost::asio::signal_set signals_{control_};
  proxy::SharedState shared_;
  std::vector<proxy::ListenerRuntime> listeners_;
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  // Taken before anything in the data folder is read or written; held until the process ends.
  std::optional<base::DataDirLock> data_lock_;
  std::unique_ptr<certstore::Storage> storage_;
  // Runs the store calls, key generation and file writes of the control thread's coroutines.
  // Declared after storage_ (its queued calls use the store) and finished by the drain.
  base::BlockingPool pool_;
  // Measures how late the control loop runs what is due; summarised at drain.
  base::LoopLagProbe lag_probe_{control_.get_executor(), log::proxy()};
  // Every change of the certificate served for each endpoint's names; the catalog reports each
  // publish to it, for the endpoints in `timeline_endpoints_` (the running list, or during an
  // apply the list being applied). Declared first: it outlives the catalog that calls it.
  std::unique_ptr<control::CertTimeline> timeline_;
  const std::vector<domain::EndpointConfig>* timeline_endpoints_ = nullptr;
  // Every certificate source; publishes into shared_.certs.
  std::unique_ptr<control::CertCatalog> catalog_;
  // The platform zone and its server ([dns]); the server reads the zone, so it is declared after.
  dns::PlatformZone platform_zone_;
  std::unique_ptr<dns::DnsServer> dns_server_;
  // With [dns]: the certificate manager's challenge choice and DNS-01 publisher (uses the zone).
  std::unique_ptr<control::ChallengePlanner> planner_;
  // Its tasks use storage_, the catalog and shared_.challenges: declared after them, so destroyed
  // before them, and the drain awaits its shutdown() before control_ stops, so no task is left to
  // outlive them.
  std::unique_ptr<control::CertificateManager> certificates_;
  // The endpoints created through the admin API (read from the store at start).
  std::unique_ptr<control::EndpointService> endpoints_;
  // Transitional certificates uploaded through the admin API (stored, published by the catalog).
  std::unique_ptr<control::TransitionalCertificates> transitional_;
  // What GET /metrics reports: collectors over the members above, run on the control thread.
  base::MetricsRegistry metrics_;
  // Alerts: the webhooks (outbox in the store), the book the checks report to (it notifies the
  // webhooks), and the certificate checks (they read the services above). Each is declared after
  // what it uses; the drain stops and awaits the webhooks' and checks' tasks.
  std::unique_ptr<control::Webhooks> webhooks_;
  std::unique_ptr<control::AlertBook> alerts_;
  std::unique_ptr<control::CertificateAlerts> certificate_alerts_;
  // [monitor]: its own pool (DNS lookups block for seconds; the store's lane stays free), the
  // checks, and the monitor, whose tasks use them all, the certificate manager and the alert book they report to: declared after
  // them, stopped and awaited by the drain.
  std::unique_ptr<base::BlockingPool> monitor_pool_;
  std::unique_ptr<control::DnsChecks> monitor_checks_;
  std::unique_ptr<control::Monitor> monitor_;
  // [admin]: the API over the services above and its listener, whose connections are tasks that
  // use them: declared after them, and stopped and awaited by the drain.
  std::unique_ptr<admin::AdminApi> admin_api_;
  std::unique_ptr<admin::AdminServer> admin_server_;
  int exit_code_ = 0;
  bool reloading_ = false;
  bool reload_again_ = false;
  // The reload task. Last member: destroyed first; the drain stops and awaits it.
  base::TaskGroup tasks_{control_.get_executor(), log::proxy()};
};

}  // namespace portcullis::app
