#include "control/alert_book.hpp"

#include <algorithm>
#include <ctime>
#include <functional>
#include <set>
#include <utility>

#include "base/logging.hpp"

namespace portcullis::control {
namespace {

domain::AlertSeverity severity_from(std::string_view text) {
  return text == "critical" ? domain::AlertSeverity::critical : domain::AlertSeverity::warning;
}

void log_unsaved(const Status& st) {
  if (!st) log::alerts()->warn("alert not saved error=\"{}\"", st.error().message());
}

}  // namespace

std::string_view to_string(AlertEvent event) noexcept {
  switch (event) {
    case AlertEvent::firing: return "firing";
    case AlertEvent::escalated: return "escalated";
    case AlertEvent::resolved: return "resolved";
  }
  return "resolved";
}

AlertBook::AlertBook(certstore::Storage& storage, base::BlockingPool& pool, AlertBookOptions options)
    : storage_(storage), pool_(pool), options_(std::move(options)) {}

std::int64_t AlertBook::now() const {
  return options_.now ? options_.now() : static_cast<std::int64_t>(std::time(nullptr));
}

Status AlertBook::load() {
  auto stored = storage_.load_alerts();
  if (!stored) return tl::unexpected(stored.error().with_context("alerts"));
  for (auto& s : *stored) {
    Alert a;
    a.id = s.id;
    a.check = std::move(s.check);
    auto kind = domain::alert_kind_from_string(s.kind);
    if (!kind) {
      log::alerts()->warn("stored alert of an unknown kind skipped id={} kind={}", s.id, s.kind);
      continue;
    }
    a.finding.kind = *kind;
    a.finding.severity = severity_from(s.severity);
    a.finding.endpoint_id = std::move(s.endpoint_id);
    a.finding.subject = std::move(s.subject);
    a.finding.expected = std::move(s.expected);
    a.finding.found = std::move(s.found);
    a.finding.fix = std::move(s.fix);
    a.firing = s.firing;
    a.first_seen = s.first_seen_unix;
    a.last_seen = s.last_seen_unix;
    a.resolved_at = s.resolved_unix;
    a.count = s.count;
    next_id_ = std::max(next_id_, a.id + 1);
    // A key firing twice (only a store edited by hand): the later episode wins, the earlier resolves.
    if (a.firing) {
      auto key = a.finding.key();
      if (auto it = firing_.find(key); it != firing_.end()) {
        auto& older = alerts_.at(it->second);
        older.firing = false;
        older.resolved_at = a.first_seen;
        auto st = storage_.put_alert(to_stored(older));
        if (!st) return tl::unexpected(st.error());
      }
      firing_[key] = a.id;
    }
    alerts_.emplace(a.id, std::move(a));
  }
  const auto cutoff = now() - std::chrono::duration_cast<std::chrono::seconds>(options_.keep_resolved).count();
  if (auto st = storage_.prune_alerts(cutoff, static_cast<std::int64_t>(options_.max_resolved)); !st) {
    return tl::unexpected(st.error().with_context("alerts"));
  }
  std::erase_if(alerts_, [&](const auto& e) { return !e.second.firing && e.second.resolved_at < cutoff; });
  log::alerts()->info("alerts loaded firing={} resolved={}", firing_.size(), alerts_.size() - firing_.size());
  return {};
}

certstore::StoredAlert AlertBook::to_stored(const Alert& a) {
  certstore::StoredAlert s;
  s.id = a.id;
  s.key = a.finding.key();
  s.check = a.check;
  s.kind = std::string(domain::to_string(a.finding.kind));
  s.severity = std::string(domain::to_string(a.finding.severity));
  s.endpoint_id = a.finding.endpoint_id;
  s.subject = a.finding.subject;
  s.expected = a.finding.expected;
  s.found = a.finding.found;
  s.fix = a.finding.fix;
  s.firing = a.firing;
  s.first_seen_unix = a.first_seen;
  s.last_seen_unix = a.last_seen;
  s.resolved_unix = a.resolved_at;
  s.count = a.count;
  return s;
}

void AlertBook::save(const Alert& alert) {
  pool_.post_store([&storage = storage_, stored = to_stored(alert)] { log_unsaved(storage.put_alert(stored)); });
}

void AlertBook::report(std::string_view check, std::string_view endpoint_id,
                       std::vector<domain::AlertFinding> findings) {
  const auto when = now();
  std::set<std::string> reported;
  for (auto& f : findings) {
    auto key = f.key();
    if (!reported.insert(key).second) continue;  // the same finding twice in one report
    if (auto it = firing_.find(key); it != firing_.end()) {
      auto& a = alerts_.at(it->second);
      const bool escalated =
          f.severity == domain::AlertSeverity::critical && a.finding.severity != domain::AlertSeverity::critical;
      ++a.count;
      a.last_seen = when;
      a.check = std::string(check);
      a.finding = std::move(f);  // the latest words: found, fix and severity may change
      save(a);
      if (escalated) {
        // Whoever was told of a warning must hear that it became critical; a fall back to a
        // warning is only recorded (the next event is its resolution).
        const auto& g = a.finding;
        log::alerts()->error("alert escalated check={} kind={} severity={} endpoint={} subject=\"{}\" found=\"{}\" "
                             "fix=\"{}\" id={}",
                             check, domain::to_string(g.kind), domain::to_string(g.severity), g.endpoint_id,
                             g.subject, g.found, g.fix, a.id);
        if (notifier_) notifier_->notify(a, AlertEvent::escalated);
      }
      continue;
    }
    Alert a;
    a.id = next_id_++;
    a.check = std::string(check);
    a.finding = std::move(f);
    a.first_seen = a.last_seen = when;
    const auto id = a.id;
    firing_[key] = id;
    const auto& stored = alerts_.emplace(id, std::move(a)).first->second;
    save(stored);
    const auto& g = stored.finding;
    log::alerts()->log(g.severity == domain::AlertSeverity::critical ? spdlog::level::err : spdlog::level::warn,
                       "alert firing check={} kind={} severity={} endpoint={} subject=\"{}\" expected=\"{}\" "
                       "found=\"{}\" fix=\"{}\" id={}",
                       check, domain::to_string(g.kind), domain::to_string(g.severity), g.endpoint_id, g.subject,
                       g.expected, g.found, g.fix, stored.id);
    if (notifier_) notifier_->notify(stored, AlertEvent::firing);
  }
  // What this check said before for this endpoint and no longer says.
  std::vector<std::int64_t> gone;
  for (const auto& [key, id] : firing_) {
    const auto& a = alerts_.at(id);
    if (a.check == check && a.finding.endpoint_id == endpoint_id && !reported.contains(key)) gone.push_back(id);
  }
  for (auto id : gone) resolve(id, when);
  if (!gone.empty()) prune();
}

void AlertBook::forget_endpoint(std::string_view endpoint_id) {
  if (endpoint_id.empty()) return;  // platform-wide alerts belong to no endpoint
  std::vector<std::int64_t> gone;
  for (const auto& [key, id] : firing_) {
    if (alerts_.at(id).finding.endpoint_id == endpoint_id) gone.push_back(id);
  }
  const auto when = now();
  for (auto id : gone) resolve(id, when);
  if (!gone.empty()) prune();
}

void AlertBook::resolve(std::int64_t id, std::int64_t when) {
  auto& a = alerts_.at(id);
  firing_.erase(a.finding.key());
  a.firing = false;
  a.resolved_at = when;
  save(a);
  log::alerts()->info("alert resolved check={} kind={} endpoint={} subject=\"{}\" firing_s={} count={} id={}", a.check,
                      domain::to_string(a.finding.kind), a.finding.endpoint_id, a.finding.subject,
                      when - a.first_seen, a.count, a.id);
  if (notifier_) notifier_->notify(a, AlertEvent::resolved);
}

void AlertBook::prune() {
  const auto cutoff = now() - std::chrono::duration_cast<std::chrono::seconds>(options_.keep_resolved).count();
  std::vector<std::pair<std::int64_t, std::int64_t>> resolved;  // (resolved_at, id)
  for (const auto& [id, a] : alerts_) {
    if (!a.firing) resolved.emplace_back(a.resolved_at, id);
  }
  std::sort(resolved.begin(), resolved.end(), std::greater<>());
  bool dropped = false;
  for (std::size_t i = 0; i < resolved.size(); ++i) {
    if (i >= options_.max_resolved || resolved[i].first < cutoff) {
      alerts_.erase(resolved[i].second);
      dropped = true;
    }
  }
  if (!dropped) return;
  pool_.post_store([&storage = storage_, cutoff, keep = static_cast<std::int64_t>(options_.max_resolved)] {
    log_unsaved(storage.prune_alerts(cutoff, keep));
  });
}

std::vector<Alert> AlertBook::list(StateFilter state, std::string_view endpoint_id) const {
  std::vector<Alert> out;
  for (const auto& [id, a] : alerts_) {
    if (state == StateFilter::firing && !a.firing) continue;
    if (state == StateFilter::resolved && a.firing) continue;
    if (!endpoint_id.empty() && a.finding.endpoint_id != endpoint_id) continue;
    out.push_back(a);
  }
  std::sort(out.begin(), out.end(), [](const Alert& x, const Alert& y) {
    if (x.firing != y.firing) return x.firing;
    if (x.firing) {
      if (x.finding.severity != y.finding.severity) return x.finding.severity == domain::AlertSeverity::critical;
      if (x.first_seen != y.first_seen) return x.first_seen > y.first_seen;
      return x.id > y.id;
    }
    if (x.resolved_at != y.resolved_at) return x.resolved_at > y.resolved_at;
    return x.id > y.id;
  });
  return out;
}

std::size_t AlertBook::firing_count(std::string_view endpoint_id) const {
  return static_cast<std::size_t>(std::count_if(firing_.begin(), firing_.end(), [&](const auto& e) {
    return alerts_.at(e.second).finding.endpoint_id == endpoint_id;
  }));
}

void AlertBook::write_metrics(base::MetricsWriter& out) const {
  std::map<domain::AlertKind, std::size_t> by_kind;
  for (auto kind : domain::all_alert_kinds()) by_kind[kind] = 0;
  for (const auto& [key, id] : firing_) ++by_kind[alerts_.at(id).finding.kind];
  for (const auto& [kind, n] : by_kind) {
    out.gauge("portcullis_alerts_firing", "Alerts firing now, by kind (docs/monitoring.md, Alerts).",
              static_cast<double>(n), {{"kind", domain::to_string(kind)}});
  }
}

}  // namespace portcullis::control
