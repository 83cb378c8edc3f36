// The process's descriptor limit: every client connection, upstream connection and DNS TCP
// connection holds a descriptor, and distributions start services with a soft RLIMIT_NOFILE of
// 1024 while the hard limit is far higher. At start the soft limit is raised to the hard limit.
#pragma once

#include <cstdint>
#include <string>

namespace portcullis::app {

struct FileLimit {
  std::uint64_t before = 0;  // soft limit found
  std::uint64_t soft = 0;    // soft limit now
  std::uint64_t hard = 0;
  std::string error;         // why it could not be raised; empty when it was, or was already there
};

// Raises RLIMIT_NOFILE's soft limit to its hard limit (RLIM_INFINITY counts as the kernel's
// nr_open). Blocking (system calls); call once at start, before any thread opens descriptors.
FileLimit raise_open_file_limit();

}  // namespace portcullis::app
