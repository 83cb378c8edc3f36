#include "dns/dns_server.hpp"

#include <array>
#include <future>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "base/accept_errors.hpp"
#include "base/logging.hpp"
#include "dns/responder.hpp"
#include "dns/udp_batch.hpp"

namespace portcullis::dns {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// stop(): the connections' tasks end at their next step; this bounds a stuck one.
constexpr std::chrono::seconds stop_deadline{5};
constexpr int listen_backlog = 128;
// Port 0: how many kernel-picked UDP ports are tried before one is also free for TCP.
constexpr int port_zero_attempts = 20;

// One read or write with a deadline: the operation, or timed_out when the timer fires first.
template <class Operation>
asio::awaitable<boost::system::error_code> with_deadline(Operation operation, asio::steady_timer& timer,
                                                         std::chrono::milliseconds deadline) {
  timer.expires_after(deadline);
  auto wait = timer.async_wait(use_tuple);
  auto either = std::move(operation) || std::move(wait);
  auto result = co_await std::move(either);
  if (result.index() == 1) co_return asio::error::timed_out;
  auto [ec, n] = std::get<0>(result);
  co_return ec;
}

// An answer about to go out, by the RCODE in its header (the low four bits of byte 3).
void count_answer(DnsServer::Counters& counters, const std::vector<std::uint8_t>& answer) {
  if (answer.size() < 4) return;
  DnsServer::Counters::add(counters.responses_by_rcode[answer[3] & 0x0F]);
}

// RFC 1035 §4.1.1 and RFC 2136 §2.2: the mnemonics of the header's RCODE values.
std::string rcode_name(std::size_t rcode) {
  static constexpr const char* names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                          "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode < std::size(names) ? names[rcode] : std::to_string(rcode);
}

}  // namespace

void DnsServer::write_metrics(base::MetricsWriter& out) const {
  constexpr auto relaxed = std::memory_order_relaxed;
  for (std::size_t rcode = 0; rcode < counters_.responses_by_rcode.size(); ++rcode) {
    const auto n = counters_.responses_by_rcode[rcode].load(relaxed);
    // The codes this server sends appear once it has sent them; NOERROR is always there.
    if (n == 0 && rcode != 0) continue;
    out.counter("portcullis_dns_queries_total",
                "Queries the built-in DNS server answered (UDP and TCP), by the answer's response code.",
                static_cast<double>(n), {{"rcode", rcode_name(rcode)}});
  }
  out.counter("portcullis_dns_rate_limited_total",
              "UDP answers held back by response rate limiting (dropped, or sent truncated).",
              static_cast<double>(counters_.rate_limited.load(relaxed)));
  constexpr std::string_view refused_help = "DNS over TCP connections closed at accept, by the limit that refused them.";
  out.counter("portcullis_dns_tcp_refused_total", refused_help,
              static_cast<double>(counters_.tcp_refused.load(relaxed)), {{"reason", "max_connections"}});
  out.counter("portcullis_dns_tcp_refused_total", refused_help,
              static_cast<double>(counters_.tcp_refused_per_ip.load(relaxed)), {{"reason", "per_ip"}});
  out.counter("portcullis_dns_accept_pauses_total",
              "Times the DNS TCP listener paused accepting because the process was out of descriptors.",
              static_cast<double>(counters_.accept_pauses.load(relaxed)));
  out.counter("portcullis_dns_dropped_total", "Queries left unanswered because they could not be parsed.",
              static_cast<double>(counters_.dropped.load(relaxed)));
}

DnsServer::DnsServer(const ZoneRegistry& zone, DnsServerOptions options)
    : zone_(zone), options_(std::move(options)), tasks_(io_.get_executor(), log::dns()),
      limiter_(options_.rate_limit, options_.slip) {}

DnsServer::~DnsServer() { stop(); }

Status DnsServer::listen() {
  for (const auto& hp : options_.listen) {
    const std::string where = "dns.listen " + hp.to_string();
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(hp.host, ec);
    if (ec) return fail(Errc::config, fmt::format("{}: expected an IP address, got \"{}\"", where, hp.host));
    // UDP first, without SO_REUSEADDR, so a port another process holds is refused; TCP then
    // takes the same port. For port 0 the kernel picks a port free for UDP, which TCP may hold:
    // then another one is picked.
    const int attempts = hp.port == 0 ? port_zero_attempts : 1;
    for (int attempt = 1;; ++attempt) {
      auto socket = std::make_unique<udp::socket>(io_);
      const udp::endpoint local(address, hp.port);
      socket->open(local.protocol(), ec);
      if (!ec && address.is_v6()) socket->set_option(asio::ip::v6_only(true), ec);
      if (!ec) socket->bind(local, ec);
      if (!ec) socket->non_blocking(true, ec);
      if (ec) return fail(Errc::network, fmt::format("{}: udp: {}", where, ec.message()));
      const tcp::endpoint stream_local(address, socket->local_endpoint().port());
      auto acceptor = std::make_unique<tcp::acceptor>(io_);
      acceptor->open(stream_local.protocol(), ec);
      if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec && address.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
      if (!ec) acceptor->bind(stream_local, ec);
      if (!ec) acceptor->listen(listen_backlog, ec);
      if (ec == asio::error::address_in_use && attempt < attempts) continue;
      if (ec) return fail(Errc::network, fmt::format("{}: tcp: {}", where, ec.message()));
      udp_.push_back(std::move(socket));
      tcp_.push_back(std::move(acceptor));
      break;
    }
  }
  return {};
}

std::vector<udp::endpoint> DnsServer::local_endpoints() const {
  std::vector<udp::endpoint> out;
  for (const auto& socket : udp_) out.push_back(socket->local_endpoint());
  return out;
}

void DnsServer::start() {
  if (started_) return;
  started_ = true;
  for (auto& socket : udp_) tasks_.spawn("dns udp", serve_udp(*socket));
  for (auto& acceptor : tcp_) tasks_.spawn("dns tcp accept", accept(*acceptor));
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      log::dns()->error("server thread failed error=\"{}\"", e.what());
    }
  });
  for (const auto& endpoint : local_endpoints()) {
    log::dns()->info("listening address={} protocols=udp,tcp",
                     domain::HostPort{endpoint.address().to_string(), endpoint.port()}.to_string());
  }
}

void DnsServer::stop() {
  if (!started_ || !thread_.joinable()) return;
  asio::co_spawn(io_, shut_down(), asio::detached);
  thread_.join();
}

asio::awaitable<void> DnsServer::shut_down() {
  for (auto& socket : udp_) {
    boost::system::error_code ignored;
    socket->close(ignored);
  }
  for (auto& acceptor : tcp_) {
    boost::system::error_code ignored;
    acceptor->close(ignored);
  }
  tasks_.stop();
  asio::steady_timer deadline(io_, stop_deadline);
  auto wait = tasks_.wait();
  auto expiry = deadline.async_wait(use_tuple);
  auto first = co_await (std::move(wait) || std::move(expiry));
  if (first.index() == 1) log::dns()->error("connections still open after the stop deadline");
  io_.stop();
}

asio::awaitable<void> DnsServer::serve_udp(udp::socket& socket) {
  auto batch = std::make_unique<UdpBatch>();
  for (;;) {
    auto [ec] = co_await socket.async_wait(udp::socket::wait_read, use_tuple);
    if (ec == asio::error::operation_aborted || !socket.is_open()) co_return;
    for (;;) {
      // An error (an earlier answer's ICMP "port unreachable") reads as an empty batch: the next
      // wait reports the socket readable again if datagrams are queued behind it.
      const std::size_t n = batch->receive(socket.native_handle());
      if (n == 0) break;
      Counters::add(counters_.udp_queries, n);
      const auto now = RateLimiter::Clock::now();
      const auto zone = zone_.current();
      for (std::size_t i = 0; i < n; ++i) {
        const auto verdict = limiter_.check(batch->peer(i), now);
        if (verdict != RateLimiter::Verdict::answer) Counters::add(counters_.rate_limited, 1);
        const auto query = batch->datagram(i);
        // Written into the batch's reply buffer: a precomputed answer costs no allocation.
        auto& answer = batch->reply_buffer();
        answer.clear();
        if (verdict != RateLimiter::Verdict::drop && !query.empty()) {
          respond(*zone, query, answer, {Transport::udp, verdict == RateLimiter::Verdict::slip});
        }
        if (answer.empty()) {
          if (verdict != RateLimiter::Verdict::drop) Counters::add(counters_.dropped, 1);
          continue;
        }
        count_answer(counters_, answer);
        batch->reply(i);
      }
      batch->send(socket.native_handle());
      if (n < UdpBatch::capacity) break;
      // A full batch: more may be queued. Let the TCP connections on this thread have a turn first.
      co_await asio::post(io_, asio::use_awaitable);
    }
  }
}

asio::awaitable<void> DnsServer::accept(tcp::acceptor& acceptor) {
  asio::steady_timer pause(io_);
  for (;;) {
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor.async_accept(peer, use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      const bool exhausted = base::is_resource_exhaustion(ec);
      if (auto dropped = accept_log_.admit(std::chrono::steady_clock::now())) {
        log::dns()->warn("accept failed error=\"{}\"{}{}", ec.message(),
                         exhausted ? " paused_ms=" + std::to_string(base::accept_pause.count()) : std::string(),
                         base::suppressed_suffix(*dropped));
      }
      if (exhausted) {
        // Out of descriptors: accepting at once would spin on the still readable socket.
        Counters::add(counters_.accept_pauses, 1);
        pause.expires_after(base::accept_pause);
        co_await pause.async_wait(use_tuple);
      }
      continue;
    }
    if (tcp_connections_ >= options_.max_tcp_connections) {
      Counters::add(counters_.tcp_refused, 1);
      continue;  // the socket closes as it goes out of scope
    }
    auto lease = tcp_per_ip_.try_acquire(peer.address(), options_.tcp_max_connections_per_ip);
    if (!lease.held() && options_.tcp_max_connections_per_ip != 0) {
      Counters::add(counters_.tcp_refused_per_ip, 1);
      if (auto dropped = refused_log_.admit(std::chrono::steady_clock::now())) {
        log::dns()->warn("tcp connection refused peer={} reason=max_connections_per_ip limit={}{}",
                         peer.address().to_string(), options_.tcp_max_connections_per_ip,
                         base::suppressed_suffix(*dropped));
      }
      continue;
    }
    ++tcp_connections_;
    tasks_.spawn("dns tcp", serve_tcp(std::move(socket), std::move(lease)));
  }
}

asio::awaitable<void> DnsServer::serve_tcp(tcp::socket socket, base::ConnectionsPerIp::Lease /*held till the end*/) {
  struct Slot {
    std::size_t& count;
    ~Slot() { --count; }
  } slot{tcp_connections_};
  asio::steady_timer timer(io_);
  std::array<std::uint8_t, 2> length{};
  std::vector<std::uint8_t> query;
  std::vector<std::uint8_t> answer;  // reused: a precomputed answer costs no allocation
  // RFC 7766 §6.2.1: a server may close a connection after some queries; the client reconnects.
  for (std::uint32_t queries = 0; queries < options_.tcp_max_queries;) {
    // RFC 1035 §4.2.2: each message is preceded by its length in two octets.
    auto read_length = asio::async_read(socket, asio::buffer(length), use_tuple);
    // Each deadline-bound operation is made first and awaited by name (GCC 12 mishandles
    // temporaries inside a co_await expression).
    auto length_read = with_deadline(std::move(read_length), timer, options_.tcp_idle_timeout);
    if (const auto ec = co_await std::move(length_read)) co_return;
    query.resize(static_cast<std::size_t>(length[0] << 8 | length[1]));
    auto read_query = asio::async_read(socket, asio::buffer(query), use_tuple);
    auto query_read = with_deadline(std::move(read_query), timer, options_.tcp_idle_timeout);
    if (const auto ec = co_await std::move(query_read)) co_return;
    Counters::add(counters_.tcp_queries, 1);
    ++queries;  // unanswerable ones count too
    const auto zone = zone_.current();
    respond(*zone, query, answer, {Transport::tcp, false});
    if (answer.empty()) {
      Counters::add(counters_.dropped, 1);
      continue;
    }
    count_answer(counters_, answer);
    const std::array<std::uint8_t, 2> prefix{static_cast<std::uint8_t>(answer.size() >> 8),
                                             static_cast<std::uint8_t>(answer.size() & 0xFF)};
    const std::array<asio::const_buffer, 2> message{asio::buffer(prefix), asio::buffer(answer)};
    auto write = asio::async_write(socket, message, use_tuple);
    auto written = with_deadline(std::move(write), timer, options_.tcp_idle_timeout);
    if (const auto ec = co_await std::move(written)) co_return;
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace portcullis::dns
