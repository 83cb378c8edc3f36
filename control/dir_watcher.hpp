// DirWatcher: inotify on the certificate folders, read on the control thread's io_context. It
// reports which files were closed after writing, renamed in or out, created or deleted, one batch
// per wake-up, so a burst of events for one file costs one re-read.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "base/error.hpp"

namespace portcullis::control {

class DirWatcher {
 public:
  // `changed`: the files named by the events of one read, each once, in the order first seen.
  // `overflow`: the kernel dropped events (IN_Q_OVERFLOW); the caller must rescan every folder.
  using Handler = std::function<void(std::vector<std::filesystem::path> changed, bool overflow)>;

  // Called on `control`'s thread only. Errors: Errc::io when inotify is unavailable.
  DirWatcher(boost::asio::io_context& control, Handler handler);
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // Watches exactly `dirs` from now on (adds the new ones, drops the others). Errors name the
  // folder ("certs: cannot watch the certificate folder: No such file or directory"); folders already watched stay.
  Status watch(const std::vector<std::filesystem::path>& dirs);
  void stop();

 private:
  void wait();
  void drain();

  boost::asio::posix::stream_descriptor fd_;
  Handler handler_;
  std::map<int, std::filesystem::path> dirs_;  // watch descriptor -> folder
  bool waiting_ = false;
};

}  // namespace portcullis::control
