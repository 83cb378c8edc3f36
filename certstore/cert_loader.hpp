// CertFileCache: the certificate files a config names, parsed once and reused across reloads
// while the files are unchanged, so a SIGHUP with 100,000 certificates configured re-parses only
// the files that changed (the rest costs two stat() calls each). Transitional files pass the key
// and signature policy (certstore/cert_policy) when parsed in full, and a chain that does not
// verify against the system trust store is logged once per parse, naming the file.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/error.hpp"
#include "certstore/cert_bundle.hpp"

namespace portcullis::certstore {

class CertFileCache {
 public:
  // Returns the bundle for this certificate and key file pair: the cached one when both files
  // have the same inode, size and modification time as when it was parsed, else freshly parsed
  // (errors as CertBundle::from_pem, naming the file). Thread-safe; blocking (reads files).
  Result<CertBundlePtr> load(const std::filesystem::path& cert_file,
                                        const std::filesystem::path& key_file, CertSource source);

  // The same for one file holding the chain and its key (a file of a certificate folder, see
  // CertBundle::from_combined_pem; `deferred`: from_combined_pem_deferred). Thread-safe; blocking
  // (reads the file).
  Result<CertBundlePtr> load_combined(const std::filesystem::path& file, CertSource source, bool deferred = false);

  // Ends a load pass: entries not asked for since the previous call are dropped, so a
  // certificate removed from the config does not stay in memory.
  void sweep();

  std::size_t size() const;

 private:
  struct Fingerprint {
    unsigned long long dev = 0, ino = 0, size = 0;
    long long mtime_ns = 0, ctime_ns = 0;
    bool operator==(const Fingerprint&) const = default;
  };
  struct Entry {
    Fingerprint cert, key;
    CertSource source;
    CertBundlePtr bundle;
    unsigned long pass = 0;
  };
  static bool fingerprint(const std::filesystem::path& file, Fingerprint& out);
  // Logs (warn) every reason a freshly parsed transitional certificate does not verify against
  // the system trust store; a configured file is the operator's choice, so it is not refused.
  void warn_if_untrusted(const CertBundle& bundle, const std::filesystem::path& file);

  std::mutex trust_mutex_;
  base::X509StorePtr trust_;  // the system trust store, read on first need
  bool trust_failed_ = false;

  mutable std::mutex mutex_;
  // key: cert path '\n' key path; for a combined file: its path '\n'
  std::unordered_map<std::string, Entry> entries_;
  unsigned long pass_ = 1;
};

}  // namespace portcullis::certstore
