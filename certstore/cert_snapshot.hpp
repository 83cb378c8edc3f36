// CertSnapshot: the immutable SNI index every handshake reads. Built beside the live one by the
// control thread, published through CertRegistry; lookups are two hash probes whatever the number
// of certificates (100,000 must fit).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "certstore/cert_bundle.hpp"

namespace portcullis::certstore {

// Transparent hashing so a std::string_view SNI needs no allocation to look up.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using NameIndex = std::unordered_map<std::string, CertBundlePtr, StringHash, std::equal_to<>>;

class CertSnapshot {
 public:
  // Selection order for a name (case-insensitive, trailing dot ignored):
  //   managed exact > managed wildcard of the parent > transitional exact > transitional wildcard
  //   > fallback (if it covers the name) > default.
  // A bundle expired at build time ranks below every unexpired one that covers the name.
  // Returns nullptr only when the snapshot has no default certificate.
  // Thread-safe (immutable). Does not allocate for lower-case input.
  const CertBundle* select(std::string_view server_name) const noexcept;

  const CertBundlePtr& fallback() const noexcept { return fallback_; }
  const CertBundlePtr& default_cert() const noexcept { return default_; }
  std::size_t size() const noexcept { return bundles_.size(); }
  const std::vector<CertBundlePtr>& bundles() const noexcept { return bundles_; }

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

 private:
  friend class Builder;
  NameIndex exact_;     // "app.example.com" -> best bundle naming it exactly
  NameIndex wildcard_;  // "example.com" (parent) -> best bundle for "*.example.com"
  std::vector<CertBundlePtr> bundles_;
  CertBundlePtr fallback_;
  CertBundlePtr default_;
  Clock::time_point built_at_{};  // "expired" in the selection order means expired at this time
};

using CertSnapshotPtr = std::shared_ptr<const CertSnapshot>;

}  // namespace portcullis::certstore
