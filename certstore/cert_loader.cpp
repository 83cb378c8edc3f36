#include "certstore/cert_loader.hpp"

#include <sys/stat.h>

#include "base/atomic_file.hpp"
#include "base/logging.hpp"
#include "certstore/cert_policy.hpp"

namespace portcullis::certstore {

bool CertFileCache::fingerprint(const std::filesystem::path& file, Fingerprint& out) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return false;
  out.dev = st.st_dev;
  out.ino = st.st_ino;
  out.size = static_cast<unsigned long long>(st.st_size);
  out.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  out.ctime_ns = static_cast<long long>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return true;
}

Result<CertBundlePtr> CertFileCache::load(const std::filesystem::path& cert_file,
                                                     const std::filesystem::path& key_file,
                                                     CertSource source) {
  std::string id = cert_file.string();
  id += '\n';
  id += key_file.string();
  Fingerprint cert_fp, key_fp;
  const bool stat_ok = fingerprint(cert_file, cert_fp) && fingerprint(key_file, key_fp);
  {
    std::lock_guard lock(mutex_);
    if (stat_ok) {
      auto it = entries_.find(id);
      if (it != entries_.end() && it->second.cert == cert_fp && it->second.key == key_fp &&
          it->second.source == source) {
        it->second.pass = pass_;
        return it->second.bundle;
      }
    }
  }
  // Parsed outside the lock; a file that cannot be stat'ed is read anyway so its error is the
  // reader's ("cert.pem: No such file or directory").
  auto chain = base::read_file(cert_file);
  if (!chain) return tl::unexpected(chain.error());
  auto key = base::read_secret_file(key_file);
  if (!key) return tl::unexpected(key.error());
  auto bundle = CertBundle::from_pem(*chain, *key, source, cert_file.string());
  if (!bundle) return bundle;
  if (source == CertSource::transitional) warn_if_untrusted(**bundle, cert_file);
  if (stat_ok) {
    std::lock_guard lock(mutex_);
    entries_[std::move(id)] = Entry{cert_fp, key_fp, source, *bundle, pass_};
  }
  return bundle;
}

Result<CertBundlePtr> CertFileCache::load_combined(const std::filesystem::path& file,
                                                              CertSource source, bool deferred) {
  std::string id = file.string();
  id += '\n';
  Fingerprint fp;
  const bool stat_ok = fingerprint(file, fp);
  {
    std::lock_guard lock(mutex_);
    if (stat_ok) {
      auto it = entries_.find(id);
      if (it != entries_.end() && it->second.cert == fp && it->second.source == source) {
        it->second.pass = pass_;
        return it->second.bundle;
      }
    }
  }
  auto text = base::read_secret_file(file);
  if (!text) return tl::unexpected(text.error());
  auto bundle = deferred ? CertBundle::from_combined_pem_deferred(*text, source, file.string())
                         : CertBundle::from_combined_pem(*text, source, file.string());
  if (!bundle) return bundle;
  // A deferred parse (large folders) has not decoded the chain: its policy is checked on first use.
  if (!deferred && source == CertSource::transitional) warn_if_untrusted(**bundle, file);
  if (stat_ok) {
    std::lock_guard lock(mutex_);
    entries_[std::move(id)] = Entry{fp, fp, source, *bundle, pass_};
  }
  return bundle;
}

void CertFileCache::warn_if_untrusted(const CertBundle& bundle, const std::filesystem::path& file) {
  X509_STORE* store = nullptr;
  {
    std::lock_guard lock(trust_mutex_);
    if (!trust_ && !trust_failed_) {
      auto loaded = system_trust_store();
      if (loaded) {
        trust_ = std::move(*loaded);
      } else {
        trust_failed_ = true;
        log::certstore()->warn("certificate files not verified: {}", loaded.error().message());
      }
    }
    store = trust_.get();
  }
  if (store == nullptr || bundle.leaf() == nullptr) return;
  std::vector<X509*> chain{bundle.leaf()};
  for (const auto& c : bundle.intermediates()) chain.push_back(c.get());
  for (const auto& p : trust_problems(chain, store, Clock::now())) {
    log::certstore()->warn("certificate file not trusted file={} reason=\"{}\" served=true", file.string(), p.reason);
  }
}

void CertFileCache::sweep() {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [this](const auto& kv) { return kv.second.pass != pass_; });
  ++pass_;
}

std::size_t CertFileCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace portcullis::certstore
