#include "certstore/cert_snapshot.hpp"

#include <algorithm>
#include <tuple>

#include "base/hostname.hpp"

namespace portcullis::certstore {
namespace {

int source_rank(CertSource source) noexcept { return static_cast<int>(source); }

// Which of two bundles naming the same key the index keeps: an unexpired one, then the better
// source, then the one that lives longer (the newest of several renewals). On a tie the one added
// first stays.
bool better(const CertBundle& a, const CertBundle& b, Clock::time_point now) noexcept {
  return std::make_tuple(a.expired(now), source_rank(a.source()), b.not_after()) <
         std::make_tuple(b.expired(now), source_rank(b.source()), a.not_after());
}

void keep_best(CertSnapshot::BaseIndex& index, std::string_view key, const CertBundlePtr& bundle,
               Clock::time_point now) {
  auto it = index.find(key);
  if (it == index.end()) {
    index.emplace(std::string(key), CertSnapshot::Slot{bundle, {}});
    return;
  }
  auto& slot = it->second;
  if (slot.all.empty()) slot.all.push_back(slot.best);
  slot.all.push_back(bundle);
  if (better(*bundle, *slot.best, now)) slot.best = bundle;
}

// The keys a bundle is indexed under: exact names, and the parent of each "*." name, of its
// index_names() (a stored certificate's are the hostnames its endpoint owns: CertBundle::indexed_as).
// Partial-label wildcards ("a*.example.com") are not honoured (RFC 6125 §7.2 advises against
// them), so they are not indexed either.
template <class Exact, class Wildcard>
void for_each_key(const CertBundle& bundle, Exact&& exact, Wildcard&& wildcard) {
  for (const auto& name : bundle.index_names()) {
    if (base::is_wildcard(name)) {
      if (name.size() > 2) wildcard(std::string_view(name).substr(2));
    } else if (name.find('*') == std::string::npos) {
      exact(std::string_view(name));
    }
  }
}

bool indexed_under(const CertBundle& bundle, std::string_view key, bool wildcard) {
  bool found = false;
  for_each_key(
      bundle, [&](std::string_view k) { found |= !wildcard && k == key; },
      [&](std::string_view k) { found |= wildcard && k == key; });
  return found;
}

// Lower is better. Expiry dominates (design: an expired certificate is never served when anything
// else covers the name), then the source, then exact before wildcard before fallback.
enum class Match { exact = 0, wildcard = 1, fallback = 2 };
struct Rank {
  bool expired;
  int source;
  Match match;
  friend bool operator<(const Rank& a, const Rank& b) noexcept {
    return std::tie(a.expired, a.source, a.match) < std::tie(b.expired, b.source, b.match);
  }
};

const CertBundle* probe(const CertSnapshot::BaseIndex& index, std::string_view key) noexcept {
  auto it = index.find(key);
  return it == index.end() ? nullptr : it->second.best.get();
}

std::optional<Clock::time_point> earliest_expiry(std::optional<Clock::time_point> so_far, const CertBundlePtr& b,
                                                 Clock::time_point now) {
  if (!b || b->expired(now)) return so_far;
  if (!so_far || b->not_after() < *so_far) return b->not_after();
  return so_far;
}

}  // namespace

const CertBundle* CertSnapshot::probe_exact(std::string_view key) const noexcept {
  if (key.empty()) return nullptr;
  if (overlay_) {
    if (auto it = overlay_->exact.find(key); it != overlay_->exact.end()) return it->second.get();
  }
  return probe(base_->exact, key);
}

const CertBundle* CertSnapshot::probe_wildcard(std::string_view key) const noexcept {
  if (key.empty()) return nullptr;
  if (overlay_) {
    if (auto it = overlay_->wildcard.find(key); it != overlay_->wildcard.end()) return it->second.get();
  }
  return probe(base_->wildcard, key);
}

const CertBundle* CertSnapshot::select(std::string_view server_name) const noexcept {
  const CertBundle* best = nullptr;
  Rank best_rank{};
  auto consider = [&](const CertBundle* candidate, Match match) {
    if (candidate == nullptr) return;
    Rank rank{candidate->expired(built_at_), source_rank(candidate->source()), match};
    if (best == nullptr || rank < best_rank) {
      best = candidate;
      best_rank = rank;
    }
  };

  base::LowerHost host(server_name);
  if (host.ok() && !host.view().empty()) {
    consider(probe_exact(host.view()), Match::exact);
    consider(probe_wildcard(base::parent_of(host.view())), Match::wildcard);
    if (fallback_ && fallback_->covers(host.view())) consider(fallback_.get(), Match::fallback);
  }
  if (best != nullptr) return best;
  return default_.get();
}

std::size_t CertSnapshot::size() const noexcept {
  if (!overlay_) return base_->bundles.size();
  return base_->bundles.size() - overlay_->removed.size() + overlay_->added.size();
}

std::size_t CertSnapshot::overlay_size() const noexcept {
  return overlay_ ? overlay_->added.size() + overlay_->removed.size() : 0;
}

std::vector<CertBundlePtr> CertSnapshot::bundles() const {
  if (!overlay_) return base_->bundles;
  std::vector<CertBundlePtr> out;
  out.reserve(size());
  for (const auto& b : base_->bundles) {
    if (!overlay_->removed.contains(b.get())) out.push_back(b);
  }
  out.insert(out.end(), overlay_->added.begin(), overlay_->added.end());
  return out;
}

std::shared_ptr<const CertSnapshot> CertSnapshot::with_changes(const std::vector<CertBundlePtr>& removed,
                                                               const std::vector<CertBundlePtr>& added,
                                                               Clock::time_point now) const {
  return with_changes(removed, added, now, default_max_overlay);
}

std::shared_ptr<const CertSnapshot> CertSnapshot::rebuild(const std::vector<CertBundlePtr>& removed,
                                                          const std::vector<CertBundlePtr>& added,
                                                          Clock::time_point now) const {
  std::unordered_set<const CertBundle*> gone;
  for (const auto& r : removed) gone.insert(r.get());
  Builder builder(now);
  for (const auto& b : bundles()) {
    if (!gone.contains(b.get())) builder.add(b);
  }
  for (const auto& a : added) builder.add(a);
  return builder.fallback(fallback_).default_cert(default_).build();
}

std::shared_ptr<const CertSnapshot> CertSnapshot::with_changes(const std::vector<CertBundlePtr>& removed,
                                                               const std::vector<CertBundlePtr>& added,
                                                               Clock::time_point now, std::size_t max_overlay) const {
  // The base ranked its candidates at built_at_; once any of them has expired since, only a
  // rebuild ranks them as a fresh build at `now` would.
  if (next_expiry_ && now >= *next_expiry_) return rebuild(removed, added, now);
  if (overlay_size() + removed.size() + added.size() > max_overlay) return rebuild(removed, added, now);

  Overlay next = overlay_ ? *overlay_ : Overlay{};
  for (const auto& r : removed) {
    if (!r) continue;
    auto it = std::find(next.added.begin(), next.added.end(), r);
    if (it != next.added.end()) {
      next.added.erase(it);
      continue;
    }
    // Only a bundle of the base can be removed from it: found through its own index keys.
    bool in_base = false;
    auto look = [&](const BaseIndex& index, std::string_view key) {
      auto slot = index.find(key);
      if (slot == index.end()) return;
      in_base |= slot->second.best == r ||
                 std::find(slot->second.all.begin(), slot->second.all.end(), r) != slot->second.all.end();
    };
    bool has_key = false;
    for_each_key(
        *r, [&](std::string_view k) { has_key = true; look(base_->exact, k); },
        [&](std::string_view k) { has_key = true; look(base_->wildcard, k); });
    if (!has_key) in_base = std::find(base_->bundles.begin(), base_->bundles.end(), r) != base_->bundles.end();
    if (in_base) next.removed.insert(r.get());
  }
  for (const auto& a : added) {
    if (a) next.added.push_back(a);
  }

  // Each key a changed bundle is indexed under is resolved again, candidates in the order a fresh
  // build would add them (base first, then the overlay's additions) so ties break the same way.
  auto resolve = [&](const BaseIndex& base, OverlayIndex& overlay, std::string_view key, bool wildcard) {
    CertBundlePtr best;
    auto offer = [&](const CertBundlePtr& candidate) {
      if (!best || better(*candidate, *best, now)) best = candidate;
    };
    // A base bundle removed and added again counts once, as an addition (where a build puts it).
    auto offer_base = [&](const CertBundlePtr& candidate) {
      if (!next.removed.contains(candidate.get())) offer(candidate);
    };
    if (auto slot = base.find(key); slot != base.end()) {
      if (slot->second.all.empty()) {
        offer_base(slot->second.best);
      } else {
        for (const auto& c : slot->second.all) offer_base(c);
      }
    }
    for (const auto& c : next.added) {
      if (indexed_under(*c, key, wildcard)) offer(c);
    }
    overlay.insert_or_assign(std::string(key), std::move(best));
  };
  auto touch = [&](const CertBundlePtr& changed) {
    if (!changed) return;
    for_each_key(
        *changed, [&](std::string_view k) { resolve(base_->exact, next.exact, k, false); },
        [&](std::string_view k) { resolve(base_->wildcard, next.wildcard, k, true); });
  };
  for (const auto& r : removed) touch(r);
  for (const auto& a : added) touch(a);

  auto snapshot = std::make_shared<CertSnapshot>();
  snapshot->base_ = base_;
  snapshot->fallback_ = fallback_;
  snapshot->default_ = default_;
  snapshot->built_at_ = now;
  snapshot->next_expiry_ = next_expiry_;
  for (const auto& a : added) snapshot->next_expiry_ = earliest_expiry(snapshot->next_expiry_, a, now);
  snapshot->overlay_ = std::make_shared<const Overlay>(std::move(next));
  return snapshot;
}

std::shared_ptr<const CertSnapshot> CertSnapshot::with_fallback(CertBundlePtr fallback) const {
  auto snapshot = std::make_shared<CertSnapshot>(*this);
  snapshot->fallback_ = std::move(fallback);
  snapshot->next_expiry_ = earliest_expiry(next_expiry_, snapshot->fallback_, built_at_);
  return snapshot;
}

CertSnapshot::Builder& CertSnapshot::Builder::add(CertBundlePtr bundle) {
  if (bundle) bundles_.push_back(std::move(bundle));
  return *this;
}

CertSnapshot::Builder& CertSnapshot::Builder::fallback(CertBundlePtr bundle) {
  fallback_ = std::move(bundle);
  return *this;
}

CertSnapshot::Builder& CertSnapshot::Builder::default_cert(CertBundlePtr bundle) {
  default_ = std::move(bundle);
  return *this;
}

std::shared_ptr<const CertSnapshot> CertSnapshot::Builder::build() {
  auto snapshot = std::make_shared<CertSnapshot>();
  auto base = std::make_shared<Base>();
  snapshot->built_at_ = now_;
  base->exact.reserve(bundles_.size());
  std::optional<Clock::time_point> next_expiry;
  for (const auto& bundle : bundles_) {
    for_each_key(
        *bundle, [&](std::string_view k) { keep_best(base->exact, k, bundle, now_); },
        [&](std::string_view k) { keep_best(base->wildcard, k, bundle, now_); });
    next_expiry = earliest_expiry(next_expiry, bundle, now_);
  }
  snapshot->next_expiry_ = earliest_expiry(next_expiry, fallback_, now_);
  base->bundles = std::move(bundles_);
  snapshot->base_ = std::move(base);
  snapshot->fallback_ = std::move(fallback_);
  snapshot->default_ = std::move(default_);
  bundles_.clear();
  return snapshot;
}

}  // namespace portcullis::certstore
