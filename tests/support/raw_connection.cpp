#include "tests/support/raw_connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace portcullis::testing {
namespace {

int remaining_ms(Clock::time_point end) {
  const auto left = std::chrono::duration_cast<Millis>(end - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

std::optional<RawConnection> RawConnection::open(const std::string& host, std::uint16_t port,
                                                 const std::string& bind_address, Millis timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  RawConnection conn(fd);
  if (!bind_address.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, bind_address.c_str(), &local.sin_addr) != 1) return std::nullopt;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return std::nullopt;
  }
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &remote.sin_addr) != 1) return std::nullopt;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    if (errno != EINPROGRESS) return std::nullopt;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return std::nullopt;
  }
  return conn;
}

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), received_(std::move(other.received_)) {}

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    received_ = std::move(other.received_);
  }
  return *this;
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(std::string_view bytes, Millis timeout) {
  const auto end = Clock::now() + timeout;
  while (!bytes.empty()) {
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(end)) != 1) return false;
  }
  return true;
}

int RawConnection::read_some(Millis timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
  char buf[4096];
  const auto n = ::recv(fd_, buf, sizeof buf, 0);
  if (n > 0) {
    received_.append(buf, static_cast<std::size_t>(n));
    return static_cast<int>(n);
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -1;
  return 0;  // end of stream, or reset
}

bool RawConnection::closed_within(Millis deadline) {
  const auto end = Clock::now() + deadline;
  for (;;) {
    const int n = read_some(Millis(remaining_ms(end)));
    if (n == 0) return true;
    if (Clock::now() >= end) return false;
  }
}

bool RawConnection::received_within(std::string_view needle, Millis deadline) {
  const auto end = Clock::now() + deadline;
  while (received_.find(needle) == std::string::npos) {
    const int n = read_some(Millis(remaining_ms(end)));
    if (n == 0) break;
    if (Clock::now() >= end) break;
  }
  return received_.find(needle) != std::string::npos;
}

std::uint64_t raise_own_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

}  // namespace portcullis::testing
