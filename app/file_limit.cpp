#include "app/file_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace portcullis::app {
namespace {

// RLIM_INFINITY is refused for RLIMIT_NOFILE above /proc/sys/fs/nr_open: use that instead.
rlim_t nr_open(rlim_t fallback) {
  std::ifstream in("/proc/sys/fs/nr_open");
  unsigned long long value = 0;
  if (in >> value && value > 0) return static_cast<rlim_t>(value);
  return fallback;
}

}  // namespace

FileLimit raise_open_file_limit() {
  FileLimit out;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  out.before = out.soft = limit.rlim_cur;
  const rlim_t target = limit.rlim_max == RLIM_INFINITY ? nr_open(limit.rlim_cur) : limit.rlim_max;
  out.hard = target;
  if (limit.rlim_cur >= target) return out;
  limit.rlim_cur = target;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  out.soft = target;
  return out;
}

}  // namespace portcullis::app
