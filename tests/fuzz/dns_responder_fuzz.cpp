// libFuzzer target for the DNS packet handler (dns/responder.hpp): every input is answered over
// UDP and TCP by the same zone, and each answer must be either nothing or a message ldns parses
// back, with the query's ID, QR set, and (over UDP) no larger than 1232 octets. Where the
// precomputed path answers, its octets must be the ldns path's.
// Built by `make fuzz` (clang-14, -fsanitize=fuzzer,address,undefined; see tests/fuzz/CMakeLists.txt).
#include "dns/responder.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

// After the C++ headers: ldns's common.h defines bool, true and false as macros.
#include <ldns/ldns.h>

namespace {

using namespace portcullis;

// A zone with every kind of name: apex, in-zone name server, platform hosts of both scopes, a
// validation host with TXT values (enough to overflow 512 octets) and one without.
dns::ZonePtr make_zone() {
  dns::ZoneSettings s;
  s.apex = "edge.example.net";
  s.name_servers = {{"ns1.edge.example.net", {boost::asio::ip::make_address("192.0.2.53")}},
                    {"a.ns.edge.example.net", {boost::asio::ip::make_address("2001:db8::53")}},
                    {"ns.other.example", {}}};
  // The RNAME's first label holds a dot, and both SOA names sit below the apex: negative answers
  // near them are left to the ldns path, which the comparison below checks.
  s.soa_email = "host.master@edge.example.net";
  s.external = {boost::asio::ip::make_address("192.0.2.1"), boost::asio::ip::make_address("2001:db8::1")};
  s.internal = {boost::asio::ip::make_address("10.0.0.1")};
  domain::EndpointConfig ext, internal;
  ext.id = "elb-1";
  ext.hostnames = {"shop.edge.example.net", "*.apps.edge.example.net"};
  internal.id = "int-2";
  internal.scope = domain::Scope::internal;
  dns::ZoneBuilder builder;
  builder.configure(s, {ext, internal});
  builder.set_challenge_txt("elb-1", {{"shop.edge.example.net", {"token"}}});
  std::vector<std::string> values;
  for (char c = 'a'; c < 'a' + 14; ++c) values.emplace_back(43, c);
  builder.set_txt("elb-1", values);
  auto zone = builder.build(1);
  if (!zone) std::abort();
  return *zone;
}

void check(const std::vector<std::uint8_t>& answer, std::span<const std::uint8_t> query, bool udp) {
  if (answer.empty()) return;
  if (answer.size() < 12 || answer[0] != query[0] || answer[1] != query[1] || (answer[2] & 0x80) == 0) std::abort();
  if (udp && answer.size() > dns::advertised_udp_size) std::abort();
  ldns_pkt* parsed = nullptr;
  if (ldns_wire2pkt(&parsed, answer.data(), answer.size()) != LDNS_STATUS_OK) std::abort();
  ldns_pkt_free(parsed);
}

// The precomputed path, where it answers, gives the ldns path's octets.
void compare(const dns::Zone& zone, std::span<const std::uint8_t> query, dns::RespondOptions options) {
  std::vector<std::uint8_t> fast;
  if (!dns::respond_precomputed(zone, query, options, fast)) return;
  if (fast != dns::respond_with_ldns(zone, query, options)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const dns::ZonePtr zone = make_zone();
  const std::span<const std::uint8_t> query(data, size);
  for (auto options : {dns::RespondOptions{dns::Transport::udp, false}, dns::RespondOptions{dns::Transport::tcp, false},
                       dns::RespondOptions{dns::Transport::udp, true}}) {
    check(dns::respond(*zone, query, options), query, options.transport == dns::Transport::udp);
    compare(*zone, query, options);
  }
  return 0;
}
