// DnsServer's TCP side on 127.0.0.1: several framed queries per connection, the idle timeout and
// the connection cap; and the UDP side's rate limiting. (kdig drives it in the integration tests.)
#include "dns/dns_server.hpp"

#include <array>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "dns/platform_zone.hpp"
#include "dns/udp_batch.hpp"

namespace {

using namespace portcullis;
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using namespace std::chrono_literals;

constexpr auto io_deadline = 5s;

void configure(dns::PlatformZone& zone) {
  domain::DnsConfig config;
  config.zone = "edge.example.net";
  config.ns = {{"ns1.edge.example.net", {"127.0.0.1"}}};
  config.soa_email = "hostmaster@edge.example.net";
  config.external_addresses = {"127.0.0.1"};
  domain::EndpointConfig ep;
  ep.id = "elb-1";
  REQUIRE(zone.configure(config, {ep}));
}

// edge.example.net SOA with id `id`.
std::vector<std::uint8_t> query(std::uint16_t id) {
  std::vector<std::uint8_t> q{static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  for (std::string_view label : {"edge", "example", "net"}) {
    q.push_back(static_cast<std::uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
  }
  q.insert(q.end(), {0, 0, 6, 0, 1});
  return q;
}

std::vector<std::uint8_t> framed(const std::vector<std::uint8_t>& message) {
  std::vector<std::uint8_t> out(message.size() + 2);
  out[0] = static_cast<std::uint8_t>(message.size() >> 8);
  out[1] = static_cast<std::uint8_t>(message.size());
  std::copy(message.begin(), message.end(), out.begin() + 2);
  return out;
}

// A client whose every operation ends by a deadline.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    boost::system::error_code ec;
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    REQUIRE_FALSE(ec);
  }
  void write(const std::vector<std::uint8_t>& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // The next framed message; nullopt when the server closed the connection (or the deadline passed).
  std::optional<std::vector<std::uint8_t>> read(std::chrono::milliseconds deadline = io_deadline) {
    std::array<std::uint8_t, 2> length{};
    if (!read_exactly(asio::buffer(length), deadline)) return std::nullopt;
    std::vector<std::uint8_t> message(static_cast<std::size_t>(length[0] << 8 | length[1]));
    if (!read_exactly(asio::buffer(message), deadline)) return std::nullopt;
    return message;
  }
  // True when the server closes the connection within the deadline.
  bool closed_within(std::chrono::milliseconds deadline) {
    std::array<std::uint8_t, 1> byte{};
    boost::system::error_code result = asio::error::would_block;
    asio::async_read(socket_, asio::buffer(byte), [&](boost::system::error_code ec, std::size_t) { result = ec; });
    io_.restart();
    io_.run_for(deadline);
    if (result == asio::error::would_block) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return false;
    }
    return result == asio::error::eof || result == asio::error::connection_reset;
  }

 private:
  bool read_exactly(asio::mutable_buffer buffer, std::chrono::milliseconds deadline) {
    boost::system::error_code result = asio::error::would_block;
    asio::async_read(socket_, buffer, [&](boost::system::error_code ec, std::size_t) { result = ec; });
    io_.restart();
    io_.run_for(deadline);
    if (result == asio::error::would_block) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return false;
    }
    return !result;
  }
  asio::io_context io_;
  tcp::socket socket_;
};

int id_of(const std::vector<std::uint8_t>& m) { return m.size() >= 2 ? (m[0] << 8 | m[1]) : -1; }

}  // namespace

TEST_CASE("dns server: several framed queries on one TCP connection, answered in order", "[unit][dns]") {
  dns::PlatformZone zone([] { return 1'700'000'000u; });
  configure(zone);
  dns::DnsServer server(zone.registry(), {{{"127.0.0.1", 0}}});
  auto listening = server.listen();
  INFO((listening ? std::string() : listening.error().message()));
  REQUIRE(listening);
  server.start();
  Client client(server.local_endpoints().at(0).port());
  // Two queries in one write, a third split across writes.
  auto both = framed(query(1));
  auto second = framed(query(2));
  both.insert(both.end(), second.begin(), second.end());
  client.write(both);
  auto third = framed(query(3));
  client.write({third.begin(), third.begin() + 5});
  client.write({third.begin() + 5, third.end()});
  for (int id : {1, 2, 3}) {
    auto answer = client.read();
    REQUIRE(answer);
    CHECK(id_of(*answer) == id);
    CHECK(((*answer)[3] & 0x0F) == 0);  // NOERROR
  }
  CHECK(server.counters().tcp_queries.load() == 3);
  server.stop();
}

TEST_CASE("dns server: an idle TCP connection is closed, and connections past the cap at once", "[unit][dns]") {
  dns::PlatformZone zone([] { return 1'700'000'000u; });
  configure(zone);
  dns::DnsServerOptions options{{{"127.0.0.1", 0}}};
  options.tcp_idle_timeout = 200ms;
  options.max_tcp_connections = 1;
  dns::DnsServer server(zone.registry(), options);
  auto listening = server.listen();
  INFO((listening ? std::string() : listening.error().message()));
  REQUIRE(listening);
  server.start();
  const auto port = server.local_endpoints().at(0).port();
  Client first(port);
  first.write(framed(query(7)));
  REQUIRE(first.read());  // the connection is being served: it holds the one slot
  Client second(port);
  CHECK(second.closed_within(io_deadline));
  CHECK(server.counters().tcp_refused.load() == 1);
  CHECK(first.closed_within(io_deadline));  // idle for 200 ms
  server.stop();
}

TEST_CASE("dns server: UDP answers past the rate limit are dropped or truncated", "[unit][dns]") {
  dns::PlatformZone zone([] { return 1'700'000'000u; });
  configure(zone);
  dns::DnsServerOptions options{{{"127.0.0.1", 0}}};
  options.rate_limit = 5;
  dns::DnsServer server(zone.registry(), options);
  auto listening = server.listen();
  INFO((listening ? std::string() : listening.error().message()));
  REQUIRE(listening);
  server.start();
  asio::io_context io;
  udp::socket socket(io, udp::endpoint(udp::v4(), 0));
  const udp::endpoint target(asio::ip::make_address("127.0.0.1"), server.local_endpoints().at(0).port());
  constexpr int sent = 20;
  for (int i = 0; i < sent; ++i) socket.send_to(asio::buffer(query(static_cast<std::uint16_t>(100 + i))), target);
  // Read what comes back until the server has counted every query and nothing more arrives.
  int full = 0, truncated = 0;
  std::vector<std::uint8_t> buffer(2048);
  udp::endpoint from;
  for (;;) {
    bool got = false;
    socket.async_receive_from(asio::buffer(buffer), from, [&](boost::system::error_code ec, std::size_t n) {
      if (ec || n < 12) return;
      got = true;
      ((buffer[2] & 0x02) != 0 ? truncated : full)++;
    });
    io.restart();
    io.run_for(server.counters().udp_queries.load() == sent ? 300ms : io_deadline);
    if (!got) {
      socket.cancel();
      io.restart();
      io.run();
      break;
    }
  }
  // Five within the burst (a few more if the bucket refilled meanwhile), then one of two slips.
  CHECK(full >= 5);
  CHECK(full < 10);
  CHECK(truncated >= 5);
  CHECK(full + truncated < sent);
  CHECK(server.counters().rate_limited.load() >= 10);
  server.stop();
}

TEST_CASE("dns server: a datagram larger than any query is dropped, the next one answered", "[unit][dns]") {
  dns::PlatformZone zone([] { return 1'700'000'000u; });
  configure(zone);
  dns::DnsServer server(zone.registry(), {{{"127.0.0.1", 0}}});
  auto listening = server.listen();
  INFO((listening ? std::string() : listening.error().message()));
  REQUIRE(listening);
  server.start();
  asio::io_context io;
  udp::socket socket(io, udp::endpoint(udp::v4(), 0));
  const udp::endpoint target(asio::ip::make_address("127.0.0.1"), server.local_endpoints().at(0).port());
  auto oversized = query(1);
  oversized.resize(dns::UdpBatch::slot_size + 100);
  socket.send_to(asio::buffer(oversized), target);
  socket.send_to(asio::buffer(query(2)), target);
  std::vector<std::uint8_t> buffer(2048);
  udp::endpoint from;
  std::size_t received = 0;
  socket.async_receive_from(asio::buffer(buffer), from, [&](boost::system::error_code ec, std::size_t n) {
    if (!ec) received = n;
  });
  io.run_for(io_deadline);
  REQUIRE(received >= 12);
  CHECK((buffer[0] << 8 | buffer[1]) == 2);
  CHECK(server.counters().dropped.load() == 1);
  server.stop();
}
