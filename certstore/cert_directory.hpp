// CertDirectories: the certificate folders of [[certificate_dir]]. Every "*.pem" file in them holds
// one chain and its private key; this keeps the bundle each file currently serves, so a changed
// file is re-parsed alone and published as a change of one bundle (CertSnapshot::with_changes).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "certstore/cert_bundle.hpp"
#include "certstore/cert_loader.hpp"

namespace portcullis::certstore {

// A bundle that left and one that came, to hand to CertSnapshot::with_changes.
struct CertChanges {
  std::vector<CertBundlePtr> removed, added;
  bool empty() const noexcept { return removed.empty() && added.empty(); }
};

class CertDirectories {
 public:
  using Files = std::map<std::string, CertBundlePtr>;  // file path -> its bundle

  explicit CertDirectories(CertFileCache& cache) : cache_(cache) {}

  // A certificate file is "*.pem" not starting with "."; anything else in a folder (a temporary
  // file being written, "app.pem.tmp", ".app.pem") is ignored.
  static bool is_certificate_file(std::string_view file_name) noexcept;

  // Lists every certificate file of `dirs` and loads it through the file cache (an unchanged file
  // is not read again). strict (start-up): the first file that does not load is the error, with its
  // path and reason. Otherwise (reload, rescan) such a file is logged and keeps the bundle it had
  // in files(), if any. A folder that cannot be listed is an error either way. Does not change
  // this object: commit() the result. Blocking (reads files); control thread.
  Result<Files> scan(const std::vector<std::filesystem::path>& dirs, bool strict) const;

  // Makes `files` (from scan) and `dirs` the current state; returns what changed.
  CertChanges commit(Files files, std::vector<std::filesystem::path> dirs);

  // One file of a watched folder was written, renamed or deleted: re-reads it alone. A file that
  // is gone takes its bundle away; one that fails to load is logged and keeps its previous bundle.
  // Files outside the current folders are ignored. Blocking (reads one file); control thread.
  CertChanges refresh(const std::filesystem::path& file);

  const Files& files() const noexcept { return files_; }
  const std::vector<std::filesystem::path>& dirs() const noexcept { return dirs_; }

 private:
  CertFileCache& cache_;
  Files files_;
  std::vector<std::filesystem::path> dirs_;
};

}  // namespace portcullis::certstore
