// What every accept loop (the proxy's workers, the admin listener, the DNS server's TCP side)
// does when accept() fails because the process or the system is out of descriptors or memory:
// the listening socket stays readable, so accepting again at once would spin a core at 100 %
// without freeing anything. The loop pauses for `accept_pause` instead (connections close in the
// meantime, the backlog holds the new ones) and logs through a base::LogLimiter.
#pragma once

#include <cerrno>
#include <chrono>

#include <boost/system/error_code.hpp>

namespace portcullis::base {

// How long an accept loop waits after running out of descriptors before it accepts again.
inline constexpr std::chrono::milliseconds accept_pause{100};

// EMFILE (the process's RLIMIT_NOFILE), ENFILE (the system's table), ENOBUFS and ENOMEM: the
// failures that another accept at once would only repeat.
inline bool is_resource_exhaustion(const boost::system::error_code& ec) noexcept {
  if (ec.category() != boost::system::system_category()) return false;
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

}  // namespace portcullis::base
