// DataDirLock: one Portcullis process per data folder. Two processes on one folder would run two
// ACME managers on one store (duplicate orders, rate limits) and, through SO_REUSEPORT, split the
// traffic between them without a word. The lock is an flock(2) on <data_dir>/portcullis.lock,
// held for the process's life and released by the kernel when it exits, however it exits.
#pragma once

#include <filesystem>
#include <utility>

#include "base/error.hpp"

namespace portcullis::base {

class DataDirLock {
 public:
  static constexpr const char* file_name = "portcullis.lock";

  // Takes the lock without waiting and writes this process's PID into the lock file. Blocking
  // (brief file I/O): call at start-up. Errc::conflict when another process holds it, naming the
  // folder and the holder's PID; Errc::io when the file cannot be opened.
  static Result<DataDirLock> acquire(const std::filesystem::path& data_dir);

  DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace portcullis::base
