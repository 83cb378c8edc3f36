// CertSnapshot: the immutable SNI index every handshake reads. Built beside the live one by the
// control thread, published through CertRegistry; lookups are a few hash probes whatever the
// number of certificates (100,000 must fit). A snapshot is a shared base index plus a small
// overlay of changes, so publishing one changed certificate costs O(changes), not O(certificates).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "certstore/cert_bundle.hpp"

namespace portcullis::certstore {

// Transparent hashing so a std::string_view SNI needs no allocation to look up.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class CertSnapshot {
 public:
  // Selection order for a name (case-insensitive, trailing dot ignored):
  //   managed exact > managed wildcard of the parent > transitional exact > transitional wildcard
  //   > fallback (if it covers the name) > default.
  // A bundle expired at build time ranks below every unexpired one that covers the name.
  // Returns nullptr only when the snapshot has no default certificate.
  // Thread-safe (immutable). Does not allocate.
  const CertBundle* select(std::string_view server_name) const noexcept;

  const CertBundlePtr& fallback() const noexcept { return fallback_; }
  const CertBundlePtr& default_cert() const noexcept { return default_; }
  std::size_t size() const noexcept;
  // Every managed and transitional bundle, in the order they were added. Allocates: control
  // thread only.
  std::vector<CertBundlePtr> bundles() const;
  // The earliest notAfter among the bundles (and the fallback) unexpired at build time, if any:
  // when it passes, the ranking changes and the index must be rebuilt.
  std::optional<Clock::time_point> next_expiry() const noexcept { return next_expiry_; }
  // Changes held beside the shared base (0 right after a full build).
  std::size_t overlay_size() const noexcept;

  // The snapshot with `removed` taken out and `added` put in, selecting exactly as a snapshot
  // built from scratch with the same bundles (removed ones gone, added ones last) at `now`. Costs
  // O(size of the overlay + names of the changed bundles) and shares the base; rebuilds the base
  // (O(certificates)) instead when the overlay would pass `max_overlay` changes or when a bundle
  // expired since the base was built (the ranking depends on it). `removed` names bundles of this
  // snapshot by identity; others are ignored. Control thread; does not block.
  std::shared_ptr<const CertSnapshot> with_changes(const std::vector<CertBundlePtr>& removed,
                                                   const std::vector<CertBundlePtr>& added,
                                                   Clock::time_point now = Clock::now()) const;
  static constexpr std::size_t default_max_overlay = 1024;

  // The same snapshot with `fallback` in the fallback slot (nullptr: none), sharing the base and
  // the overlay: O(1), for the platform wildcard issued or renewed. next_expiry() may still name
  // the previous fallback's notAfter; a rebuild then is early, never late. Control thread.
  std::shared_ptr<const CertSnapshot> with_fallback(CertBundlePtr fallback) const;
  std::shared_ptr<const CertSnapshot> with_changes(const std::vector<CertBundlePtr>& removed,
                                                   const std::vector<CertBundlePtr>& added, Clock::time_point now,
                                                   std::size_t max_overlay) const;

  class Builder {
   public:
    explicit Builder(Clock::time_point now = Clock::now()) : now_(now) {}
    Builder& add(CertBundlePtr bundle);  // managed or transitional
    Builder& fallback(CertBundlePtr bundle);
    Builder& default_cert(CertBundlePtr bundle);
    std::shared_ptr<const CertSnapshot> build();

   private:
    Clock::time_point now_;
    std::vector<CertBundlePtr> bundles_;
    CertBundlePtr fallback_;
    CertBundlePtr default_;
  };

  // One key of the base index: the best bundle, and every bundle naming the key in the order they
  // were added when there is more than one (so a removal can find the next best).
  struct Slot {
    CertBundlePtr best;
    std::vector<CertBundlePtr> all;  // empty when `best` is the only one
  };
  using BaseIndex = std::unordered_map<std::string, Slot, StringHash, std::equal_to<>>;
  // Overlay: the resolved winner of a changed key; nullptr when nothing names it any more.
  using OverlayIndex = std::unordered_map<std::string, CertBundlePtr, StringHash, std::equal_to<>>;

 private:
  friend class Builder;
  struct Base {
    BaseIndex exact;     // "app.example.com" -> bundles naming it exactly
    BaseIndex wildcard;  // "example.com" (parent) -> bundles for "*.example.com"
    std::vector<CertBundlePtr> bundles;
  };
  struct Overlay {
    OverlayIndex exact, wildcard;
    std::vector<CertBundlePtr> added;              // not in the base, in the order added
    std::unordered_set<const CertBundle*> removed;  // base bundles taken out
  };

  const CertBundle* probe_exact(std::string_view key) const noexcept;
  const CertBundle* probe_wildcard(std::string_view key) const noexcept;
  std::shared_ptr<const CertSnapshot> rebuild(const std::vector<CertBundlePtr>& removed,
                                              const std::vector<CertBundlePtr>& added, Clock::time_point now) const;

  std::shared_ptr<const Base> base_ = std::make_shared<const Base>();
  std::shared_ptr<const Overlay> overlay_;  // nullptr: no changes since the base was built
  CertBundlePtr fallback_;
  CertBundlePtr default_;
  Clock::time_point built_at_{};  // "expired" in the selection order means expired at this time
  std::optional<Clock::time_point> next_expiry_;
};

using CertSnapshotPtr = std::shared_ptr<const CertSnapshot>;

}  // namespace portcullis::certstore
