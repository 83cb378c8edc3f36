// RawConnection: a plain TCP connection the test holds open, from a local address of its choice
// (127.0.0.2...), with bounded waits: to show that a listener closes a connection at accept, or
// keeps it. POSIX sockets; one owner thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/process.hpp"

namespace portcullis::testing {

class RawConnection {
 public:
  // Connects to host:port from `bind_address` (empty: the kernel's choice) within `timeout`;
  // nullopt when the connect fails.
  static std::optional<RawConnection> open(const std::string& host, std::uint16_t port,
                                           const std::string& bind_address = {}, Millis timeout = 2s);
  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&& other) noexcept;
  ~RawConnection();

  // Writes all of `bytes` within `timeout`; false on an error (the peer reset it) or the deadline.
  bool send(std::string_view bytes, Millis timeout = 2s);
  // Reads what arrives until the peer closes or `deadline` passes; true when it closed (end of
  // stream or reset) within it. What arrived is appended to received().
  bool closed_within(Millis deadline);
  // Reads until `needle` arrived or the peer closed or the deadline passed; true when it arrived.
  bool received_within(std::string_view needle, Millis deadline);
  const std::string& received() const noexcept { return received_; }
  int fd() const noexcept { return fd_; }

 private:
  explicit RawConnection(int fd) noexcept : fd_(fd) {}
  // One read of what is there within `timeout`: >0 bytes, 0 closed, -1 nothing yet.
  int read_some(Millis timeout);
  int fd_ = -1;
  std::string received_;
};

// Raises this process's RLIMIT_NOFILE soft limit to the hard limit; returns the new soft limit.
std::uint64_t raise_own_file_limit();

}  // namespace portcullis::testing
