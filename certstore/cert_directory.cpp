#include "certstore/cert_directory.hpp"

#include <algorithm>
#include <cerrno>

#include <sys/stat.h>

#include <fmt/format.h>

#include "base/logging.hpp"

namespace portcullis::certstore {
namespace {

namespace fs = std::filesystem;

// Folder certificates rank as transitional: a managed certificate for the same name outranks them.
constexpr CertSource dir_source = CertSource::transitional;

}  // namespace

bool CertDirectories::is_certificate_file(std::string_view file_name) noexcept {
  return file_name.size() > 4 && file_name.ends_with(".pem") && !file_name.starts_with('.');
}

Result<CertDirectories::Files> CertDirectories::scan(const std::vector<fs::path>& dirs, bool strict) const {
  std::vector<fs::path> paths;
  for (const auto& dir : dirs) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) return fail(Errc::io, fmt::format("{}: cannot list the certificate folder: {}", dir.string(), ec.message()));
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (!is_certificate_file(it->path().filename().native())) continue;
      std::error_code type_ec;
      if (!it->is_regular_file(type_ec)) continue;  // follows symbolic links
      paths.push_back(it->path());
    }
    if (ec) return fail(Errc::io, fmt::format("{}: cannot list the certificate folder: {}", dir.string(), ec.message()));
  }
  std::sort(paths.begin(), paths.end());

  Files next;
  for (const auto& path : paths) {
    auto bundle = cache_.load_combined(path, dir_source);
    if (bundle) {
      next.emplace_hint(next.end(), path.string(), std::move(*bundle));
      continue;
    }
    if (strict) return tl::unexpected(bundle.error());
    auto previous = files_.find(path.string());
    log::proxy()->error("certificate file rejected file={} error=\"{}\" kept_previous={}", path.string(),
                        bundle.error().message(), previous != files_.end());
    if (previous != files_.end()) next.emplace_hint(next.end(), previous->first, previous->second);
  }
  return next;
}

CertChanges CertDirectories::commit(Files files, std::vector<fs::path> dirs) {
  CertChanges changes;
  auto old_it = files_.begin();
  auto new_it = files.begin();
  // Both maps are sorted by path: one merge pass finds what left, came or was replaced.
  while (old_it != files_.end() || new_it != files.end()) {
    if (new_it == files.end() || (old_it != files_.end() && old_it->first < new_it->first)) {
      changes.removed.push_back(old_it->second);
      ++old_it;
    } else if (old_it == files_.end() || new_it->first < old_it->first) {
      changes.added.push_back(new_it->second);
      ++new_it;
    } else {
      if (old_it->second != new_it->second) {
        changes.removed.push_back(old_it->second);
        changes.added.push_back(new_it->second);
      }
      ++old_it;
      ++new_it;
    }
  }
  files_ = std::move(files);
  dirs_ = std::move(dirs);
  return changes;
}

CertChanges CertDirectories::refresh(const fs::path& file) {
  CertChanges changes;
  if (!is_certificate_file(file.filename().native())) return changes;
  if (std::find(dirs_.begin(), dirs_.end(), file.parent_path()) == dirs_.end()) return changes;
  auto previous = files_.find(file.string());

  struct stat st {};
  bool gone = false;
  const bool stat_ok = ::stat(file.c_str(), &st) == 0;
  if (!stat_ok) {
    gone = errno == ENOENT || errno == ENOTDIR;  // any other reason is the loader's error to report
  } else {
    gone = !S_ISREG(st.st_mode);  // a folder named "x.pem" holds no certificate
  }
  if (gone) {
    if (previous == files_.end()) return changes;
    log::proxy()->info("certificate file removed file={} serial={}", file.string(), previous->second->serial_hex());
    changes.removed.push_back(previous->second);
    files_.erase(previous);
    return changes;
  }
  if (stat_ok && st.st_size == 0) return changes;  // just created (IN_CREATE): its IN_CLOSE_WRITE follows
  auto bundle = cache_.load_combined(file, dir_source);
  if (!bundle) {
    log::proxy()->error("certificate file rejected file={} error=\"{}\" kept_previous={}", file.string(),
                        bundle.error().message(), previous != files_.end());
    return changes;
  }
  if (previous != files_.end()) {
    if (previous->second == *bundle) return changes;  // unchanged (an event without a new content)
    changes.removed.push_back(previous->second);
    previous->second = *bundle;
  } else {
    files_.emplace(file.string(), *bundle);
  }
  changes.added.push_back(*bundle);
  log::proxy()->info("certificate file loaded file={} serial={} names={}", file.string(), (*bundle)->serial_hex(),
                     (*bundle)->names().size());
  return changes;
}

}  // namespace portcullis::certstore
