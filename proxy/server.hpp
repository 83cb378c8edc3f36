// Server: the process. Owns the configuration, the shared snapshots, the workers and the control
// thread (signals, reloads, certificate loading). `portcullis run` is Server::run().
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "certstore/cert_snapshot.hpp"
#include "certstore/storage.hpp"
#include "proxy/certificate_manager.hpp"
#include "proxy/config.hpp"
#include "proxy/worker.hpp"

namespace portcullis::proxy {

// Settings given on the command line over the file's; re-applied after every reload.
struct ConfigOverrides {
  std::string acme_directory;               // --acme-directory: sets [acme] directory, turns ACME on
  std::filesystem::path acme_ca_bundle;     // --acme-ca-bundle (absolute)
  void apply(Config& config) const;
};

class Server {
 public:
  explicit Server(Config config, ConfigOverrides overrides = {});
  ~Server();

  // Binds every listener, loads certificates, starts the workers, then runs the control loop on
  // the calling thread until SIGTERM/SIGINT (drain) completes. Returns the process exit code.
  int run();

  // Builds the certificate snapshot a config asks for (files, stored certificates, default).
  // Blocking (reads files). Errors name the file and the problem.
  static Result<certstore::CertSnapshotPtr> load_certificates(const Config& config,
                                                              certstore::Storage* storage);

 private:
  Status start();
  Status republish_certificates();
  void publish_certificates(certstore::CertSnapshotPtr snapshot);
  void reload();
  void begin_drain(int signal_number);
  void wait_for_signals();

  Config config_;
  ConfigOverrides overrides_;
  // First member: destroyed last, after everything that holds timers or sockets on it.
  boost::asio::io_context control_{1};
  boost::asio::signal_set signals_{control_};
  SharedState shared_;
  std::vector<ListenerRuntime> listeners_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<certstore::Storage> storage_;
  std::unique_ptr<CertificateManager> certificates_;
  // Fires when the earliest certificate in the live snapshot expires, to rebuild it: the SNI index
  // ranks expired certificates at build time, so an expiry must trigger a rebuild.
  boost::asio::steady_timer expiry_timer_{control_};
  int exit_code_ = 0;
};

}  // namespace portcullis::proxy
