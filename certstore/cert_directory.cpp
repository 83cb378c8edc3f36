#include "certstore/cert_directory.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <thread>

#include <sys/stat.h>

#include <fmt/format.h>

#include "base/logging.hpp"

namespace portcullis::certstore {
namespace {

namespace fs = std::filesystem;

// Folder certificates rank as transitional: a managed certificate for the same name outranks them.
constexpr CertSource dir_source = CertSource::transitional;

// Threads that read and parse a folder's files at once (at most one per core).
constexpr std::size_t max_scan_threads = 16;
// From this many files on, a scan reads each certificate's facts and leaves the full parse (and
// the key match check) to first use or the background check (CertBundle::from_pem_deferred):
// start-up with 100,000 files costs seconds, not minutes. A smaller folder is parsed in full, so
// its every problem is reported at once.
constexpr std::size_t deferred_parse_from = 256;

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

  // Reading and parsing a file is independent of every other (the cache locks only its map):
  // spread over the cores, results kept in path order.
  std::vector<std::optional<Result<CertBundlePtr>>> loaded(paths.size());
  const bool deferred = paths.size() >= deferred_parse_from;
  {
    std::atomic<std::size_t> next_index{0};
    auto work = [&] {
      for (std::size_t i; (i = next_index.fetch_add(1, std::memory_order_relaxed)) < paths.size();) {
        loaded[i].emplace(cache_.load_combined(paths[i], dir_source, deferred));
      }
    };
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t threads = std::min<std::size_t>({cores, max_scan_threads, (paths.size() + 63) / 64});
    std::vector<std::jthread> helpers;
    for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
    work();
  }  // the helpers are joined here

  Files next;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const auto& path = paths[i];
    auto& bundle = *loaded[i];
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
