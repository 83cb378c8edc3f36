#include "certstore/cert_snapshot.hpp"

#include <tuple>

#include "certstore/host_match.hpp"

namespace portcullis::certstore {
namespace {

int source_rank(CertSource source) noexcept { return static_cast<int>(source); }

// Which of two bundles naming the same key the index keeps: an unexpired one, then the better
// source, then the one that lives longer (the newest of several renewals).
bool better(const CertBundle& a, const CertBundle& b, Clock::time_point now) noexcept {
  return std::make_tuple(a.expired(now), source_rank(a.source()), b.not_after()) <
         std::make_tuple(b.expired(now), source_rank(b.source()), a.not_after());
}

void keep_best(NameIndex& index, std::string_view key, const CertBundlePtr& bundle, Clock::time_point now) {
  auto it = index.find(key);
  if (it == index.end()) {
    index.emplace(std::string(key), bundle);
  } else if (better(*bundle, *it->second, now)) {
    it->second = bundle;
  }
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

const CertBundle* probe(const NameIndex& index, std::string_view key) noexcept {
  if (key.empty()) return nullptr;
  auto it = index.find(key);
  return it == index.end() ? nullptr : it->second.get();
}

}  // namespace

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

  LowerHost host(server_name);
  if (host.ok() && !host.view().empty()) {
    consider(probe(exact_, host.view()), Match::exact);
    consider(probe(wildcard_, parent_of(host.view())), Match::wildcard);
    if (fallback_ && fallback_->covers(host.view())) consider(fallback_.get(), Match::fallback);
  }
  if (best != nullptr) return best;
  return default_.get();
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
  snapshot->built_at_ = now_;
  snapshot->exact_.reserve(bundles_.size());
  for (const auto& bundle : bundles_) {
    for (const auto& name : bundle->names()) {
      if (name.starts_with("*.")) {
        if (name.size() > 2) keep_best(snapshot->wildcard_, std::string_view(name).substr(2), bundle, now_);
      } else if (name.find('*') == std::string::npos) {
        // Partial-label wildcards ("a*.example.com") are not honoured (RFC 6125 §7.2 advises
        // against them), so they are not indexed either.
        keep_best(snapshot->exact_, name, bundle, now_);
      }
    }
  }
  snapshot->bundles_ = std::move(bundles_);
  snapshot->fallback_ = std::move(fallback_);
  snapshot->default_ = std::move(default_);
  bundles_.clear();
  return snapshot;
}

}  // namespace portcullis::certstore
