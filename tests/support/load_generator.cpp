#include "tests/support/load_generator.hpp"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/raw_connection.hpp"

namespace portcullis::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// After a connection closed at once (refused at accept), wait this long before the next: the
// flood holds connections, it does not hammer the accept path.
constexpr Millis refused_pause{500};
constexpr Millis connect_deadline{5'000};
constexpr std::size_t slow_read_bytes = 256;       // a slow reader's read, once a second
// A slow reader reads that slowly for this long, then stops: a reader that keeps taking bytes,
// however few, makes progress, and only a stalled write meets limits.idle_timeout.
constexpr Millis slow_reading{2'000};
constexpr int slow_reader_receive_buffer = 4096;   // so the server's writes stall soon
constexpr int upstream_send_buffer = 64 * 1024;
constexpr int drain_receive_buffer = 8 * 1024 * 1024;

// --- the streaming upstream ---------------------------------------------------------------------

asio::awaitable<void> upstream_session(tcp::socket socket, const std::string& chunk) {
  asio::streambuf buffer(16 * 1024);
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(socket, buffer, "\r\n\r\n", use_tuple);
    if (ec) co_return;
    std::string head(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + n);
    buffer.consume(n);
    if (head.starts_with("GET /big ")) {
      const std::string header =
          fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", StreamingUpstream::big_body_bytes);
      auto [hec, hn] = co_await asio::async_write(socket, asio::buffer(header), use_tuple);
      if (hec) co_return;
      for (std::uint64_t left = StreamingUpstream::big_body_bytes; left > 0;) {
        const std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
        auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(chunk.data(), piece), use_tuple);
        if (wec) co_return;
        left -= piece;
      }
    } else {
      static constexpr std::string_view small = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(small), use_tuple);
      if (wec) co_return;
    }
  }
}

// --- the hostile clients ------------------------------------------------------------------------

struct Held {
  std::atomic<std::uint64_t> now{0};
  SlowTally* tally = nullptr;
  void up() {
    const auto n = now.fetch_add(1, std::memory_order_relaxed) + 1;
    tally->max_held = std::max(tally->max_held, n);
    ++tally->opened;
  }
  void down() { now.fetch_sub(1, std::memory_order_relaxed); }
};

struct Run {
  LoadPlan plan;
  Clock::time_point start, stop_opening;
  LoadReport report;
  Held trickle_held, slow_held, dns_held;
  asio::ssl::context tls{asio::ssl::context::tls_client};
};

void classify(SlowTally& tally, Clock::duration lifetime, Millis deadline, Millis slack, bool closed) {
  if (!closed) {
    ++tally.late;
    return;
  }
  if (lifetime < deadline / 2) {
    ++tally.closed_early;
    return;
  }
  tally.max_lifetime_s = std::max(tally.max_lifetime_s, std::chrono::duration<double>(lifetime).count());
  ++(lifetime <= deadline + slack ? tally.closed_by_deadline : tally.late);
}

std::string source_address(unsigned n, unsigned sources) { return fmt::format("127.0.0.{}", 2 + n % sources); }

// Opens `socket` from `source` and connects it to 127.0.0.1:port.
asio::awaitable<bool> connect_from(tcp::socket& socket, const std::string& source, std::uint16_t port,
                                   int receive_buffer = 0) {
  boost::system::error_code ec;
  socket.open(tcp::v4(), ec);
  if (!ec && receive_buffer > 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer), ec);
  if (!ec) socket.bind(tcp::endpoint(asio::ip::make_address(source), 0), ec);
  if (ec) co_return false;
  asio::steady_timer timer(socket.get_executor(), connect_deadline);
  auto connect = socket.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_tuple);
  auto expiry = timer.async_wait(use_tuple);
  auto result = co_await (std::move(connect) || std::move(expiry));
  co_return result.index() == 0 && !std::get<0>(std::get<0>(result));
}

asio::awaitable<void> pause(Clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(use_tuple);
}

// A request header one line every trickle_interval until the server closes the connection.
asio::awaitable<void> trickler(Run& run, std::string source, Clock::duration first_delay) {
  co_await pause(first_delay);
  const std::string start = "GET / HTTP/1.1\r\nHost: " + run.plan.host + "\r\n";
  static constexpr std::string_view line = "X-Slow: 1\r\n";
  asio::steady_timer timer(co_await asio::this_coro::executor);
  char scratch[512];
  while (Clock::now() < run.stop_opening) {
    tcp::socket socket(co_await asio::this_coro::executor);
    if (!co_await connect_from(socket, source, run.plan.http_port)) {
      ++run.report.trickle.failed_to_open;
      co_await pause(refused_pause);
      continue;
    }
    run.trickle_held.up();
    const auto t0 = Clock::now();
    const auto give_up = t0 + run.plan.header_timeout + run.plan.slack;
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(start), use_tuple);
    bool closed = static_cast<bool>(wec);
    while (!closed && Clock::now() < give_up) {
      timer.expires_after(std::min<Clock::duration>(run.plan.trickle_interval, give_up - Clock::now()));
      auto readable = socket.async_wait(tcp::socket::wait_read, use_tuple);
      auto tick = timer.async_wait(use_tuple);
      auto which = co_await (std::move(readable) || std::move(tick));
      if (which.index() == 0) {
        auto [rec, rn] = co_await socket.async_read_some(asio::buffer(scratch), use_tuple);
        closed = static_cast<bool>(rec);  // an answer (408) is read on to the close
      } else if (Clock::now() < give_up) {
        auto [lec, ln] = co_await asio::async_write(socket, asio::buffer(line), use_tuple);
        closed = static_cast<bool>(lec);
      }
    }
    const auto lifetime = Clock::now() - t0;
    run.trickle_held.down();
    classify(run.report.trickle, lifetime, run.plan.header_timeout, run.plan.slack, closed);
    if (lifetime < std::chrono::seconds(1)) co_await pause(refused_pause);
  }
}

// A large response read 256 bytes a second for two seconds, then not at all until past the
// server's write deadline, then drained: closed when the stream ends before the body does.
asio::awaitable<void> slow_reader(Run& run, std::string source, Clock::duration first_delay) {
  co_await pause(first_delay);
  const std::string request = "GET /big HTTP/1.1\r\nHost: " + run.plan.host + "\r\n\r\n";
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::vector<char> buffer(64 * 1024);
  while (Clock::now() < run.stop_opening) {
    asio::ssl::stream<tcp::socket> stream(co_await asio::this_coro::executor, run.tls);
    SSL_set_tlsext_host_name(stream.native_handle(), run.plan.host.c_str());
    bool ok = co_await connect_from(stream.next_layer(), source, run.plan.https_port, slow_reader_receive_buffer);
    if (ok) {
      auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
      ok = !hec;
    }
    if (ok) {
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), use_tuple);
      ok = !wec;
    }
    if (!ok) {
      ++run.report.slow_readers.failed_to_open;
      co_await pause(refused_pause);
      continue;
    }
    run.slow_held.up();
    const auto t0 = Clock::now();
    // Past the server's write deadline (the stall starts once the reader stops), the reader
    // drains what the kernel still holds for it and must then see the end of the stream.
    const auto drain_at = t0 + slow_reading + run.plan.idle_timeout + std::chrono::seconds(1);
    const auto give_up = drain_at + run.plan.slack;
    bool closed = false;
    const auto stall_at = t0 + slow_reading;
    while (!closed && Clock::now() < give_up) {
      if (Clock::now() >= stall_at && Clock::now() < drain_at) {
        co_await pause(drain_at - Clock::now());  // stalled: the server's write deadline runs
        // What the server's kernel still holds (megabytes: its send buffer grew while the
        // reader read) comes in one window, not 8 KiB at a time.
        boost::system::error_code ignored;
        stream.next_layer().set_option(asio::socket_base::receive_buffer_size(drain_receive_buffer), ignored);
        continue;
      }
      const bool draining = Clock::now() >= drain_at;
      const std::size_t want = draining ? buffer.size() : slow_read_bytes;
      timer.expires_after(give_up - Clock::now());
      auto read = stream.async_read_some(asio::buffer(buffer.data(), want), use_tuple);
      auto expiry = timer.async_wait(use_tuple);
      auto which = co_await (std::move(read) || std::move(expiry));
      if (which.index() == 1) break;
      closed = static_cast<bool>(std::get<0>(std::get<0>(which)));
      if (!closed && !draining) co_await pause(std::min<Clock::duration>(std::chrono::seconds(1), drain_at - Clock::now()));
    }
    const auto lifetime = Clock::now() - t0;
    run.slow_held.down();
    classify(run.report.slow_readers, lifetime, slow_reading + run.plan.idle_timeout, run.plan.slack, closed);
    if (lifetime < std::chrono::seconds(1)) co_await pause(refused_pause);
  }
}

// A DNS-over-TCP connection that asks nothing, until the server closes it.
asio::awaitable<void> dns_idler(Run& run, Clock::duration first_delay) {
  co_await pause(first_delay);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  char scratch[64];
  while (Clock::now() < run.stop_opening) {
    tcp::socket socket(co_await asio::this_coro::executor);
    if (!co_await connect_from(socket, "127.0.1.1", run.plan.dns_port)) {
      ++run.report.dns_flood.failed_to_open;
      co_await pause(refused_pause);
      continue;
    }
    run.dns_held.up();
    const auto t0 = Clock::now();
    bool closed = false;
    timer.expires_after(run.plan.dns_idle_timeout + run.plan.slack);
    auto readable = socket.async_wait(tcp::socket::wait_read, use_tuple);
    auto expiry = timer.async_wait(use_tuple);
    auto which = co_await (std::move(readable) || std::move(expiry));
    if (which.index() == 0) {
      auto [rec, rn] = co_await socket.async_read_some(asio::buffer(scratch), use_tuple);
      closed = static_cast<bool>(rec);
    }
    const auto lifetime = Clock::now() - t0;
    run.dns_held.down();
    classify(run.report.dns_flood, lifetime, run.plan.dns_idle_timeout, run.plan.slack, closed);
    if (lifetime < std::chrono::seconds(1)) co_await pause(refused_pause);
  }
}

// --- the normal clients -------------------------------------------------------------------------

LatencyTally tally_of(std::vector<double> ms, std::uint64_t failures) {
  LatencyTally t;
  t.samples = ms.size();
  t.failures = failures;
  if (ms.empty()) return t;
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
  t.p50_ms = at(0.50);
  t.p99_ms = at(0.99);
  t.max_ms = ms.back();
  return t;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A new TLS connection and one GET, every interval.
LatencyTally normal_https(const LoadPlan& plan, Clock::time_point end) {
  std::vector<double> ms;
  std::uint64_t failures = 0;
  TlsClient::Options options(plan.host);
  options.bind_address = "127.0.2.1";
  for (auto next = Clock::now(); Clock::now() < end; next += plan.normal_interval) {
    std::this_thread::sleep_until(next);  // pacing of the samples, not synchronisation
    const auto t0 = Clock::now();
    TlsClient client(plan.https_port, options);
    auto req = make_request(http::verb::get, "/", plan.host);
    StringResponse res;
    if (client.connect() || client.request(req, res) || res.result_int() != 200) {
      ++failures;
      continue;
    }
    ms.push_back(ms_since(t0));
  }
  return tally_of(std::move(ms), failures);
}

// A new TCP connection and one SOA query, every interval.
LatencyTally normal_dns(const LoadPlan& plan, Clock::time_point end) {
  std::vector<double> ms;
  std::uint64_t failures = 0;
  std::uint16_t id = 0;
  for (auto next = Clock::now(); Clock::now() < end; next += plan.normal_interval) {
    std::this_thread::sleep_until(next);
    const auto t0 = Clock::now();
    ++id;
    auto c = RawConnection::open("127.0.0.1", plan.dns_port, "127.0.2.2");
    const std::string id_bytes{static_cast<char>(id >> 8), static_cast<char>(id & 0xFF)};
    if (!c || !c->send(framed_soa_query(id)) || !c->received_within(id_bytes, 2s)) {
      ++failures;
      continue;
    }
    ms.push_back(ms_since(t0));
  }
  return tally_of(std::move(ms), failures);
}

}  // namespace

struct StreamingUpstream::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::string chunk = std::string(64 * 1024, 'x');

  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      // A small send buffer: a stalled client must not park megabytes per connection here.
      boost::system::error_code ignored;
      socket.set_option(asio::socket_base::send_buffer_size(upstream_send_buffer), ignored);
      asio::co_spawn(io, upstream_session(std::move(socket), chunk), asio::detached);
    }
  }
};

StreamingUpstream::StreamingUpstream() : impl_(std::make_unique<Impl>()) {
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->accept(), asio::detached);
  thread_ = std::thread([this] { impl_->io.run(); });
}

StreamingUpstream::~StreamingUpstream() {
  impl_->io.stop();
  thread_.join();
}

std::uint64_t rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      std::uint64_t kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

std::uint64_t open_fds(pid_t pid) {
  DIR* dir = ::opendir(fmt::format("/proc/{}/fd", pid).c_str());
  if (dir == nullptr) return 0;
  std::uint64_t n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n;
}

std::string LoadReport::summary() const {
  const auto slow = [](const char* name, const SlowTally& t) {
    return fmt::format("{}: opened={} max_held={} closed_by_deadline={} closed_at_accept={} late={} failed_to_open={} "
                       "max_lifetime_s={:.2f}\n",
                       name, t.opened, t.max_held, t.closed_by_deadline, t.closed_early, t.late, t.failed_to_open,
                       t.max_lifetime_s);
  };
  const auto latency = [](const char* name, const LatencyTally& t) {
    return fmt::format("{}: samples={} failures={} p50_ms={:.1f} p99_ms={:.1f} max_ms={:.1f}\n", name, t.samples,
                       t.failures, t.p50_ms, t.p99_ms, t.max_ms);
  };
  return fmt::format("run: {:.1f} s, server max_rss_mib={:.1f} max_fds={} end_fds={}\n", seconds,
                     static_cast<double>(max_rss_kib) / 1024, max_fds, end_fds) +
         slow("trickle headers", trickle) + slow("slow readers", slow_readers) + slow("dns tcp flood", dns_flood) +
         latency("normal https", normal_https) + latency("normal dns", normal_dns);
}

LoadReport run_load(const LoadPlan& plan, pid_t pid) {
  Run run;
  run.plan = plan;
  run.tls.set_verify_mode(asio::ssl::verify_none);
  run.trickle_held.tally = &run.report.trickle;
  run.slow_held.tally = &run.report.slow_readers;
  run.dns_held.tally = &run.report.dns_flood;
  run.start = Clock::now();
  run.stop_opening = run.start + plan.duration;
  asio::io_context io{1};
  const auto spread = [&](std::size_t i, std::size_t n) -> Clock::duration {
    return n == 0 ? Clock::duration::zero() : plan.ramp * static_cast<long>(i) / static_cast<long>(n);
  };
  for (std::size_t i = 0; i < plan.trickle; ++i) {
    asio::co_spawn(io, trickler(run, source_address(i, plan.hostile_sources), spread(i, plan.trickle)), asio::detached);
  }
  for (std::size_t i = 0; i < plan.slow_readers; ++i) {
    asio::co_spawn(io, slow_reader(run, source_address(i, plan.hostile_sources), spread(i, plan.slow_readers)),
                   asio::detached);
  }
  for (std::size_t i = 0; i < plan.dns_flood; ++i) {
    asio::co_spawn(io, dns_idler(run, spread(i, plan.dns_flood)), asio::detached);
  }
  const auto baseline_fds = open_fds(pid);
  std::atomic<bool> hostile_done{false};
  std::thread hostile([&] {
    io.run();
    hostile_done = true;
  });
  LatencyTally https_tally, dns_tally;
  std::thread https_client([&] { https_tally = normal_https(plan, run.stop_opening); });
  std::thread dns_client([&] { dns_tally = normal_dns(plan, run.stop_opening); });
  // Sampled while the hostile clients run; bounded by their own deadlines.
  while (!hostile_done) {
    run.report.max_rss_kib = std::max(run.report.max_rss_kib, rss_kib(pid));
    run.report.max_fds = std::max(run.report.max_fds, open_fds(pid));
    std::this_thread::sleep_for(250ms);  // the sampling period
  }
  hostile.join();
  https_client.join();
  dns_client.join();
  run.report.normal_https = https_tally;
  run.report.normal_dns = dns_tally;
  // Descriptors come back once the server has seen every close.
  wait_until([&] { return open_fds(pid) <= baseline_fds + 16; }, 10s, 100ms);
  run.report.end_fds = open_fds(pid);
  run.report.seconds = std::chrono::duration<double>(Clock::now() - run.start).count();
  return run.report;
}

std::string framed_soa_query(std::uint16_t id) {
  std::string q{static_cast<char>(id >> 8), static_cast<char>(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  for (std::string_view label : {"edge", "example", "net"}) {
    q.push_back(static_cast<char>(label.size()));
    q.append(label);
  }
  q.append(std::string{0, 0, 6, 0, 1});
  return std::string{static_cast<char>(q.size() >> 8), static_cast<char>(q.size() & 0xFF)} + q;
}

}  // namespace portcullis::testing
