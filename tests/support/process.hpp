// Process and file helpers for integration tests: a child process that is stopped by its own PID,
// a bounded command runner for curl/openssl, waiting on a condition with a deadline, free ports
// and temporary directories. Nothing here sleeps as synchronisation except the poll interval of
// wait_until.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// A directory under $TMPDIR (or /tmp), removed with its content on destruction unless
// PORTCULLIS_KEEP_TEST_DIRS is set (to read the logs of a failed run).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "portcullis-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

// Writes `contents` to `file` (creating parent directories); throws std::runtime_error on failure.
void write_file(const std::filesystem::path& file, std::string_view contents);
// Writes to a temporary sibling and renames it over `file`: readers see the old or the new content.
void replace_file(const std::filesystem::path& file, std::string_view contents);
// Whole file as a string; "" when it does not exist.
std::string read_file(const std::filesystem::path& file);
// The permission bits of `file` (0600...); throws std::runtime_error when it cannot be stat'ed.
mode_t file_mode(const std::filesystem::path& file);

// Polls `predicate` every `poll` until it returns true or `deadline` has passed.
// Returns the last value of the predicate (so a late success still counts).
bool wait_until(const std::function<bool()>& predicate, Millis deadline, Millis poll = 10ms);

// A port that was free for TCP and UDP on `host` a moment ago, never handed out before in this
// process (for any host). Taken from below the kernel's ephemeral range when there is room there
// (see free_port_floor), otherwise from the kernel (bind to port 0). Thread-safe.
std::uint16_t free_port(const std::string& host = "127.0.0.1");

// The lowest port free_port() hands out while the range up to the ephemeral range lasts.
inline constexpr std::uint16_t free_port_floor = 10000;

// The kernel's ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range; Linux's default
// 32768-60999 when it cannot be read), inclusive.
struct PortRange {
  std::uint16_t low = 0;
  std::uint16_t high = 0;
};
PortRange ephemeral_port_range();

// True when `output` (a child's log) says a bind failed because the address is taken:
// "address already in use" in any letter case (Go and strerror spell it differently).
bool says_address_in_use(std::string_view output);

class ChildProcess;
// Starts a server on a port of its own choosing, again (up to `attempts` in all) when its output
// says the address is in use: `launch()` picks a port (free_port()), writes what the server needs
// and starts it; `ready(error)` says whether it answers yet. Waits for ready, exit or "in use"
// within `deadline`. Throws std::runtime_error naming `what`, `where()`, the PID and the output's tail.
std::unique_ptr<ChildProcess> start_retrying_port(std::string_view what, int attempts, Millis deadline,
                                                  const std::function<std::unique_ptr<ChildProcess>()>& launch,
                                                  const std::function<bool(std::string&)>& ready,
                                                  const std::function<std::string()>& where);

// True when a TCP connect to host:port succeeds within `timeout`.
bool can_connect(const std::string& host, std::uint16_t port, Millis timeout = 500ms);

struct CommandResult {
  int exit_code = -1;       // exit status, or 128 + signal, or -1 when it could not start
  bool timed_out = false;   // killed because it ran past its deadline
  std::string out;          // stdout
  std::string err;          // stderr
};

// Runs argv[0] (looked up in PATH) with `input` on its stdin (then closed), and returns what it
// printed. The child is killed (SIGKILL, by PID) when it runs past `deadline`. Blocking.
CommandResult run_command(const std::vector<std::string>& argv, Millis deadline,
                          std::string_view input = {});

// A child process started with fork/exec; stdout and stderr go to files in `log_dir`.
// The destructor stops exactly this PID: SIGTERM, then SIGKILL after `kill_grace`, then reaps.
class ChildProcess {
 public:
  // `env` entries ("NAME=value") are added to (or override) the test's own environment.
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& log_dir,
               std::vector<std::string> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // Sends `sig` to this PID if it has not been reaped yet.
  void signal(int sig);
  // Waits for the exit; returns the exit code (128 + signal if killed), or nullopt at the deadline.
  std::optional<int> wait_exit(Millis deadline);
  // True while the process has not exited.
  bool running();
  std::optional<int> exit_code() const noexcept { return exit_code_; }

  const std::filesystem::path& stdout_path() const noexcept { return stdout_path_; }
  const std::filesystem::path& stderr_path() const noexcept { return stderr_path_; }
  std::string stdout_text() const { return read_file(stdout_path_); }
  std::string stderr_text() const { return read_file(stderr_path_); }

  static constexpr Millis kill_grace = 5s;

 private:
  bool reap(bool block);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path stdout_path_, stderr_path_;
};

// Counts non-overlapping occurrences of `needle` in `text`.
std::size_t count_occurrences(std::string_view text, std::string_view needle);
// The lines of `text` that contain `needle`, in order (a log's lines of one kind).
std::vector<std::string> lines_with(const std::string& text, std::string_view needle);

// This build's paths: the source tree and the binary under test. Only process.cpp is compiled with
// them, so that no other test file's compile depends on where the tree is checked out (ccache
// hits across clones).
std::filesystem::path source_dir();
std::filesystem::path portcullis_binary();

}  // namespace portcullis::testing
