#include "base/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <random>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace portcullis::base {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int err) { return std::strerror(err); }

tl::unexpected<Error> io_fail(const fs::path& path, std::string_view step, int err) {
  return fail(Errc::io, fmt::format("{}: {}: {}", path.string(), step, errno_text(err)));
}

// Closes on scope exit; close() reports the error when the caller needs it.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int close() noexcept {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string temp_name(const fs::path& path) {
  // Unique per process and call; O_EXCL catches the rest.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format(".{}.tmp.{}.{:016x}", path.filename().string(), ::getpid(), rng());
}

Status write_all(int fd, std::string_view content, const fs::path& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_fail(path, "write", errno);
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status write_temp_and_rename(const fs::path& path, const fs::path& temp, std::string_view content, mode_t mode) {
  // The final mode from the first moment the file exists; fchmod then undoes the umask so a
  // 0644 certificate is not left 0600 (it only ever narrows, never widens, in between).
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) return io_fail(temp, "create", errno);
  if (::fchmod(fd.get(), mode) != 0) return io_fail(temp, "chmod", errno);
  if (auto st = write_all(fd.get(), content, temp); !st) return st;
  if (::fsync(fd.get()) != 0) return io_fail(temp, "fsync", errno);
  if (fd.close() != 0) return io_fail(temp, "close", errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_fail(path, "rename", errno);
  return {};
}

Result<std::string> read_whole(const fs::path& path, bool secret, bool owner_only = false) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return fail(Errc::io, fmt::format("{}: {}", path.string(), errno_text(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_fail(path, "stat", errno);
  if (S_ISDIR(st.st_mode)) return fail(Errc::io, fmt::format("{}: is a directory", path.string()));
  // Checked on the open descriptor, so the file judged is the file read.
  if (owner_only && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(Errc::config, fmt::format("{}: mode {:04o} lets the group or others read it; expected 0600 "
                                          "(run: chmod 600 {})",
                                          path.string(), st.st_mode & 07777, path.string()));
  }

  // Sized once from fstat so a secret is not left behind in buffers a growing string frees;
  // if the file grew meanwhile, the old buffer is wiped before it is released.
  std::string data(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 0) + 1, '\0');
  std::size_t used = 0;
  for (;;) {
    if (used == data.size()) {
      std::string bigger(data.size() * 2, '\0');
      std::memcpy(bigger.data(), data.data(), used);
      if (secret) OPENSSL_cleanse(data.data(), data.size());
      data.swap(bigger);
    }
    ssize_t n = ::read(fd.get(), data.data() + used, data.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      if (secret) OPENSSL_cleanse(data.data(), data.size());
      return io_fail(path, "read", err);
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  data.resize(used);  // shrinking keeps the buffer
  return data;
}

}  // namespace

Status write_file_atomic(const fs::path& path, std::string_view content, mode_t mode) {
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  fs::path temp = dir / temp_name(path);
  if (auto st = write_temp_and_rename(path, temp, content, mode); !st) {
    ::unlink(temp.c_str());
    return st;
  }
  // The rename is durable only once the directory entry is on disk.
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return io_fail(dir, "open directory", errno);
  if (::fsync(dir_fd.get()) != 0) return io_fail(dir, "fsync directory", errno);
  return {};
}

Result<std::string> read_file(const fs::path& path) { return read_whole(path, false); }

Result<SecretBytes> read_secret_file(const fs::path& path) {
  auto data = read_whole(path, true);
  if (!data) return tl::unexpected(data.error());
  return SecretBytes(std::move(*data));
}

Result<SecretBytes> read_private_file(const fs::path& path) {
  auto data = read_whole(path, true, true);
  if (!data) return tl::unexpected(data.error());
  return SecretBytes(std::move(*data));
}

}  // namespace portcullis::base
