// CertCatalog: every certificate the proxy serves, kept as parsed bundles by source — the default
// and fallback certificates, the [[certificate]] files, the certificate folders, and the stored
// managed and transitional certificates and platform wildcard — and the one place that publishes
// the SNI snapshot. The fallback slot holds tls.fallback_cert when configured, else the stored
// platform wildcard (domain/platform_certificate), which is therefore never in the name index. A
// change of one certificate (issued, renewed, removed, a folder file rewritten) is published as
// CertSnapshot::with_changes, O(changed); a reload or an expiry rebuilds from the bundles held
// here, without re-reading the store or re-parsing a PEM. The store is read once, at start-up.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/blocking_pool.hpp"
#include "base/error.hpp"
#include "certstore/cert_bundle.hpp"
#include "certstore/cert_directory.hpp"
#include "certstore/cert_loader.hpp"
#include "certstore/cert_registry.hpp"
#include "certstore/storage.hpp"
#include "control/dir_watcher.hpp"
#include "domain/config.hpp"

namespace portcullis::control {

class CertCatalog {
 public:
  // A stored certificate, parsed once. `names` are the names it was stored for (the endpoint's
  // hostnames when it was issued), which may differ from what the endpoint asks for now.
  struct Stored {
    std::string endpoint_id;
    std::vector<std::string> names;
    certstore::CertBundlePtr bundle;
    // What the SNI index holds, set by the catalog: `bundle` filed under the hostnames its
    // endpoint owns now and nothing else (CertBundle::indexed_as), or `bundle` itself when that is
    // every name it has. An upload naming another endpoint's hostnames never answers for them.
    certstore::CertBundlePtr indexed;
  };

  // An endpoint whose stored certificates are served: whether it is managed, and its hostnames
  // (normalised), the only names its stored certificates are indexed under.
  struct EndpointNames {
    bool managed_https = false;
    std::vector<std::string> hostnames;
  };
  using ServedEndpoints = std::unordered_map<std::string, EndpointNames>;

  // A stored certificate the config no longer serves: its endpoint is gone, or it is a managed
  // certificate of an endpoint that is no longer managed. `reason` says which.
  struct Withdrawn {
    std::string name_key, endpoint_id, reason;
  };

  // What a reload would serve, read and parsed beside the live catalog; commit() or abandon() it.
  struct Prepared {
    certstore::CertBundlePtr default_cert, fallback;
    std::vector<certstore::CertBundlePtr> files;  // [[certificate]], in config order
    certstore::CertDirectories::Files dir_files;
    std::vector<std::filesystem::path> dirs;
    std::vector<Withdrawn> withdrawn;
    ServedEndpoints endpoints;  // by endpoint id
  };

  // Everything given must outlive the catalog. Every call is made on `control`'s thread.
  CertCatalog(boost::asio::io_context& control, certstore::Storage& storage, base::BlockingPool& pool,
              certstore::CertRegistry& registry);
  ~CertCatalog();
  CertCatalog(const CertCatalog&) = delete;
  CertCatalog& operator=(const CertCatalog&) = delete;

  // The folders of config.certificate_dirs, resolved against the config file and normalised.
  static std::vector<std::filesystem::path> certificate_dirs(const domain::Config& config);

  // Start-up, before the control loop runs (blocking): watches and reads the certificate folders
  // (the first file that does not load is the error), loads the config's files (generating the
  // default certificate on first start), reads the store once and makes its rows deferred bundles
  // in parallel on the pool (facts from the row's columns, or from its PEM for a row written
  // before they were kept), marks withdrawn rows removed, and publishes the first snapshot. A row
  // that does not read is logged and left out. Errors name the file or folder and the problem.
  Status start(const domain::Config& config);

  // Reload, first half: watches `next`'s folders and reads its files on the pool (unchanged files
  // come from the cache; a folder file that does not load keeps its previous bundle and is
  // logged), and lists the stored certificates `next` no longer serves. Changes nothing that is
  // served. Errors (a file of `next` that does not load, a folder that cannot be read or watched)
  // name the file; the caller then calls abandon().
  boost::asio::awaitable<Result<Prepared>> prepare(const domain::Config& next);
  // A rejected reload: the current folders are watched again.
  void abandon();
  // Reload, second half: publishes what `prepared` serves (a rebuild from bundles already
  // parsed), marks the withdrawn rows removed in the store (through the pool, awaited) and logs
  // each. Returns the number of certificates served.
  boost::asio::awaitable<std::size_t> commit(Prepared prepared);

  // Completes the full parse of every certificate read deferred at start (stored rows, large
  // folders: see CertBundle::from_pem_deferred) on the pool, a slice at a time, so none waits for
  // its first handshake and a broken one is reported now. A certificate whose parse fails is
  // logged and never served (handshakes fall back). Run once after start(), as a task.
  boost::asio::awaitable<void> verify_pending();

  // An issued or renewed certificate, already in the store under `name_key` (the endpoint id for a
  // managed one): replaces the previous one of the same key and publishes the change alone
  // (O(changed)). The platform wildcard (endpoint domain::platform_certificate_id, source
  // fallback) goes to the fallback slot instead, unless tls.fallback_cert is configured. If its endpoint is no longer served it is withdrawn instead (marked removed
  // through the pool, not published). Errors: Errc::invalid_input for a null bundle or a source
  // other than managed or transitional (fallback for the platform wildcard).
  Status put_stored(const std::string& name_key, Stored stored);
  // Takes a stored certificate out of what is served and publishes the change alone. The store
  // is left as it is. Returns false when there was none under `name_key`.
  bool remove_stored(const std::string& name_key);
  // The stored certificate under `name_key`, or nullptr.
  const Stored* stored(const std::string& name_key) const;

  // Files of a watched folder changed (from the DirWatcher): each is re-read alone and published as
  // a change; on overflow every folder is rescanned.
  void on_folder_files(std::vector<std::filesystem::path> changed, bool overflow);

  // Stops the folder watch and the expiry timer (drain).
  void stop();

  certstore::CertSnapshotPtr current() const { return registry_.current(); }

  // A certificate the catalog serves, as the metrics show it: its endpoint (the platform
  // wildcard's id for the stored platform wildcard, empty for files and the default), its source
  // ("managed", "transitional" (uploaded), "platform" (the fallback slot), "default", "file" (a
  // [[certificate]] or a folder's file)), its first name and its expiry.
  struct Served {
    std::string endpoint;
    std::string_view source;
    std::string name;
    certstore::Clock::time_point not_after;
  };
  // Every certificate held for serving, in no particular order. O(certificates); control thread.
  std::vector<Served> served() const;
  // Called on the control thread after each publish, with the snapshot just published and the
  // names of the certificates that left or entered it; null when anything may have moved (a full
  // rebuild, a new fallback). The certificate timeline watches the swaps this way. Set before start().
  using OnPublish = std::function<void(const certstore::CertSnapshot&, const std::vector<std::string>* changed_names)>;
  void set_on_publish(OnPublish on_publish) { on_publish_ = std::move(on_publish); }

 private:
  struct Loaded;
  // Reads every file a config names and the folders' files. Blocking; thread-safe (the file cache
  // is), so prepare() runs it on the pool.
  Result<Loaded> load_files(const domain::Config& config, std::vector<std::filesystem::path> dirs, bool strict);
  // Folder events that arrive while prepare() reads the folders on the pool wait for its outcome,
  // so that the folders' state is only ever changed on the control thread, in order.
  void replay_deferred();
  static std::vector<Withdrawn> withdrawn_by(const ServedEndpoints& endpoints,
                                             const std::map<std::string, Stored>& stored);
  void rebuild();
  // Sets s.indexed from s.bundle and the hostnames endpoints_ gives its endpoint; keeps the
  // previous view when the names are the same (its identity is what the snapshot holds).
  void file_under_owner(Stored& s) const;
  // The stored platform wildcard, or nullptr.
  certstore::CertBundlePtr platform_bundle() const;
  // One line saying where the fallback certificate comes from (at start and after a reload).
  void log_fallback() const;
  // `removed` and `added`: what a with_changes() moved, whose names the on_publish hook is given;
  // none for a rebuild or a new fallback (anything may have moved).
  void publish(certstore::CertSnapshotPtr snapshot);
  void publish(certstore::CertSnapshotPtr snapshot, const std::vector<certstore::CertBundlePtr>& removed,
               const std::vector<certstore::CertBundlePtr>& added);
  void arm_expiry(std::optional<certstore::Clock::time_point> next_expiry);

  boost::asio::io_context& control_;
  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  certstore::CertRegistry& registry_;
  // Certificate files parsed once per process and reused across reloads while unchanged.
  certstore::CertFileCache file_cache_;
  certstore::CertDirectories dirs_{file_cache_};
  std::unique_ptr<DirWatcher> watcher_;
  bool preparing_ = false;
  std::vector<std::filesystem::path> deferred_;
  bool deferred_overflow_ = false;
  certstore::CertBundlePtr default_cert_, fallback_;
  std::vector<certstore::CertBundlePtr> files_;
  std::map<std::string, Stored> stored_;             // name_key -> certificate, in store order
  ServedEndpoints endpoints_;  // by endpoint id
  // Fires when the earliest certificate in the live snapshot expires, to rebuild it: the SNI index
  // ranks expired certificates at build time, so an expiry must trigger a rebuild.
  boost::asio::steady_timer expiry_timer_;
  OnPublish on_publish_;
};

}  // namespace portcullis::control
