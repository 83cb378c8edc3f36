#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

#include <catch2/catch.hpp>

using namespace portcullis::testing;

namespace {

// Binds host:port for `type` without SO_REUSEADDR, as a child that has not asked for it would.
bool can_bind(const std::string& host, std::uint16_t port, int type) {
  const bool v6 = host.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int rc = -1;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ::close(fd);
  return rc == 0;
}

}  // namespace

TEST_CASE("two hundred free ports are all distinct and each can be bound when it is handed out",
          "[unit][support]") {
  std::set<std::uint16_t> ports;
  for (int i = 0; i < 200; ++i) {
    const auto port = free_port();
    INFO("call " << i << ": port " << port);
    CHECK(port != 0);
    CHECK(can_bind("127.0.0.1", port, SOCK_STREAM));
    CHECK(can_bind("127.0.0.1", port, SOCK_DGRAM));
    ports.insert(port);
  }
  CHECK(ports.size() == 200);
}

TEST_CASE("free ports come from below the kernel's ephemeral range while there is room there",
          "[unit][support]") {
  const auto ephemeral = ephemeral_port_range();
  INFO("ephemeral range " << ephemeral.low << "-" << ephemeral.high);
  REQUIRE(ephemeral.low <= ephemeral.high);
  if (ephemeral.low < free_port_floor + 1000) {
    WARN("no room below the ephemeral range on this host: free_port() falls back to the kernel's choice");
    return;
  }
  for (int i = 0; i < 200; ++i) {
    const auto port = free_port();
    INFO("port " << port);
    CHECK(port >= free_port_floor);
    CHECK(port < ephemeral.low);
  }
}

TEST_CASE("a port handed out for one loopback address is not handed out again for another",
          "[unit][support]") {
  std::vector<std::string> hosts{"127.0.0.1", "127.0.0.2"};
  if (can_bind("::1", 0, SOCK_STREAM)) hosts.push_back("::1");
  std::set<std::uint16_t> ports;
  std::size_t calls = 0;
  for (int round = 0; round < 30; ++round) {
    for (const auto& host : hosts) {
      const auto port = free_port(host);
      INFO(host << " port " << port);
      CHECK(can_bind(host, port, SOCK_STREAM));
      ports.insert(port);
      ++calls;
    }
  }
  CHECK(ports.size() == calls);
}

TEST_CASE("a bind failure is recognised whether Go or strerror spelled it", "[unit][support]") {
  CHECK(says_address_in_use("listen tcp 127.0.0.1:10042: bind: address already in use\n"));
  CHECK(says_address_in_use("error: https listener 127.0.0.1:10042: Address already in use"));
  CHECK(says_address_in_use("ADDRESS ALREADY IN USE"));
  CHECK_FALSE(says_address_in_use("listen tcp 127.0.0.1:10042: bind: permission denied"));
  CHECK_FALSE(says_address_in_use(""));
}
