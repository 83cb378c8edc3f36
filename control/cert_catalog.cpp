#include "control/cert_catalog.hpp"

#include <algorithm>
#include <future>
#include <utility>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/atomic_file.hpp"
#include "base/logging.hpp"
#include "certstore/pem.hpp"
#include "domain/platform_certificate.hpp"

namespace portcullis::control {
namespace {

namespace fs = std::filesystem;
using certstore::CertBundle;
using certstore::CertBundlePtr;
using certstore::CertSource;

// The self-signed default certificate, generated once per data dir.
constexpr int default_cert_days = 3650;
// A rebuild runs this long after the earliest certificate expires, so that it is expired then.
constexpr std::chrono::seconds expiry_margin{1};

// The default certificate: configured, or self-signed and kept in the data dir (0600 key).
Result<CertBundlePtr> default_bundle(const domain::Config& config, certstore::CertFileCache& cache) {
  if (!config.tls.default_cert.empty()) {
    return cache.load(config.resolve(config.tls.default_cert), config.resolve(config.tls.default_key),
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
  return cache.load(cert_file, key_file, CertSource::default_cert);
}

// Endpoint id -> managed_https, for every endpoint whose stored certificates are served; the
// platform certificate counts as one when the config wants it (domain::platform_certificate).
CertCatalog::ServedEndpoints served_endpoints(const domain::Config& config) {
  CertCatalog::ServedEndpoints endpoints;
  for (const auto& ep : config.endpoints) endpoints.emplace(ep.id, CertCatalog::EndpointNames{ep.managed_https, ep.hostnames});
  if (auto platform = domain::platform_certificate(config)) {
    endpoints.emplace(platform->id, CertCatalog::EndpointNames{true, platform->hostnames});
  }
  return endpoints;
}

// Why a stored certificate is not served under `endpoints`, or nullptr when it is.
const char* withdraw_reason(const CertCatalog::ServedEndpoints& endpoints, const std::string& endpoint_id,
                            CertSource source) {
  // A stored certificate belongs to its endpoint: once the endpoint is gone (or, for a managed
  // one, no longer managed) it must not answer for the names any more.
  auto ep = endpoints.find(endpoint_id);
  if (ep == endpoints.end()) {
    return domain::is_platform_certificate(endpoint_id)
               ? "platform wildcard not used: tls.fallback_cert is set, or [dns] is off"
               : "endpoint removed";
  }
  if (source == CertSource::managed && !ep->second.managed_https) return "managed_https off";
  return nullptr;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(certstore::Clock::now().time_since_epoch()).count();
}

// Marks withdrawn rows removed (kept for audit, never loaded again) and logs each. Blocking.
void mark_withdrawn(certstore::Storage& storage, const std::vector<CertCatalog::Withdrawn>& withdrawn) {
  const auto now = unix_now();
  for (const auto& w : withdrawn) {
    if (auto st = storage.mark_certificate_removed(w.name_key, now); !st) {
      // Not served either way (it is left out of every snapshot); the mark is for the record.
      log::proxy()->warn("certificate withdrawn but not marked removed name_key={} error=\"{}\"", w.name_key,
                         st.error().message());
      continue;
    }
    log::proxy()->info("certificate withdrawn endpoint={} name_key={} reason=\"{}\"", w.endpoint_id, w.name_key,
                       w.reason);
  }
}

// Reads stored rows into bundles on `pool`'s threads, one slice per thread, and waits for them.
// Start-up only (blocks the caller). Rows were checked in full when they were stored, so each is
// read deferred, the full parse on first use or in verify_pending(): a row that keeps its facts in
// its columns is indexed by them without reading its PEM (CertBundle::from_facts_deferred), one
// written before that by the facts read from its PEM (from_pem_deferred). A row that does not
// read is logged and left out.
std::map<std::string, CertCatalog::Stored> parse_stored(std::vector<certstore::StoredCertificate> rows,
                                                        base::BlockingPool& pool) {
  std::vector<Result<CertBundlePtr>> parsed(rows.size(), Result<CertBundlePtr>(CertBundlePtr()));
  const std::size_t slices = std::min<std::size_t>(pool.threads(), std::max<std::size_t>(rows.size(), 1));
  std::vector<std::future<void>> done;
  for (std::size_t slice = 0; slice < slices; ++slice) {
    std::packaged_task<void()> task([&rows, &parsed, slice, slices] {
      for (std::size_t i = slice; i < rows.size(); i += slices) {
        auto& row = rows[i];
        if (row.has_facts()) {
          // The row's PEM, key and facts move into the bundle; name_key, endpoint_id and names stay.
          parsed[i] = CertBundle::from_facts_deferred(std::move(row.chain_pem), std::move(row.key_pem),
                                                      std::move(row).facts(), row.source, "store:" + row.name_key);
        } else {
          parsed[i] = CertBundle::from_pem_deferred(row.chain_pem, row.key_pem, row.source, "store:" + row.name_key);
        }
      }
    });
    done.push_back(task.get_future());
    boost::asio::post(pool.executor(), std::move(task));
  }
  for (auto& d : done) d.get();
  std::map<std::string, CertCatalog::Stored> out;
  // Rows come ordered by name_key (unique): each goes in at the end, without a search.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto& row = rows[i];
    if (!parsed[i]) {
      log::proxy()->error("stored certificate unusable name_key={} error=\"{}\"", row.name_key,
                          parsed[i].error().message());
      continue;
    }
    out.emplace_hint(out.end(), std::move(row.name_key),
                     CertCatalog::Stored{std::move(row.endpoint_id), std::move(row.names), std::move(*parsed[i]), nullptr});
  }
  return out;
}

}  // namespace

struct CertCatalog::Loaded {
  CertBundlePtr default_cert, fallback;
  std::vector<CertBundlePtr> files;
  certstore::CertDirectories::Files dir_files;
};

CertCatalog::CertCatalog(boost::asio::io_context& control, certstore::Storage& storage, base::BlockingPool& pool,
                         certstore::CertRegistry& registry)
    : control_(control), storage_(storage), pool_(pool), registry_(registry), expiry_timer_(control) {}

CertCatalog::~CertCatalog() = default;

std::vector<fs::path> CertCatalog::certificate_dirs(const domain::Config& config) {
  std::vector<fs::path> dirs;
  for (const auto& d : config.certificate_dirs) {
    fs::path dir = config.resolve(d.path).lexically_normal();
    if (!dir.has_filename() && dir.has_parent_path() && dir != dir.root_path()) dir = dir.parent_path();
    dirs.push_back(std::move(dir));
  }
  return dirs;
}

Result<CertCatalog::Loaded> CertCatalog::load_files(const domain::Config& config, std::vector<fs::path> dirs,
                                                    bool strict) {
  Loaded loaded;
  auto& cache = file_cache_;  // thread-safe
  auto dir_files = dirs_.scan(dirs, strict);
  if (!dir_files) return tl::unexpected(dir_files.error().with_context("certificate_dir"));
  loaded.dir_files = std::move(*dir_files);
  auto def = default_bundle(config, cache);
  if (!def) return tl::unexpected(def.error().with_context("tls.default_cert"));
  loaded.default_cert = std::move(*def);
  if (!config.tls.fallback_cert.empty()) {
    auto fb = cache.load(config.resolve(config.tls.fallback_cert), config.resolve(config.tls.fallback_key),
                         CertSource::fallback);
    if (!fb) return tl::unexpected(fb.error().with_context("tls.fallback_cert"));
    loaded.fallback = std::move(*fb);
  }
  for (const auto& c : config.certificates) {
    auto bundle = cache.load(config.resolve(c.cert_file), config.resolve(c.key_file), CertSource::transitional);
    if (!bundle) return tl::unexpected(bundle.error().with_context("certificate"));
    if ((*bundle)->expired(certstore::Clock::now())) {
      log::proxy()->warn("certificate expired file={} not_after_passed=true", c.cert_file.string());
    }
    loaded.files.push_back(std::move(*bundle));
  }
  return loaded;
}

std::vector<CertCatalog::Withdrawn> CertCatalog::withdrawn_by(const ServedEndpoints& endpoints,
                                                              const std::map<std::string, Stored>& stored) {
  std::vector<Withdrawn> out;
  for (const auto& [name_key, s] : stored) {
    if (const char* reason = withdraw_reason(endpoints, s.endpoint_id, s.bundle->source())) {
      out.push_back({name_key, s.endpoint_id, reason});
    }
  }
  return out;
}

Status CertCatalog::start(const domain::Config& config) {
  // Watched before they are read: a file changed in between is read again, never missed.
  watcher_ = std::make_unique<DirWatcher>(control_, [this](std::vector<fs::path> changed, bool overflow) {
    on_folder_files(std::move(changed), overflow);
  });
  auto dirs = certificate_dirs(config);
  if (auto st = watcher_->watch(dirs); !st) return tl::unexpected(st.error().with_context("certificate_dir"));
  auto loaded = load_files(config, dirs, /*strict=*/true);
  if (!loaded) return tl::unexpected(loaded.error());
  dirs_.commit(std::move(loaded->dir_files), std::move(dirs));
  file_cache_.sweep();
  default_cert_ = std::move(loaded->default_cert);
  fallback_ = std::move(loaded->fallback);
  files_ = std::move(loaded->files);

  // The store, read once: rows the config no longer serves are withdrawn unparsed.
  endpoints_ = served_endpoints(config);
  auto rows = storage_.load_certificates();
  if (!rows) return tl::unexpected(rows.error());
  std::vector<Withdrawn> withdrawn;
  std::vector<certstore::StoredCertificate> served;
  served.reserve(rows->size());
  for (auto& row : *rows) {
    if (const char* reason = withdraw_reason(endpoints_, row.endpoint_id, row.source)) {
      withdrawn.push_back({row.name_key, row.endpoint_id, reason});
    } else {
      served.push_back(std::move(row));
    }
  }
  stored_ = parse_stored(std::move(served), pool_);
  rebuild();
  log_fallback();
  mark_withdrawn(storage_, withdrawn);
  return {};
}

boost::asio::awaitable<Result<CertCatalog::Prepared>> CertCatalog::prepare(const domain::Config& next) {
  auto dirs = certificate_dirs(next);
  if (auto st = watcher_->watch(dirs); !st) co_return tl::unexpected(st.error().with_context("certificate_dir"));
  // Folders are read again in full (unchanged files come from the cache), off the control thread.
  preparing_ = true;
  auto loaded = co_await pool_.run([&] { return load_files(next, dirs, /*strict=*/false); });
  preparing_ = false;
  if (!loaded) co_return tl::unexpected(loaded.error());
  Prepared prepared;
  prepared.default_cert = std::move(loaded->default_cert);
  prepared.fallback = std::move(loaded->fallback);
  prepared.files = std::move(loaded->files);
  prepared.dir_files = std::move(loaded->dir_files);
  prepared.dirs = std::move(dirs);
  prepared.endpoints = served_endpoints(next);
  prepared.withdrawn = withdrawn_by(prepared.endpoints, stored_);
  co_return prepared;
}

void CertCatalog::abandon() {
  if (auto st = watcher_->watch(dirs_.dirs()); !st) log::proxy()->error("{}", st.error().message());
  replay_deferred();
}

void CertCatalog::replay_deferred() {
  if (deferred_.empty() && !deferred_overflow_) return;
  auto changed = std::move(deferred_);
  deferred_.clear();
  const bool overflow = std::exchange(deferred_overflow_, false);
  on_folder_files(std::move(changed), overflow);
}

boost::asio::awaitable<std::size_t> CertCatalog::commit(Prepared prepared) {
  dirs_.commit(std::move(prepared.dir_files), std::move(prepared.dirs));
  file_cache_.sweep();
  default_cert_ = std::move(prepared.default_cert);
  fallback_ = std::move(prepared.fallback);
  files_ = std::move(prepared.files);
  endpoints_ = std::move(prepared.endpoints);
  for (const auto& w : prepared.withdrawn) stored_.erase(w.name_key);
  rebuild();
  log_fallback();
  replay_deferred();
  const auto served = current()->size();
  if (!prepared.withdrawn.empty()) {
    auto marked = co_await pool_.store([&] { mark_withdrawn(storage_, prepared.withdrawn); });
    if (!marked) log::proxy()->error("withdrawn certificates not marked error=\"{}\"", marked.error().message());
  }
  co_return served;
}

Status CertCatalog::put_stored(const std::string& name_key, Stored stored) {
  if (!stored.bundle) return fail(Errc::invalid_input, "certificate catalog: no bundle for " + name_key);
  const auto source = stored.bundle->source();
  const bool platform = domain::is_platform_certificate(stored.endpoint_id);
  if (platform ? source != CertSource::fallback : source != CertSource::managed && source != CertSource::transitional) {
    return fail(Errc::invalid_input, fmt::format("certificate catalog: {} is a {} certificate, not a stored one",
                                                 name_key, certstore::to_string(source)));
  }
  if (const char* reason = withdraw_reason(endpoints_, stored.endpoint_id, source)) {
    // Its endpoint went (or stopped being managed) while it was issued: kept for audit only.
    std::vector<Withdrawn> withdrawn{{name_key, stored.endpoint_id, reason}};
    pool_.post_store([&storage = storage_, withdrawn] { mark_withdrawn(storage, withdrawn); });
    if (stored_.count(name_key)) remove_stored(name_key);
    return {};
  }
  if (platform) {
    // The platform wildcard takes the fallback slot (unless the operator configured their own):
    // the index is untouched, so this costs one snapshot copy.
    stored_.insert_or_assign(name_key, std::move(stored));
    if (!fallback_) publish(current()->with_fallback(platform_bundle()));
    log_fallback();
    return {};
  }
  file_under_owner(stored);
  std::vector<CertBundlePtr> removed, added{stored.indexed};
  if (auto it = stored_.find(name_key); it != stored_.end()) {
    removed.push_back(it->second.indexed);
    it->second = std::move(stored);
  } else {
    stored_.emplace(name_key, std::move(stored));
  }
  publish(current()->with_changes(removed, added), removed, added);
  return {};
}

bool CertCatalog::remove_stored(const std::string& name_key) {
  auto it = stored_.find(name_key);
  if (it == stored_.end()) return false;
  if (domain::is_platform_certificate(it->second.endpoint_id)) {
    stored_.erase(it);
    publish(current()->with_fallback(fallback_));
    return true;
  }
  std::vector<CertBundlePtr> removed{it->second.indexed};
  stored_.erase(it);
  publish(current()->with_changes(removed, {}), removed, {});
  return true;
}

const CertCatalog::Stored* CertCatalog::stored(const std::string& name_key) const {
  auto it = stored_.find(name_key);
  return it == stored_.end() ? nullptr : &it->second;
}

void CertCatalog::on_folder_files(std::vector<fs::path> changed, bool overflow) {
  if (preparing_) {
    deferred_.insert(deferred_.end(), changed.begin(), changed.end());
    deferred_overflow_ = deferred_overflow_ || overflow;
    return;
  }
  certstore::CertChanges changes;
  if (overflow) {
    log::proxy()->warn("certificate folder events overflowed: rescanning every folder");
    auto files = dirs_.scan(dirs_.dirs(), /*strict=*/false);
    if (!files) {
      log::proxy()->error("certificate folder rescan failed: {}", files.error().message());
      return;
    }
    changes = dirs_.commit(std::move(*files), dirs_.dirs());
  } else {
    for (const auto& file : changed) {
      auto one = dirs_.refresh(file);
      changes.removed.insert(changes.removed.end(), one.removed.begin(), one.removed.end());
      changes.added.insert(changes.added.end(), one.added.begin(), one.added.end());
    }
  }
  if (changes.empty()) return;
  auto next = current()->with_changes(changes.removed, changes.added);
  log::proxy()->debug("certificates published removed={} added={} certificates={} overlay={}", changes.removed.size(),
                      changes.added.size(), next->size(), next->overlay_size());
  publish(std::move(next), changes.removed, changes.added);
}

boost::asio::awaitable<void> CertCatalog::verify_pending() {
  std::vector<CertBundlePtr> pending;
  auto note = [&pending](const CertBundlePtr& b) {
    if (b && b->pending()) pending.push_back(b);
  };
  for (const auto& [file, bundle] : dirs_.files()) note(bundle);
  for (const auto& [name_key, s] : stored_) note(s.bundle);
  if (pending.empty()) co_return;
  const auto started = std::chrono::steady_clock::now();
  // In slices, one pool call each, so the store's calls and reloads interleave with this.
  constexpr std::size_t slice = 512;
  std::size_t failed = 0;
  for (std::size_t at = 0; at < pending.size(); at += slice) {
    const std::size_t end = std::min(pending.size(), at + slice);
    auto bad = co_await pool_.run([&] {
      std::size_t n = 0;
      for (std::size_t i = at; i < end; ++i) n += pending[i]->materialize() ? 0 : 1;  // each failure is logged
      return n;
    });
    if (bad) failed += *bad;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log::proxy()->info("certificates verified count={} failed={} duration_ms={}", pending.size(), failed, ms.count());
}

void CertCatalog::stop() {
  if (watcher_) watcher_->stop();
  expiry_timer_.cancel();
}

void CertCatalog::rebuild() {
  certstore::CertSnapshot::Builder builder;
  builder.default_cert(default_cert_);
  builder.fallback(fallback_ ? fallback_ : platform_bundle());
  for (const auto& b : files_) builder.add(b);
  for (const auto& [file, bundle] : dirs_.files()) builder.add(bundle);
  for (auto& [name_key, s] : stored_) {
    if (domain::is_platform_certificate(s.endpoint_id)) continue;
    file_under_owner(s);
    builder.add(s.indexed);
  }
  publish(builder.build());
}

void CertCatalog::file_under_owner(Stored& s) const {
  auto ep = endpoints_.find(s.endpoint_id);
  if (ep == endpoints_.end()) {  // no endpoint owns it (withdrawn): it answers for no name
    if (!s.indexed || s.indexed == s.bundle || !s.indexed->index_names().empty()) {
      s.indexed = CertBundle::indexed_as(s.bundle, {});
    }
    return;
  }
  const auto& names = s.bundle->names();
  const auto& hostnames = ep->second.hostnames;
  if (names.size() == hostnames.size() && std::is_permutation(names.begin(), names.end(), hostnames.begin())) {
    s.indexed = s.bundle;  // the usual case (a managed certificate): its names are the endpoint's
    return;
  }
  auto owned = s.bundle->owned_names(hostnames);
  if (owned == names) {
    s.indexed = s.bundle;
  } else if (!s.indexed || s.indexed == s.bundle || s.indexed->index_names() != owned) {
    s.indexed = CertBundle::indexed_as(s.bundle, std::move(owned));
  }
}

std::vector<CertCatalog::Served> CertCatalog::served() const {
  std::vector<Served> out;
  auto add = [&out](std::string endpoint, std::string_view source, const CertBundlePtr& bundle) {
    if (!bundle) return;
    out.push_back({std::move(endpoint), source, bundle->names().empty() ? std::string() : bundle->names().front(),
                   bundle->not_after()});
  };
  add({}, "default", default_cert_);
  if (fallback_) add({}, "platform", fallback_);
  for (const auto& b : files_) add({}, "file", b);
  for (const auto& [file, bundle] : dirs_.files()) add({}, "file", bundle);
  for (const auto& [name_key, s] : stored_) {
    if (domain::is_platform_certificate(s.endpoint_id)) {
      // Served in the fallback slot unless tls.fallback_cert takes it.
      if (!fallback_) add(s.endpoint_id, "platform", s.bundle);
    } else {
      add(s.endpoint_id, s.bundle->source() == certstore::CertSource::managed ? "managed" : "transitional", s.bundle);
    }
  }
  return out;
}

CertBundlePtr CertCatalog::platform_bundle() const {
  const auto* platform = stored(std::string(domain::platform_certificate_id));
  return platform ? platform->bundle : nullptr;
}

void CertCatalog::log_fallback() const {
  if (fallback_) {
    log::proxy()->info("fallback certificate source=tls.fallback_cert names={} serial={} platform_wildcard=not_ordered",
                       fmt::join(fallback_->names(), ","), fallback_->serial_hex());
  } else if (endpoints_.contains(std::string(domain::platform_certificate_id))) {
    if (auto platform = platform_bundle()) {
      log::proxy()->info("fallback certificate source=platform_wildcard names={} serial={} issuer=\"{}\"",
                         fmt::join(platform->names(), ","), platform->serial_hex(), platform->issuer_cn());
    } else {
      log::proxy()->info("fallback certificate source=platform_wildcard state=not_issued_yet (the default "
                         "certificate answers meanwhile)");
    }
  } else {
    log::proxy()->info("fallback certificate source=none (the default certificate answers names nothing covers)");
  }
}

void CertCatalog::publish(certstore::CertSnapshotPtr snapshot) {
  auto next_expiry = snapshot->next_expiry();
  registry_.publish(snapshot);
  arm_expiry(next_expiry);
  if (on_publish_) on_publish_(*snapshot, nullptr);
}

void CertCatalog::publish(certstore::CertSnapshotPtr snapshot, const std::vector<CertBundlePtr>& removed,
                          const std::vector<CertBundlePtr>& added) {
  auto next_expiry = snapshot->next_expiry();
  registry_.publish(snapshot);
  arm_expiry(next_expiry);
  if (!on_publish_) return;
  std::vector<std::string> names;
  for (const auto* list : {&removed, &added}) {
    for (const auto& bundle : *list) names.insert(names.end(), bundle->names().begin(), bundle->names().end());
  }
  on_publish_(*snapshot, &names);
}

void CertCatalog::arm_expiry(std::optional<certstore::Clock::time_point> next_expiry) {
  expiry_timer_.cancel();
  if (!next_expiry) return;
  const auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(*next_expiry -
                                                                                   certstore::Clock::now());
  expiry_timer_.expires_after(wait + expiry_margin);
  expiry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    log::proxy()->info("a certificate expired: rebuilding the SNI index");
    rebuild();
  });
}

}  // namespace portcullis::control
