// Server: the process. Owns the configuration, the shared snapshots, the workers and the control
// thread (signals, reloads, certificate loading). `portcullis run` is Server::run().
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/toml_config.hpp"
#include "base/data_dir_lock.hpp"
#include "certstore/cert_directory.hpp"
#include "certstore/cert_snapshot.hpp"
#include "certstore/storage.hpp"
#include "control/certificate_manager.hpp"
#include "control/dir_watcher.hpp"
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

  // A stored certificate that `config` no longer serves: its endpoint is gone, or it is a managed
  // certificate of an endpoint that is no longer managed. `reason` says which.
  struct Withdrawn {
    std::string name_key, endpoint_id, reason;
  };

  // Builds the certificate snapshot a config asks for (files, the bundles of its certificate
  // folders as scanned into `dir_files`, stored certificates, default). Stored certificates the
  // config no longer serves are left out and, with `withdrawn`, listed there. Blocking (reads
  // files and the store). Errors name the file and the problem.
  static Result<certstore::CertSnapshotPtr> load_certificates(
      const domain::Config& config, certstore::Storage* storage,
      const certstore::CertDirectories::Files* dir_files = nullptr, std::vector<Withdrawn>* withdrawn = nullptr);

  // The folders of config.certificate_dirs, resolved against the config file and normalised.
  static std::vector<std::filesystem::path> certificate_dirs(const domain::Config& config);

 private:
  Status start();
  Status republish_certificates();
  // Marks the withdrawn certificates removed in the store (kept for audit, never loaded again).
  void record_withdrawn(const std::vector<Withdrawn>& withdrawn);
  void publish_certificates(certstore::CertSnapshotPtr snapshot);
  // inotify saw these files of a certificate folder change: each is re-read alone and the live
  // snapshot republished with just those bundles changed. On overflow every folder is rescanned.
  void on_certificate_files(std::vector<std::filesystem::path> changed, bool overflow);
  void reload();
  void begin_drain(int signal_number);
  // Waits for requests in flight (up to the drain deadline), stops the workers, then stops the
  // background tasks and awaits their end. Runs on the control thread; begin_drain() stops the
  // control loop once it returns (or throws).
  boost::asio::awaitable<void> drain(std::chrono::steady_clock::time_point deadline);
  // Stops the certificate manager's tasks and awaits them, bounded by a deadline of its own.
  boost::asio::awaitable<void> stop_background_tasks();
  void wait_for_signals();
  // [dns]: publishes the platform zone and starts its server (its own thread).
  Status start_dns();

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
  // Its tasks use storage_ and shared_.challenges: declared after both, so destroyed before them,
  // and the drain awaits its shutdown() before control_ stops, so no task is left to outlive them.
  std::unique_ptr<control::CertificateManager> certificates_;
  certstore::CertDirectories cert_dirs_;
  std::unique_ptr<control::DirWatcher> dir_watcher_;
  // The platform zone and its server ([dns]); the server reads the zone, so it is declared after.
  // The control plane sets validation TXT values through platform_zone_.set_txt().
  dns::PlatformZone platform_zone_;
  std::unique_ptr<dns::DnsServer> dns_server_;
  // Fires when the earliest certificate in the live snapshot expires, to rebuild it: the SNI index
  // ranks expired certificates at build time, so an expiry must trigger a rebuild.
  boost::asio::steady_timer expiry_timer_{control_};
  int exit_code_ = 0;
};

}  // namespace portcullis::app
