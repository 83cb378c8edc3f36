// EndpointService: the endpoints created at run time (through the admin API). They are kept in the
// store, served beside the configuration file's endpoints (which it lists as read-only), checked
// by the same domain/ rules as the file, and applied through the composition root's apply path —
// the one a reload takes — so a change is served at once: routes, platform zone, SNI, managed
// certificates.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "base/async_mutex.hpp"
#include "base/blocking_pool.hpp"
#include "base/error.hpp"
#include "certstore/storage.hpp"
#include "domain/endpoint.hpp"
#include "domain/endpoint_rules.hpp"

namespace portcullis::control {

// An endpoint as listed: from the configuration file (read-only) or created at run time.
struct EndpointEntry {
  domain::EndpointConfig endpoint;
  bool read_only = false;
};

// A change to an endpoint created at run time: the fields given, each replacing the current one.
struct EndpointPatch {
  std::optional<std::vector<std::string>> hostnames;
  std::optional<domain::Scope> scope;
  std::optional<std::vector<std::string>> upstreams;
  std::optional<std::vector<std::string>> ip_allowlist;
  std::optional<bool> managed_https;
};

// A problem with one field of a request, by its path in the endpoint ("hostnames[1]").
struct FieldProblem {
  std::string field;
  std::string detail;
};

// Why a change was refused. `code`: invalid_input (the rules: `problems` lists each), not_found,
// conflict (the id exists, or the endpoint comes from the configuration file), or the failure of
// the store or of applying the change (storage, io, config, internal).
struct ChangeError {
  Errc code = Errc::internal;
  std::string detail;
  std::vector<FieldProblem> problems;
  bool read_only = false;  // conflict: the endpoint comes from the configuration file
};
template <class T>
using ChangeResult = tl::expected<T, ChangeError>;

class EndpointService {
 public:
  // Serves `endpoints` (the file's, then the stored ones, merged): the same apply path as a
  // reload. Called on the control thread with the service's mutex held.
  using Apply = std::function<boost::asio::awaitable<Status>(std::vector<domain::EndpointConfig> endpoints)>;

  // `storage` and `pool` must outlive the service. Every call on `executor`'s thread (the control
  // thread); none blocks but load().
  EndpointService(certstore::Storage& storage, base::BlockingPool& pool, boost::asio::any_io_executor executor);

  // Start-up, before the control loop runs (blocking): reads the stored endpoints. A stored
  // endpoint that no longer passes domain::validate is logged and left out. Errors: the store's.
  Status load();
  // Start-up: a stored endpoint whose id or hostname the configuration file now gives to an
  // endpoint of its own (edited while the process was stopped) is not served — the file wins —
  // and logged with the clash; its row stays, so it is back at the first start without the clash.
  void set_aside_clashes(const std::vector<domain::EndpointConfig>& file);
  // The list to serve: `file` then the stored endpoints, in id order. An id or hostname claimed by
  // both is an Errc::config error naming the stored endpoint and the file's (a reload is then
  // rejected). Pure.
  Result<std::vector<domain::EndpointConfig>> merge(const std::vector<domain::EndpointConfig>& file) const;
  // The configuration file's endpoints now served (after start and each applied reload).
  void set_file_endpoints(std::vector<domain::EndpointConfig> file) { file_ = std::move(file); }
  void set_apply(Apply apply) { apply_ = std::move(apply); }
  // The deployment's rules (domain::endpoint_rules of the configuration in force), checked on
  // every create and update; set at start and on each applied reload.
  void set_rules(domain::EndpointRules rules) { rules_ = std::move(rules); }
  // The clock for tombstones (unix seconds); tests move it.
  void set_clock(std::function<std::int64_t()> now) { now_ = std::move(now); }

  // How long an id deleted through the admin API stays unusable: a customer's CNAME may still
  // point at its platform host, and a new endpoint with the id would receive that traffic.
  static constexpr std::int64_t id_reuse_after_seconds = 30LL * 24 * 3600;

  // Every endpoint served: the file's (read-only), then the stored ones.
  std::vector<EndpointEntry> list() const;
  std::optional<EndpointEntry> find(const std::string& id) const;

  // Validates, stores and applies a new endpoint; an id is generated when `spec.id` is absent.
  // Refused: an id deleted less than id_reuse_after_seconds ago (conflict, saying when it frees
  // up), and any endpoint once limits.max_endpoints are served (invalid_input).
  boost::asio::awaitable<ChangeResult<EndpointEntry>> create(domain::EndpointSpec spec);
  // Changes the fields `patch` gives of a stored endpoint.
  boost::asio::awaitable<ChangeResult<EndpointEntry>> update(std::string id, EndpointPatch patch);
  // Deletes a stored endpoint; what is served for it goes with it (its certificates are withdrawn).
  // Its id gets a tombstone in the store first (see id_reuse_after_seconds).
  boost::asio::awaitable<ChangeResult<bool>> remove(std::string id);

  // Held by every change, and by a reload around its merge and apply, so they never interleave.
  base::AsyncMutex& mutex() noexcept { return mutex_; }

  // A fresh id: "ep-" and 8 characters a-z0-9 (DNS-safe, short), used by no endpoint `taken`.
  static std::string generate_id(const std::function<bool(const std::string&)>& taken);

 private:
  // Checks `spec` (under `id`, new or replacing its stored endpoint) against the rules and every
  // other endpoint served; the endpoint to store, or every problem.
  ChangeResult<domain::EndpointConfig> check(const domain::EndpointSpec& spec) const;
  // Stores `next` (or deletes `id` when `next` is empty) and applies the new list; on a failed
  // apply the store is put back.
  boost::asio::awaitable<ChangeResult<bool>> commit(std::string id, std::optional<domain::EndpointConfig> next);
  std::vector<domain::EndpointConfig> served(const std::map<std::string, domain::EndpointConfig>& stored) const;
  bool is_file_endpoint(const std::string& id) const;
  // When `id` was deleted, if that was less than id_reuse_after_seconds ago.
  std::optional<std::int64_t> tombstone(const std::string& id) const;
  // The problem of creating `id` while it has a tombstone.
  ChangeError reused_id(const std::string& id, std::int64_t deleted) const;

  certstore::Storage& storage_;
  base::BlockingPool& pool_;
  std::vector<domain::EndpointConfig> file_;
  std::map<std::string, domain::EndpointConfig> stored_;  // id -> endpoint, created at run time
  std::map<std::string, std::int64_t> created_;          // id -> creation time, kept across updates
  Apply apply_;
  domain::EndpointRules rules_;
  std::map<std::string, std::int64_t> tombstones_;  // id -> when it was deleted (unix seconds)
  std::function<std::int64_t()> now_;
  base::AsyncMutex mutex_;
};

// The spec an endpoint was built from (normalised values as written back).
domain::EndpointSpec to_spec(const domain::EndpointConfig& endpoint);
std::string_view to_string(domain::Scope scope) noexcept;

}  // namespace portcullis::control
