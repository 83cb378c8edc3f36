#include "control/endpoint_service.hpp"

#include <algorithm>
#include <array>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/rand.h>

#include "base/logging.hpp"
#include "base/quote.hpp"
#include "domain/platform_names.hpp"

namespace portcullis::control {
namespace {

using base::quote;
using domain::EndpointConfig;

// Ids made here: "ep-" and this many characters of a base32 alphabet (40 bits), DNS-safe.
constexpr std::size_t generated_id_chars = 8;
// Fresh ids tried before giving up (a clash is a one-in-a-trillion event per try).
constexpr int generated_id_attempts = 16;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

certstore::StoredEndpoint to_row(const EndpointConfig& e, std::int64_t created) {
  certstore::StoredEndpoint row;
  row.id = e.id;
  row.hostnames = e.hostnames;
  row.scope = std::string(to_string(e.scope));
  for (const auto& u : e.upstreams) row.upstreams.push_back(u.to_string());
  for (const auto& c : e.ip_allowlist) row.ip_allowlist.push_back(c.to_string());
  row.managed_https = e.managed_https;
  row.created_unix = created;
  return row;
}

// A stored row as a spec, for domain::validate. An unknown scope is reported by the caller.
domain::EndpointSpec to_spec(const certstore::StoredEndpoint& row) {
  domain::EndpointSpec spec;
  spec.id = row.id;
  spec.hostnames = row.hostnames;
  spec.scope = row.scope == "internal" ? domain::Scope::internal : domain::Scope::external;
  spec.upstreams = row.upstreams;
  spec.ip_allowlist = row.ip_allowlist;
  spec.managed_https = row.managed_https;
  return spec;
}

// An endpoint already served, as validate_together expects it (every hostname its own item).
domain::EndpointCheck as_check(const EndpointConfig& e) {
  domain::EndpointCheck check;
  check.endpoint = e;
  for (std::size_t i = 0; i < e.hostnames.size(); ++i) check.hostname_items.push_back(i);
  return check;
}

std::vector<FieldProblem> field_problems(const std::vector<domain::Problem>& problems) {
  std::vector<FieldProblem> out;
  for (const auto& p : problems) out.push_back({p.place.path(), p.message});
  return out;
}

}  // namespace

std::string_view to_string(domain::Scope scope) noexcept {
  return scope == domain::Scope::internal ? "internal" : "external";
}

domain::EndpointSpec to_spec(const EndpointConfig& endpoint) {
  domain::EndpointSpec spec;
  spec.id = endpoint.id;
  spec.hostnames = endpoint.hostnames;
  spec.scope = endpoint.scope;
  spec.upstreams.emplace();
  for (const auto& u : endpoint.upstreams) spec.upstreams->push_back(u.to_string());
  for (const auto& c : endpoint.ip_allowlist) spec.ip_allowlist.push_back(c.to_string());
  spec.managed_https = endpoint.managed_https;
  return spec;
}

EndpointService::EndpointService(certstore::Storage& storage, base::BlockingPool& pool,
                                 boost::asio::any_io_executor executor)
    : storage_(storage), pool_(pool), now_(unix_now), mutex_(std::move(executor)) {}

std::string EndpointService::generate_id(const std::function<bool(const std::string&)>& taken) {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string id;
  for (int attempt = 0; attempt < generated_id_attempts; ++attempt) {
    std::array<unsigned char, generated_id_chars> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) break;
    id = "ep-";
    for (unsigned char b : bytes) id += alphabet[b & 31];
    if (!taken(id)) return id;
  }
  return {};
}

Status EndpointService::load() {
  auto rows = storage_.load_endpoints();
  if (!rows) return tl::unexpected(rows.error());
  auto tombstones = storage_.load_endpoint_tombstones(now_() - id_reuse_after_seconds);
  if (!tombstones) return tl::unexpected(tombstones.error());
  for (const auto& t : *tombstones) tombstones_[t.id] = t.deleted_unix;
  for (const auto& row : *rows) {
    auto check = domain::validate(to_spec(row));
    if (row.scope != "external" && row.scope != "internal") {
      check.problems.push_back(
          {{0, "scope", std::nullopt}, "expected \"external\" or \"internal\", got " + quote(row.scope)});
    }
    if (!check.ok()) {
      std::vector<std::string> texts;
      for (const auto& p : check.problems) texts.push_back(p.text());
      log::proxy()->error("stored endpoint not served id={} problems=\"{}\"", row.id, fmt::join(texts, "; "));
      continue;
    }
    // Rows come ordered by id (and ids are unique): each goes in at the end, without a search.
    created_.emplace_hint(created_.end(), row.id, row.created_unix);
    stored_.emplace_hint(stored_.end(), row.id, std::move(check.endpoint));
  }
  return {};
}

std::vector<EndpointConfig> EndpointService::served(const std::map<std::string, EndpointConfig>& stored) const {
  std::vector<EndpointConfig> out = file_;
  for (const auto& [id, e] : stored) out.push_back(e);
  return out;
}

bool EndpointService::is_file_endpoint(const std::string& id) const {
  return std::any_of(file_.begin(), file_.end(), [&](const auto& e) { return e.id == id; });
}

void EndpointService::set_aside_clashes(const std::vector<EndpointConfig>& file) {
  for (auto it = stored_.begin(); it != stored_.end();) {
    std::vector<domain::EndpointCheck> checks;
    for (const auto& e : file) checks.push_back(as_check(e));
    checks.push_back(as_check(it->second));
    const std::size_t self = file.size();
    auto cite = [&](const domain::Place& place) {
      return fmt::format("the configuration file's endpoint {}", quote(checks.at(place.endpoint).endpoint.id));
    };
    std::vector<std::string> texts;
    for (const auto& p : domain::validate_together(checks, cite)) {
      if (p.place.endpoint == self) texts.push_back(p.text());
    }
    if (texts.empty()) {
      ++it;
      continue;
    }
    log::proxy()->error("stored endpoint not served id={} problems=\"{}\" (the file's endpoint wins; the stored "
                        "one is served again after a restart without the clash)",
                        it->first, fmt::join(texts, "; "));
    it = stored_.erase(it);
  }
}

Result<std::vector<EndpointConfig>> EndpointService::merge(const std::vector<EndpointConfig>& file) const {
  std::vector<domain::EndpointCheck> checks;
  std::vector<bool> from_file;
  for (const auto& e : file) {
    checks.push_back(as_check(e));
    from_file.push_back(true);
  }
  for (const auto& [id, e] : stored_) {
    checks.push_back(as_check(e));
    from_file.push_back(false);
  }
  auto cite = [&](const domain::Place& place) {
    return fmt::format("{} endpoint {}", from_file.at(place.endpoint) ? "the configuration file's" : "the stored",
                       quote(checks.at(place.endpoint).endpoint.id));
  };
  auto problems = domain::validate_together(checks, cite);
  if (problems.empty()) {
    std::vector<EndpointConfig> out;
    for (auto& c : checks) out.push_back(std::move(c.endpoint));
    return out;
  }
  std::vector<std::string> texts;
  for (const auto& p : problems) {
    texts.push_back(fmt::format("endpoint {} (created through the admin API) {}: {}",
                                quote(checks.at(p.place.endpoint).endpoint.id), p.place.path(), p.message));
  }
  return fail(Errc::config, fmt::format("{}; change or delete it through the admin API first", fmt::join(texts, "; ")));
}

std::vector<EndpointEntry> EndpointService::list() const {
  std::vector<EndpointEntry> out;
  for (const auto& e : file_) out.push_back({e, true});
  for (const auto& [id, e] : stored_) out.push_back({e, false});
  return out;
}

std::optional<EndpointEntry> EndpointService::find(const std::string& id) const {
  for (const auto& e : file_)
    if (e.id == id) return EndpointEntry{e, true};
  if (auto it = stored_.find(id); it != stored_.end()) return EndpointEntry{it->second, false};
  return std::nullopt;
}

std::optional<std::int64_t> EndpointService::tombstone(const std::string& id) const {
  auto it = tombstones_.find(id);
  if (it == tombstones_.end() || it->second + id_reuse_after_seconds <= now_()) return std::nullopt;
  return it->second;
}

ChangeError EndpointService::reused_id(const std::string& id, std::int64_t deleted) const {
  const std::int64_t free_at = deleted + id_reuse_after_seconds;
  auto date = [](std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
  };
  return ChangeError{
      Errc::conflict,
      fmt::format("endpoint id {} was deleted at {} and can be used again from {}: an id is kept {} days after "
                  "its deletion, as a customer's DNS may still point at its platform host",
                  quote(id), date(deleted), date(free_at), id_reuse_after_seconds / (24 * 3600)),
      {{"id", fmt::format("expected an id not deleted in the last {} days, got {} (free from {})",
                          id_reuse_after_seconds / (24 * 3600), quote(id), date(free_at))}}};
}

ChangeResult<EndpointConfig> EndpointService::check(const domain::EndpointSpec& spec) const {
  auto checked = domain::validate(spec);
  if (checked.ok()) checked.problems = domain::check_rules(checked, rules_);
  if (!checked.ok()) {
    return tl::unexpected(ChangeError{Errc::invalid_input, "the endpoint breaks the endpoint rules",
                                      field_problems(checked.problems)});
  }
  // The rules across endpoints, against every other endpoint served; the checked one last.
  std::vector<domain::EndpointCheck> checks;
  std::vector<bool> from_file;
  for (const auto& e : file_) {
    checks.push_back(as_check(e));
    from_file.push_back(true);
  }
  for (const auto& [id, e] : stored_) {
    if (id == checked.endpoint.id) continue;
    checks.push_back(as_check(e));
    from_file.push_back(false);
  }
  const std::size_t self = checks.size();
  checks.push_back(checked);
  from_file.push_back(false);
  auto cite = [&](const domain::Place& place) {
    if (place.endpoint == self) return place.path();
    return fmt::format("endpoint {}{}", quote(checks.at(place.endpoint).endpoint.id),
                       from_file.at(place.endpoint) ? " of the configuration file" : "");
  };
  std::vector<domain::Problem> own;
  for (auto& p : domain::validate_together(checks, cite)) {
    if (p.place.endpoint == self) own.push_back(std::move(p));
  }
  for (auto& p : domain::check_platform_names(checks, rules_.zone, cite)) {
    if (p.place.endpoint == self) own.push_back(std::move(p));
  }
  // A deleted endpoint's platform names stay its own while its id does: a customer's CNAME may
  // still point there, and the endpoint listing such a name would receive that traffic.
  for (std::size_t h = 0; !rules_.zone.empty() && h < checked.endpoint.hostnames.size(); ++h) {
    const auto& name = checked.endpoint.hostnames[h];
    const std::string owner(domain::platform_owner(name, rules_.zone));
    if (owner.empty() || owner == checked.endpoint.id) continue;
    if (auto deleted = tombstone(owner)) {
      own.push_back({{self, "hostnames", checked.hostname_items.at(h)},
                     fmt::format("expected a name no recently deleted endpoint's platform names use, got {} (a "
                                 "platform name of endpoint {}, deleted less than {} days ago)",
                                 quote(name), quote(owner), id_reuse_after_seconds / (24 * 3600))});
    }
  }
  if (!own.empty()) {
    return tl::unexpected(
        ChangeError{Errc::invalid_input, "the endpoint clashes with another endpoint", field_problems(own)});
  }
  return std::move(checked.endpoint);
}

boost::asio::awaitable<ChangeResult<EndpointEntry>> EndpointService::create(domain::EndpointSpec spec) {
  auto lock = co_await mutex_.lock();
  if (!lock) co_return tl::unexpected(ChangeError{Errc::cancelled, "stopped before the change was made", {}});
  if (const std::size_t served = file_.size() + stored_.size(); served >= rules_.max_endpoints) {
    co_return tl::unexpected(ChangeError{
        Errc::invalid_input, fmt::format("{} endpoints are served, the most limits.max_endpoints ({}) allows", served,
                                           rules_.max_endpoints),
        {}});
  }
  if (spec.id) {
    if (auto deleted = tombstone(*spec.id); deleted && !find(*spec.id)) {
      co_return tl::unexpected(reused_id(*spec.id, *deleted));
    }
    if (find(*spec.id)) {
      co_return tl::unexpected(ChangeError{
          Errc::conflict,
          fmt::format("an endpoint with id {} exists{}", quote(*spec.id),
                      is_file_endpoint(*spec.id) ? " (in the configuration file)" : ""),
          {{"id", "expected an id no endpoint has, got " + quote(*spec.id)}}});
    }
  } else {
    spec.id = generate_id([this](const std::string& id) { return find(id).has_value() || tombstone(id); });
    if (spec.id->empty()) co_return tl::unexpected(ChangeError{Errc::internal, "no random id could be made", {}});
  }
  auto endpoint = check(spec);
  if (!endpoint) co_return tl::unexpected(endpoint.error());
  const std::string id = endpoint->id;
  auto done = co_await commit(id, *endpoint);
  if (!done) co_return tl::unexpected(done.error());
  log::proxy()->info("endpoint created id={} hostnames={} scope={} upstreams={} managed_https={}", id,
                     fmt::join(endpoint->hostnames, ","), to_string(endpoint->scope), endpoint->upstreams.size(),
                     endpoint->managed_https);
  co_return EndpointEntry{std::move(*endpoint), false};
}

boost::asio::awaitable<ChangeResult<EndpointEntry>> EndpointService::update(std::string id, EndpointPatch patch) {
  auto lock = co_await mutex_.lock();
  if (!lock) co_return tl::unexpected(ChangeError{Errc::cancelled, "stopped before the change was made", {}});
  if (is_file_endpoint(id)) {
    co_return tl::unexpected(ChangeError{
        Errc::conflict,
        fmt::format("endpoint {} comes from the configuration file and is read-only here: change it in the file "
                    "and reload",
                    quote(id)),
        {},
        true});
  }
  auto it = stored_.find(id);
  if (it == stored_.end()) {
    co_return tl::unexpected(ChangeError{Errc::not_found, fmt::format("no endpoint with id {}", quote(id)), {}});
  }
  domain::EndpointSpec spec = to_spec(it->second);
  if (patch.hostnames) spec.hostnames = std::move(*patch.hostnames);
  if (patch.scope) spec.scope = *patch.scope;
  if (patch.upstreams) spec.upstreams = std::move(*patch.upstreams);
  if (patch.ip_allowlist) spec.ip_allowlist = std::move(*patch.ip_allowlist);
  if (patch.managed_https) spec.managed_https = *patch.managed_https;
  auto endpoint = check(spec);
  if (!endpoint) co_return tl::unexpected(endpoint.error());
  auto done = co_await commit(id, *endpoint);
  if (!done) co_return tl::unexpected(done.error());
  log::proxy()->info("endpoint changed id={} hostnames={} scope={} upstreams={} managed_https={}", id,
                     fmt::join(endpoint->hostnames, ","), to_string(endpoint->scope), endpoint->upstreams.size(),
                     endpoint->managed_https);
  co_return EndpointEntry{std::move(*endpoint), false};
}

boost::asio::awaitable<ChangeResult<bool>> EndpointService::remove(std::string id) {
  auto lock = co_await mutex_.lock();
  if (!lock) co_return tl::unexpected(ChangeError{Errc::cancelled, "stopped before the change was made", {}});
  if (is_file_endpoint(id)) {
    co_return tl::unexpected(ChangeError{
        Errc::conflict,
        fmt::format("endpoint {} comes from the configuration file and is read-only here: remove it from the file "
                    "and reload",
                    quote(id)),
        {},
        true});
  }
  if (!stored_.count(id)) {
    co_return tl::unexpected(ChangeError{Errc::not_found, fmt::format("no endpoint with id {}", quote(id)), {}});
  }
  // The tombstone first: a deletion the store does not remember could hand the id out again.
  const certstore::EndpointTombstone grave{id, now_()};
  auto buried = co_await pool_.store([&] { return storage_.put_endpoint_tombstone(grave); });
  if (!buried) co_return tl::unexpected(ChangeError{buried.error().code(), buried.error().message(), {}});
  auto done = co_await commit(id, std::nullopt);
  if (!done) co_return tl::unexpected(done.error());
  tombstones_[id] = grave.deleted_unix;
  log::proxy()->info("endpoint deleted id={}", id);
  co_return true;
}

boost::asio::awaitable<ChangeResult<bool>> EndpointService::commit(std::string id,
                                                                   std::optional<EndpointConfig> next) {
  auto updated = stored_;
  const auto created = created_.count(id) ? created_.at(id) : unix_now();
  std::optional<certstore::StoredEndpoint> row, previous_row;
  if (next) {
    updated[id] = *next;
    row = to_row(*next, created);
  } else {
    updated.erase(id);
  }
  if (auto it = stored_.find(id); it != stored_.end()) previous_row = to_row(it->second, created);
  // Stored first: what is served never runs ahead of what a restart would serve.
  auto write = [&](const std::optional<certstore::StoredEndpoint>& r) {
    return r ? storage_.put_endpoint(*r) : storage_.delete_endpoint(id);
  };
  auto stored = co_await pool_.store([&] { return write(row); });
  if (!stored) co_return tl::unexpected(ChangeError{stored.error().code(), stored.error().message(), {}});
  auto list = served(updated);
  auto applied = co_await apply_(std::move(list));
  if (!applied) {
    auto restored = co_await pool_.store([&] { return write(previous_row); });
    if (!restored) {
      log::proxy()->error("endpoint change not applied and the store not restored id={} error=\"{}\"", id,
                          restored.error().message());
    }
    co_return tl::unexpected(
        ChangeError{applied.error().code(), "the change could not be applied: " + applied.error().message(), {}});
  }
  stored_ = std::move(updated);
  if (next) {
    created_[id] = created;
  } else {
    created_.erase(id);
  }
  co_return true;
}

}  // namespace portcullis::control
