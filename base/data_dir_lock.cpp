#include "base/data_dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace portcullis::base {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// The holder's PID as it wrote it; "unknown" while it has not yet (it writes right after locking).
std::string holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return "unknown";
  return text;
}

}  // namespace

Result<DataDirLock> DataDirLock::acquire(const std::filesystem::path& data_dir) {
  const auto path = data_dir / file_name;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fail(Errc::io, path.string() + ": cannot open the lock file: " + errno_text(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string message =
        err == EWOULDBLOCK
            ? fmt::format("data folder {} is in use by another portcullis process (pid {}, lock file {}): stop "
                          "that process, or give this one another [server] data_dir",
                          std::filesystem::absolute(data_dir).lexically_normal().string(), holder_pid(fd),
                          std::filesystem::absolute(path).lexically_normal().string())
            : path.string() + ": cannot lock: " + errno_text(err);
    ::close(fd);
    return fail(err == EWOULDBLOCK ? Errc::conflict : Errc::io, std::move(message));
  }
  const auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd);
    return fail(Errc::io, path.string() + ": cannot write the PID: " + errno_text(err));
  }
  return DataDirLock(fd);
}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace portcullis::base
