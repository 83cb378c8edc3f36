#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <system_error>
#include <thread>

extern char** environ;

namespace portcullis::testing {
namespace {

// Writing to a pipe whose reader has gone must be an error, not the death of the test runner.
// Children get SIGPIPE back to its default disposition (see spawn()).
const bool sigpipe_ignored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

std::vector<std::string> merged_environment(const std::vector<std::string>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(entry.substr(0, eq))] = std::string(entry);
  }
  for (const auto& entry : overrides) {
    auto eq = entry.find('=');
    env[entry.substr(0, eq)] = entry;
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (auto& [k, v] : env) out.push_back(v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// posix_spawnp rather than fork/exec: the test process has threads (the upstream server), and
// between fork and exec only async-signal-safe calls are allowed.
pid_t spawn(std::vector<std::string> argv, std::vector<std::string> env,
            posix_spawn_file_actions_t* actions) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  auto c_argv = c_strings(argv);
  auto c_env = c_strings(env);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, c_argv[0], actions, &attr, c_argv.data(), c_env.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

// --- TempDir -------------------------------------------------------------------------------------

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  if (!::mkdtemp(templ.data())) throw sys_error("mkdtemp " + templ);
  path_ = templ;
}

TempDir::~TempDir() {
  if (std::getenv("PORTCULLIS_KEEP_TEST_DIRS")) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// --- files ---------------------------------------------------------------------------------------

void write_file(const std::filesystem::path& file, std::string_view contents) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + file.string());
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("short write " + file.string());
}

void replace_file(const std::filesystem::path& file, std::string_view contents) {
  auto tmp = file;
  tmp += ".tmp-replace";
  write_file(tmp, contents);
  std::filesystem::rename(tmp, file);
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t file_mode(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw sys_error("stat " + file.string());
  return st.st_mode & 07777;
}

std::size_t count_occurrences(std::string_view text, std::string_view needle) {
  if (needle.empty()) return 0;
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

std::vector<std::string> lines_with(const std::string& text, std::string_view needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

// --- waiting -------------------------------------------------------------------------------------

bool wait_until(const std::function<bool()>& predicate, Millis deadline, Millis poll) {
  const auto until = Clock::now() + deadline;
  for (;;) {
    if (predicate()) return true;
    if (Clock::now() >= until) return predicate();
    std::this_thread::sleep_for(poll);  // poll interval, not synchronisation
  }
}

// --- sockets -------------------------------------------------------------------------------------

namespace {

// An address for `host` ("127.0.0.1", "::1") and `port`; the length goes to `len`.
sockaddr_storage socket_address(const std::string& host, std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (host.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1)
      throw std::runtime_error("not an IPv6 address: " + host);
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1)
      throw std::runtime_error("not an IPv4 address: " + host);
    len = sizeof(sockaddr_in);
  }
  return ss;
}

// Binds a socket of `type` to host:port (port 0: the kernel picks) without SO_REUSEADDR, so a
// listener or a connection still in TIME_WAIT on that port makes it fail. Returns the bound port,
// or 0 when the bind failed.
std::uint16_t try_bind(const std::string& host, std::uint16_t port, int type) {
  socklen_t len = 0;
  auto ss = socket_address(host, port, len);
  int fd = ::socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sys_error("socket");
  std::uint16_t bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    len = sizeof(ss);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
      bound = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  const int bind_errno = errno;  // for the caller's message: close() may overwrite it
  ::close(fd);
  errno = bind_errno;
  return bound;
}

// Children bind TCP, and challtestsrv serves DNS on both TCP and UDP of one port.
bool bindable(const std::string& host, std::uint16_t port) {
  return try_bind(host, port, SOCK_STREAM) == port && try_bind(host, port, SOCK_DGRAM) == port;
}

}  // namespace

PortRange ephemeral_port_range() {
  PortRange range{32768, 60999};
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0, high = 0;
  if (in >> low >> high && low > 0 && low <= high && high <= 65535) {
    range.low = static_cast<std::uint16_t>(low);
    range.high = static_cast<std::uint16_t>(high);
  }
  return range;
}

// Why not simply bind port 0: the kernel answers from its ephemeral range, the same range it
// draws the source ports of outgoing connections from, the test's own included (curl, openssl,
// the TLS client, Pebble's validations). Such a port can be taken between free_port() and the
// child's bind, and the kernel may also hand the same port out twice in a row. So ports come from
// below the ephemeral range, each checked by binding it, never twice per process; the walk starts
// at an offset derived from the PID so that test processes running side by side (ctest -j) rarely
// try the same ports. No port is reserved: the fixtures still retry a child whose port was taken.
std::uint16_t free_port(const std::string& host) {
  static std::mutex mutex;
  static std::set<std::uint16_t> handed_out;
  static std::uint32_t tried = 0;  // candidates walked so far below the ephemeral range
  std::lock_guard lock(mutex);

  const auto ephemeral = ephemeral_port_range();
  if (ephemeral.low > free_port_floor) {
    const std::uint32_t span = ephemeral.low - free_port_floor;
    // Knuth's multiplicative hash spreads neighbouring PIDs over the whole span.
    const std::uint32_t offset = static_cast<std::uint32_t>(::getpid()) * 2654435761u % span;
    while (tried < span) {
      const auto port = static_cast<std::uint16_t>(free_port_floor + (offset + tried++) % span);
      if (handed_out.count(port) || !bindable(host, port)) continue;
      handed_out.insert(port);
      return port;
    }
  }
  // Nothing left below the ephemeral range: let the kernel choose, skipping what it repeats.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = try_bind(host, 0, SOCK_STREAM);
    if (port == 0) throw sys_error("bind " + host + ":0");
    if (handed_out.count(port) || !bindable(host, port)) continue;
    handed_out.insert(port);
    return port;
  }
  throw std::runtime_error("free_port: no port on " + host + " that was not handed out before");
}

bool says_address_in_use(std::string_view output) {
  constexpr std::string_view needle = "address already in use";
  auto it = std::search(output.begin(), output.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
  return it != output.end();
}

bool can_connect(const std::string& host, std::uint16_t port, Millis timeout) {
  const bool v6 = host.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    len = sizeof(sockaddr_in);
  }
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t elen = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
      ok = err == 0;
    }
  }
  ::close(fd);
  return ok;
}

// --- run_command ---------------------------------------------------------------------------------

CommandResult run_command(const std::vector<std::string>& argv, Millis deadline,
                          std::string_view input) {
  CommandResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) throw sys_error("pipe");
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw sys_error("pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw sys_error("pipe");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  pid_t pid = spawn(argv, merged_environment({}), &actions);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    result.err = "cannot start " + argv.at(0) + ": " + std::strerror(errno);
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }

  int in_fd = in_pipe[1];
  ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  std::size_t in_off = 0;
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  const auto until = Clock::now() + deadline;
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0) {
    auto left = std::chrono::duration_cast<Millis>(until - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (out_fd >= 0) { idx_out = n; fds[n++] = {out_fd, POLLIN, 0}; }
    if (err_fd >= 0) { idx_err = n; fds[n++] = {err_fd, POLLIN, 0}; }
    if (in_fd >= 0) { idx_in = n; fds[n++] = {in_fd, POLLOUT, 0}; }
    int rc = ::poll(fds, n, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    auto drain = [&](int idx, int& fd, std::string& sink) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got > 0) {
        sink.append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fd);
        fd = -1;
      }
    };
    drain(idx_out, out_fd, result.out);
    drain(idx_err, err_fd, result.err);
    if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t put = ::write(in_fd, input.data() + in_off, input.size() - in_off);
      if (put > 0) in_off += static_cast<std::size_t>(put);
      if (put < 0 && errno != EAGAIN && errno != EINTR) in_off = input.size();
      if (in_off >= input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd})
    if (fd >= 0) ::close(fd);

  int status = 0;
  if (result.timed_out) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    result.exit_code = decode_status(status);
    return result;
  }
  // Output is closed; the exit itself follows within the remaining deadline.
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    if (Clock::now() >= until) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(2ms);  // poll interval
  }
  result.exit_code = decode_status(status);
  return result;
}

// --- ChildProcess --------------------------------------------------------------------------------

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::filesystem::path& log_dir,
                           std::vector<std::string> env) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::create_directories(log_dir);
  const auto stem = std::filesystem::path(argv.at(0)).filename().string() + "-" +
                    std::to_string(counter++);
  stdout_path_ = log_dir / (stem + ".stdout");
  stderr_path_ = log_dir / (stem + ".stderr");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  pid_ = spawn(std::move(argv), merged_environment(env), &actions);
  posix_spawn_file_actions_destroy(&actions);
  if (pid_ < 0) throw sys_error("cannot start child process");
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0 || exit_code_) return;
  if (reap(false)) return;
  ::kill(pid_, SIGTERM);
  if (wait_exit(kill_grace)) return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

bool ChildProcess::reap(bool block) {
  if (exit_code_) return true;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
      exit_code_ = decode_status(status);
      return true;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {  // not our child any more (reaped elsewhere): nothing left to wait for
      exit_code_ = -1;
      return true;
    }
    return false;
  }
}

std::optional<int> ChildProcess::wait_exit(Millis deadline) {
  wait_until([&] { return reap(false); }, deadline, 5ms);
  return exit_code_;
}

bool ChildProcess::running() { return !reap(false); }

std::unique_ptr<ChildProcess> start_retrying_port(std::string_view what, int attempts, Millis deadline,
                                                  const std::function<std::unique_ptr<ChildProcess>()>& launch,
                                                  const std::function<bool(std::string&)>& ready,
                                                  const std::function<std::string()>& where) {
  for (int attempt = 1;; ++attempt) {
    auto process = launch();
    auto output = [&] { return process->stdout_text() + process->stderr_text(); };
    std::string last_error;
    bool exited = false, in_use = false;
    const bool settled = wait_until(
        [&] {
          in_use = says_address_in_use(output());
          exited = !process->running();
          return in_use || exited || ready(last_error);
        },
        deadline, 20ms);
    if (settled && !in_use && !exited) return process;
    const std::string why = !settled ? fmt::format("not ready within {} ms: {}", deadline.count(), last_error)
                                     : in_use ? "address in use" : "exited";
    if (!in_use || attempt == attempts) {
      std::string text = output();
      if (text.size() > 3000) text = text.substr(text.size() - 3000);
      throw std::runtime_error(fmt::format("{} pid {} on {} failed to start (attempt {} of {}): {}\nlog:\n{}", what,
                                           process->pid(), where(), attempt, attempts, why, text));
    }
  }
}

std::filesystem::path source_dir() { return PORTCULLIS_SOURCE_DIR; }

std::filesystem::path portcullis_binary() { return PORTCULLIS_BINARY; }

}  // namespace portcullis::testing
