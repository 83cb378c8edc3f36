#include "control/dir_watcher.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_set>

#include <sys/inotify.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/logging.hpp"

namespace portcullis::control {
namespace {

namespace fs = std::filesystem;

// Closed after writing, renamed in or out, created (a hard link appears with IN_CREATE only),
// deleted; the folder itself going away ends its watch (IN_IGNORED follows).
constexpr std::uint32_t watch_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;

// inotify(7): a buffer of at least sizeof(inotify_event) + NAME_MAX + 1 always holds one event.
constexpr std::size_t read_buffer_size = 64 * 1024;

int open_inotify() { return ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC); }

}  // namespace

DirWatcher::DirWatcher(boost::asio::io_context& control, Handler handler)
    : fd_(control), handler_(std::move(handler)) {
  int fd = open_inotify();
  if (fd < 0) {
    log::proxy()->error("inotify unavailable error=\"{}\": certificate folders are read on SIGHUP only",
                        std::strerror(errno));
    return;
  }
  fd_.assign(fd);
}

DirWatcher::~DirWatcher() { stop(); }

Status DirWatcher::watch(const std::vector<fs::path>& dirs) {
  if (!fd_.is_open()) return {};
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (std::find(dirs.begin(), dirs.end(), it->second) == dirs.end()) {
      ::inotify_rm_watch(fd_.native_handle(), it->first);
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& dir : dirs) {
    int wd = ::inotify_add_watch(fd_.native_handle(), dir.c_str(), watch_mask);
    if (wd < 0) return fail(Errc::io, fmt::format("{}: cannot watch the certificate folder: {}", dir.string(), std::strerror(errno)));
    dirs_.try_emplace(wd, dir);  // the same folder under two names keeps its first name
  }
  wait();
  return {};
}

void DirWatcher::stop() {
  boost::system::error_code ec;
  if (fd_.is_open()) fd_.close(ec);
  dirs_.clear();
}

void DirWatcher::wait() {
  if (waiting_ || !fd_.is_open()) return;
  waiting_ = true;
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    waiting_ = false;
    if (ec) return;  // closed
    drain();
    wait();
  });
}

void DirWatcher::drain() {
  std::vector<fs::path> changed;
  std::unordered_set<std::string> seen;
  bool overflow = false;
  alignas(inotify_event) std::array<char, read_buffer_size> buffer;
  for (;;) {
    ssize_t n = ::read(fd_.native_handle(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN: everything queued has been read
    for (std::size_t pos = 0; pos < static_cast<std::size_t>(n);) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + pos);
      pos += sizeof(inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) {
        overflow = true;
        continue;
      }
      auto dir = dirs_.find(event->wd);
      if (dir == dirs_.end()) continue;
      if (event->mask & IN_IGNORED) {
        log::proxy()->warn("certificate folder no longer watched dir={} (deleted or moved; SIGHUP watches it again)",
                           dir->second.string());
        dirs_.erase(dir);
        continue;
      }
      if (event->len == 0 || (event->mask & IN_ISDIR)) continue;
      fs::path file = dir->second / event->name;
      if (seen.insert(file.native()).second) changed.push_back(std::move(file));
    }
  }
  if (!changed.empty() || overflow) handler_(std::move(changed), overflow);
}

}  // namespace portcullis::control
