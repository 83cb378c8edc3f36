// The built-in DNS server against a real client: kdig (Knot DNS) asks the portcullis binary,
// started with a [dns] section, every kind of question the responder answers, over UDP and TCP,
// with truncation and the TCP retry, and after a burst of malformed packets; dig (BIND), which
// keeps a name's letter case, checks that the case is echoed.
// Raw packets (malformed, other opcodes, responses) go over a plain UDP socket. The validation
// TXT values are set by the control plane, which no configuration reaches yet: those rows run
// against an in-process DnsServer whose zone the test sets.
#include <array>
#include <regex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "dns/dns_server.hpp"
#include "dns/platform_zone.hpp"
#include "domain/records.hpp"
#include "tests/support/portcullis_fixture.hpp"

using namespace portcullis::testing;
namespace asio = boost::asio;
namespace dns = portcullis::dns;
namespace domain = portcullis::domain;

namespace {

constexpr Millis kdig_deadline = 15s;
constexpr Millis raw_reply_deadline = 2s;

// What kdig printed, parsed: the header's status and flags, the section counts and lines.
struct Dig {
  int exit_code = -1;
  std::string out, err;
  std::string status, flags;
  int answer = -1, authority = -1, additional = -1;

  bool flag(const std::string& name) const { return (" " + flags + " ").find(" " + name + " ") != std::string::npos; }
  // The lines of ";; <NAME> SECTION:" up to the blank line.
  std::vector<std::string> section(const std::string& name) const {
    std::vector<std::string> lines;
    const std::string marker = ";; " + name + " SECTION:\n";
    auto at = out.find(marker);
    if (at == std::string::npos) return lines;
    at += marker.size();
    while (at < out.size() && out[at] != '\n') {
      auto end = out.find('\n', at);
      if (end == std::string::npos) end = out.size();
      lines.push_back(out.substr(at, end - at));
      at = end + 1;
    }
    return lines;
  }
  // The rdata (last field) of every line of the answer section with `type`.
  std::vector<std::string> answers(const std::string& type) const {
    std::vector<std::string> out_values;
    const std::regex line_re(R"(^\S+\s+\d+\s+IN\s+(\S+)\s+(.*)$)");
    for (const auto& line : section("ANSWER")) {
      std::smatch m;
      if (std::regex_match(line, m, line_re) && m[1] == type) out_values.push_back(m[2]);
    }
    return out_values;
  }
};

Dig kdig(std::uint16_t port, std::vector<std::string> args) {
  std::vector<std::string> argv{"kdig", "@127.0.0.1", "-p", std::to_string(port), "+norecurse", "+time=2",
                                "+retry=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv, kdig_deadline);
  Dig d;
  d.exit_code = r.exit_code;
  d.out = r.out;
  d.err = r.err;
  std::smatch m;
  if (std::regex_search(d.out, m, std::regex(R"(status: (\w+))"))) d.status = m[1];
  if (std::regex_search(d.out, m, std::regex(R"(;; Flags: ([a-z ]*); QUERY: \d+; ANSWER: (\d+); AUTHORITY: (\d+); ADDITIONAL: (\d+))"))) {
    d.flags = m[1];
    d.answer = std::stoi(m[2]);
    d.authority = std::stoi(m[3]);
    d.additional = std::stoi(m[4]);
  }
  return d;
}

// Sends raw datagrams from one socket and reads the replies, each within a deadline.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0)),
                                           server_(asio::ip::make_address("127.0.0.1"), port) {}
  void send(const std::vector<std::uint8_t>& bytes) { socket_.send_to(asio::buffer(bytes), server_); }
  // The next datagram, or nothing by the deadline.
  std::optional<std::vector<std::uint8_t>> receive(Millis deadline = raw_reply_deadline) {
    std::vector<std::uint8_t> buffer(65535);
    std::optional<std::vector<std::uint8_t>> out;
    asio::ip::udp::endpoint from;
    socket_.async_receive_from(asio::buffer(buffer), from, [&](boost::system::error_code ec, std::size_t n) {
      if (!ec) out.emplace(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    });
    io_.restart();
    io_.run_for(deadline);
    if (!out) {
      socket_.cancel();
      io_.restart();
      io_.run();
    }
    return out;
  }

 private:
  asio::io_context io_;
  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint server_;
};

// A query for edge.example.net SOA, id `id`: header, question.
std::vector<std::uint8_t> soa_query(std::uint16_t id) {
  std::vector<std::uint8_t> q{static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0,
                              0, 0, 0, 0};
  for (std::string_view label : {"edge", "example", "net"}) {
    q.push_back(static_cast<std::uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
  }
  q.insert(q.end(), {0, 0, 6, 0, 1});
  return q;
}

int rcode_of(const std::vector<std::uint8_t>& reply) { return reply.size() >= 4 ? (reply[3] & 0x0F) : -1; }
int id_of(const std::vector<std::uint8_t>& reply) { return reply.size() >= 2 ? (reply[0] << 8 | reply[1]) : -1; }

// The platform's addresses for external hosts: one v4 and enough v6 to pass 512 octets.
constexpr int v6_addresses = 40;

FixtureOptions dns_options(std::uint16_t dns_port) {
  FixtureOptions options;
  options.internal_listener = true;
  options.endpoints.push_back(EndpointSpec("elb-1", {"app.example.com"}, {"127.0.0.1:9"}));
  options.endpoints.push_back(EndpointSpec("int-2", {"internal.example.com"}, {"127.0.0.1:9"}, "internal"));
  std::string external = "\"127.0.0.1\"";
  for (int i = 1; i <= v6_addresses; ++i) external += fmt::format(", \"2001:db8::{:x}\"", i);
  options.extra_toml = fmt::format(
      "[dns]\nzone = \"edge.example.net\"\nlisten = [\"127.0.0.1:{}\"]\n"
      "[dns.addresses]\nexternal = [{}]\ninternal = [\"10.1.2.3\"]\n",
      dns_port, external);
  return options;
}

}  // namespace

TEST_CASE("kdig gets every answer of the platform zone from the portcullis binary", "[integration][dns]") {
  const std::uint16_t port = free_port();
  PortcullisFixture px(dns_options(port));
  // The fixture waits for the proxy's listeners; the DNS server starts before them, so this
  // first question is answered at once (the deadline covers a slow machine).
  REQUIRE(wait_until([&] { return kdig(port, {"edge.example.net", "SOA"}).status == "NOERROR"; }, 10s));

  SECTION("SOA and NS at the apex, with glue") {
    auto soa = kdig(port, {"edge.example.net", "SOA"});
    CHECK(soa.flag("aa"));
    CHECK(soa.flag("qr"));
    REQUIRE(soa.answers("SOA").size() == 1);
    CHECK(soa.answers("SOA")[0].starts_with("ns1.edge.example.net. hostmaster.edge.example.net. "));
    auto ns = kdig(port, {"edge.example.net", "NS"});
    CHECK(ns.answers("NS") == std::vector<std::string>{"ns1.edge.example.net."});
    CHECK(ns.additional >= 1);
    bool glue = false;
    for (const auto& line : ns.section("ADDITIONAL")) glue |= line.find("ns1.edge.example.net.") == 0 && line.ends_with("127.0.0.1");
    CHECK(glue);
  }
  SECTION("A and AAAA of platform hosts by scope") {
    auto a = kdig(port, {"elb-1.edge.example.net", "A"});
    CHECK(a.status == "NOERROR");
    CHECK(a.flag("aa"));
    CHECK(a.answers("A") == std::vector<std::string>{"127.0.0.1"});
    auto internal = kdig(port, {"int-2.edge.example.net", "A"});
    CHECK(internal.answers("A") == std::vector<std::string>{"10.1.2.3"});
    auto aaaa = kdig(port, {"elb-1.edge.example.net", "AAAA"});
    CHECK(aaaa.answers("AAAA").size() == v6_addresses);
    CHECK_FALSE(aaaa.flag("tc"));
  }
  SECTION("a validation host with no pending challenge answers the monitor's canary only") {
    auto txt = kdig(port, {"acme.elb-1.edge.example.net", "TXT"});
    CHECK(txt.status == "NOERROR");
    CHECK(txt.flag("aa"));
    CHECK(txt.answers("TXT") == std::vector<std::string>{"\"" + domain::canary_value("elb-1") + "\""});
  }
  SECTION("CAA and other types: NOERROR, no data, SOA") {
    for (auto [name, type] : {std::pair{"elb-1.edge.example.net", "CAA"},
                              std::pair{"edge.example.net", "CAA"}, std::pair{"elb-1.edge.example.net", "MX"}}) {
      CAPTURE(name, type);
      auto r = kdig(port, {name, type});
      CHECK(r.status == "NOERROR");
      CHECK(r.flag("aa"));
      CHECK(r.answer == 0);
      CHECK(r.authority == 1);
    }
  }
  SECTION("unknown names: NXDOMAIN with the SOA; outside the zone: REFUSED") {
    auto nx = kdig(port, {"nope.edge.example.net", "A"});
    CHECK(nx.status == "NXDOMAIN");
    CHECK(nx.flag("aa"));
    CHECK(nx.authority == 1);
    auto refused = kdig(port, {"example.com", "A"});
    CHECK(refused.status == "REFUSED");
    CHECK_FALSE(refused.flag("aa"));
  }
  SECTION("ANY gets one HINFO (RFC 8482)") {
    auto any = kdig(port, {"elb-1.edge.example.net", "ANY"});
    CHECK(any.status == "NOERROR");
    REQUIRE(any.answers("HINFO").size() == 1);
    CHECK(any.answers("HINFO")[0] == "\"RFC8482\" \"\"");
  }
  SECTION("EDNS: 1232 advertised, an unknown version gets BADVERS") {
    auto r = kdig(port, {"+bufsize=4096", "elb-1.edge.example.net", "A"});
    CHECK(r.out.find("UDP size: 1232 B") != std::string::npos);
    auto bad = kdig(port, {"+edns=1", "elb-1.edge.example.net", "A"});
    CHECK(bad.status == "BADVERS");
  }
  SECTION("TCP, and truncation over UDP with kdig's retry over TCP") {
    auto tcp = kdig(port, {"+tcp", "elb-1.edge.example.net", "AAAA"});
    CHECK(tcp.answers("AAAA").size() == v6_addresses);
    auto truncated = kdig(port, {"+bufsize=512", "+ignore", "elb-1.edge.example.net", "AAAA"});
    CHECK(truncated.flag("tc"));
    CHECK(truncated.answer == 0);
    auto no_edns = kdig(port, {"+noedns", "+ignore", "elb-1.edge.example.net", "AAAA"});
    CHECK(no_edns.flag("tc"));
    auto retried = kdig(port, {"+bufsize=512", "elb-1.edge.example.net", "AAAA"});
    CHECK_FALSE(retried.flag("tc"));
    CHECK(retried.answers("AAAA").size() == v6_addresses);
    CHECK(retried.out.find("TCP") != std::string::npos);
  }
  SECTION("the question's letter case is echoed (0x20)") {
    // kdig sends names in lower case; dig (BIND) sends them as written.
    auto r = run_command({"dig", "@127.0.0.1", "-p", std::to_string(port), "+norecurse", "+time=2", "+tries=2",
                          "eLb-1.EdGe.ExAmPlE.nEt", "A"},
                         kdig_deadline);
    CHECK(r.out.find("status: NOERROR") != std::string::npos);
    CHECK(r.out.find("\n;eLb-1.EdGe.ExAmPlE.nEt.\t") != std::string::npos);       // the question
    CHECK(r.out.find("\neLb-1.EdGe.ExAmPlE.nEt.\t300\tIN\tA\t127.0.0.1") != std::string::npos);  // the answer
  }
  SECTION("raw packets: malformed is FORMERR, another opcode NOTIMP, a response is dropped") {
    RawClient raw(port);
    auto malformed = soa_query(0x0101);
    malformed.resize(malformed.size() - 3);  // the question cut short
    raw.send(malformed);
    auto formerr = raw.receive();
    REQUIRE(formerr);
    CHECK(rcode_of(*formerr) == 1);
    CHECK(id_of(*formerr) == 0x0101);

    auto update = soa_query(0x0202);
    update[2] = 5 << 3;  // opcode UPDATE
    raw.send(update);
    auto notimp = raw.receive();
    REQUIRE(notimp);
    CHECK(rcode_of(*notimp) == 4);

    // A response (QR=1) gets nothing: the next reply is the one to the query sent after it.
    auto response = soa_query(0x0303);
    response[2] |= 0x80;
    raw.send(response);
    raw.send(soa_query(0x0404));
    auto next = raw.receive();
    REQUIRE(next);
    CHECK(id_of(*next) == 0x0404);
    CHECK(rcode_of(*next) == 0);
  }
  SECTION("a burst of 1,000 malformed packets leaves the server answering") {
    RawClient raw(port);
    std::vector<std::uint8_t> garbage(40);
    for (int i = 0; i < 1000; ++i) {
      for (std::size_t j = 0; j < garbage.size(); ++j) garbage[j] = static_cast<std::uint8_t>((i * 131 + j * 17) & 0xFF);
      garbage[2] &= 0x7F;  // QR=0, so each is answered (or rate-limited), not dropped outright
      raw.send(garbage);
    }
    REQUIRE(px.process().running());
    // Rate limiting may still hold back UDP answers to this /24 for a moment; kdig's retry over
    // TCP (after a truncated "slip") or the refilled bucket gets through.
    CHECK(wait_until([&] { return kdig(port, {"elb-1.edge.example.net", "A"}).answers("A") ==
                                  std::vector<std::string>{"127.0.0.1"}; }, 10s));
    CHECK(kdig(port, {"+tcp", "edge.example.net", "SOA"}).status == "NOERROR");
    CHECK(px.process().running());
  }
}

TEST_CASE("kdig gets the validation TXT values the control plane sets, truncated over UDP when large",
          "[integration][dns]") {
  dns::PlatformZone zone;
  domain::DnsConfig config;
  config.zone = "edge.example.net";
  config.ns = {{"ns1.edge.example.net", {"127.0.0.1"}}};
  config.soa_email = "hostmaster@edge.example.net";
  config.external_addresses = {"127.0.0.1"};
  domain::EndpointConfig endpoint;
  endpoint.id = "elb-1";
  REQUIRE(zone.configure(config, {endpoint}));
  dns::DnsServer server(zone.registry(), dns::DnsServerOptions{{{"127.0.0.1", 0}}});
  REQUIRE(server.listen());
  server.start();
  const std::uint16_t port = server.local_endpoints().at(0).port();

  auto none = kdig(port, {"acme.elb-1.edge.example.net", "TXT"});
  CHECK(none.status == "NOERROR");
  CHECK(none.answer == 0);

  // Two pending authorizations (a name and its wildcard) at once.
  const std::string first(43, 'a'), second(43, 'b');
  REQUIRE(zone.set_txt("elb-1", {first, second}));
  auto two = kdig(port, {"acme.elb-1.edge.example.net", "TXT"});
  CHECK(two.flag("aa"));
  auto values = two.answers("TXT");
  std::sort(values.begin(), values.end());
  CHECK(values == std::vector<std::string>{"\"" + first + "\"", "\"" + second + "\""});

  std::vector<std::string> many;
  for (char c = 'a'; c < 'a' + 14; ++c) many.push_back(std::string(43, c));
  REQUIRE(zone.set_txt("elb-1", many));
  auto truncated = kdig(port, {"+noedns", "+ignore", "acme.elb-1.edge.example.net", "TXT"});
  CHECK(truncated.flag("tc"));
  CHECK(truncated.answer == 0);
  auto retried = kdig(port, {"+noedns", "acme.elb-1.edge.example.net", "TXT"});
  CHECK(retried.answers("TXT").size() == many.size());

  REQUIRE(zone.clear_txt("elb-1"));
  CHECK(kdig(port, {"acme.elb-1.edge.example.net", "TXT"}).answer == 0);
  server.stop();
}

TEST_CASE("a reload republishes the zone with the new endpoints, and SIGTERM stops the DNS server cleanly",
          "[integration][dns]") {
  const std::uint16_t port = free_port();
  FixtureOptions options = dns_options(port);
  PortcullisFixture px(options);
  REQUIRE(wait_until([&] { return kdig(port, {"edge.example.net", "SOA"}).status == "NOERROR"; }, 10s));
  CHECK(kdig(port, {"elb-9.edge.example.net", "A"}).status == "NXDOMAIN");

  options.endpoints.push_back(EndpointSpec("elb-9", {"new.example.com"}, {"127.0.0.1:9"}));
  options.endpoints.erase(options.endpoints.begin());  // elb-1 goes
  px.rewrite_config(options);
  REQUIRE(px.reload() == ReloadOutcome::applied);
  auto added = kdig(port, {"elb-9.edge.example.net", "A"});
  CHECK(added.status == "NOERROR");
  CHECK(added.answers("A") == std::vector<std::string>{"127.0.0.1"});
  CHECK(kdig(port, {"acme.elb-9.edge.example.net", "TXT"}).status == "NOERROR");
  CHECK(kdig(port, {"elb-1.edge.example.net", "A"}).status == "NXDOMAIN");
  CHECK(px.log().find("zone published zone=edge.example.net") != std::string::npos);

  CHECK(px.stop() == 0);
  CHECK(kdig(port, {"+tcp", "edge.example.net", "SOA"}).exit_code != 0);  // nothing listens any more
}
