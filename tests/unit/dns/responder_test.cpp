#include "dns/responder.hpp"

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "dns/ldns_ptr.hpp"

namespace {

using namespace portcullis;
using dns::PktPtr;

dns::ZonePtr test_zone(std::size_t txt_values = 2) {
  dns::ZoneSettings s;
  s.apex = "edge.example.net";
  s.name_servers = {{"ns1.edge.example.net", {boost::asio::ip::make_address("192.0.2.53"),
                                              boost::asio::ip::make_address("2001:db8::53")}}};
  s.soa_email = "hostmaster@edge.example.net";
  s.external = {boost::asio::ip::make_address("192.0.2.1"), boost::asio::ip::make_address("2001:db8::1")};
  s.internal = {boost::asio::ip::make_address("10.0.0.1")};
  domain::EndpointConfig ext, internal;
  ext.id = "elb-1";
  internal.id = "int-2";
  internal.scope = domain::Scope::internal;
  dns::ZoneBuilder builder;
  builder.configure(s, {ext, internal});
  std::vector<std::string> values;
  for (std::size_t i = 0; i < txt_values; ++i) values.push_back(std::string(43, static_cast<char>('a' + i % 26)));
  builder.set_txt("elb-1", values);
  auto zone = builder.build(2026120101);
  REQUIRE(zone);
  return *zone;
}

struct Query {
  std::string name;
  ldns_rr_type type = LDNS_RR_TYPE_A;
  ldns_rr_class klass = LDNS_RR_CLASS_IN;
  std::optional<std::uint16_t> edns;  // UDP size; nullopt: no OPT
  std::uint8_t edns_version = 0;
  bool do_bit = false;
  std::uint16_t id = 0x1234;
};

std::vector<std::uint8_t> wire(const Query& q) {
  PktPtr pkt(ldns_pkt_query_new(ldns_dname_new_frm_str(q.name.c_str()), q.type, q.klass, LDNS_RD));
  REQUIRE(pkt);
  ldns_pkt_set_id(pkt.get(), q.id);
  if (q.edns) {
    ldns_pkt_set_edns_udp_size(pkt.get(), *q.edns);
    ldns_pkt_set_edns_version(pkt.get(), q.edns_version);
    ldns_pkt_set_edns_do(pkt.get(), q.do_bit);
  }
  std::uint8_t* out = nullptr;
  std::size_t size = 0;
  REQUIRE(ldns_pkt2wire(&out, pkt.get(), &size) == LDNS_STATUS_OK);
  std::vector<std::uint8_t> bytes(out, out + size);
  free(out);
  return bytes;
}

PktPtr parse(const std::vector<std::uint8_t>& bytes) {
  REQUIRE_FALSE(bytes.empty());
  ldns_pkt* pkt = nullptr;
  REQUIRE(ldns_wire2pkt(&pkt, bytes.data(), bytes.size()) == LDNS_STATUS_OK);
  return PktPtr(pkt);
}

PktPtr ask(const dns::Zone& zone, const Query& q, dns::RespondOptions options = {}) {
  return parse(dns::respond(zone, wire(q), options));
}

std::string text(const ldns_rdf* rdf) {
  char* s = ldns_rdf2str(rdf);
  std::string out = s ? s : "";
  free(s);
  return out;
}

std::vector<std::string> rdata(const ldns_rr_list* list, ldns_rr_type type) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(rr) == type) out.push_back(text(ldns_rr_rdf(rr, 0)));
  }
  return out;
}

// The one record in the authority section is the zone's SOA.
void require_soa_authority(const ldns_pkt* r, std::uint32_t ttl) {
  REQUIRE(ldns_pkt_nscount(r) == 1);
  const ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_authority(r), 0);
  CHECK(ldns_rr_get_type(soa) == LDNS_RR_TYPE_SOA);
  CHECK(ldns_rr_ttl(soa) == ttl);
  CHECK(text(ldns_rr_owner(soa)) == "edge.example.net.");
}

}  // namespace

TEST_CASE("responder: SOA at the apex, authoritative, id and RD echoed", "[unit][dns]") {
  auto zone = test_zone();
  auto r = ask(*zone, {"edge.example.net.", LDNS_RR_TYPE_SOA});
  CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_NOERROR);
  CHECK(ldns_pkt_qr(r.get()));
  CHECK(ldns_pkt_aa(r.get()));
  CHECK(ldns_pkt_rd(r.get()));
  CHECK_FALSE(ldns_pkt_ra(r.get()));
  CHECK(ldns_pkt_id(r.get()) == 0x1234);
  REQUIRE(ldns_pkt_ancount(r.get()) == 1);
  const ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_answer(r.get()), 0);
  CHECK(ldns_rr_get_type(soa) == LDNS_RR_TYPE_SOA);
  CHECK(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)) == 2026120101);
}

TEST_CASE("responder: NS at the apex with the glue in the additional section", "[unit][dns]") {
  auto zone = test_zone();
  auto r = ask(*zone, {"edge.example.net.", LDNS_RR_TYPE_NS});
  CHECK(ldns_pkt_aa(r.get()));
  CHECK(rdata(ldns_pkt_answer(r.get()), LDNS_RR_TYPE_NS) == std::vector<std::string>{"ns1.edge.example.net."});
  CHECK(rdata(ldns_pkt_additional(r.get()), LDNS_RR_TYPE_A) == std::vector<std::string>{"192.0.2.53"});
  CHECK(rdata(ldns_pkt_additional(r.get()), LDNS_RR_TYPE_AAAA) == std::vector<std::string>{"2001:db8::53"});
  // And the name server's own name answers its addresses.
  auto a = ask(*zone, {"ns1.edge.example.net.", LDNS_RR_TYPE_A});
  CHECK(rdata(ldns_pkt_answer(a.get()), LDNS_RR_TYPE_A) == std::vector<std::string>{"192.0.2.53"});
}

TEST_CASE("responder: platform hosts answer their scope's addresses", "[unit][dns]") {
  auto zone = test_zone();
  auto a = ask(*zone, {"elb-1.edge.example.net.", LDNS_RR_TYPE_A});
  CHECK(ldns_pkt_aa(a.get()));
  CHECK(rdata(ldns_pkt_answer(a.get()), LDNS_RR_TYPE_A) == std::vector<std::string>{"192.0.2.1"});
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a.get()), 0)) == 300);
  auto aaaa = ask(*zone, {"elb-1.edge.example.net.", LDNS_RR_TYPE_AAAA});
  CHECK(rdata(ldns_pkt_answer(aaaa.get()), LDNS_RR_TYPE_AAAA) == std::vector<std::string>{"2001:db8::1"});
  auto internal = ask(*zone, {"int-2.edge.example.net.", LDNS_RR_TYPE_A});
  CHECK(rdata(ldns_pkt_answer(internal.get()), LDNS_RR_TYPE_A) == std::vector<std::string>{"10.0.0.1"});
  SECTION("a scope without IPv6 addresses: no data") {
    auto none = ask(*zone, {"int-2.edge.example.net.", LDNS_RR_TYPE_AAAA});
    CHECK(ldns_pkt_get_rcode(none.get()) == LDNS_RCODE_NOERROR);
    CHECK(ldns_pkt_ancount(none.get()) == 0);
    require_soa_authority(none.get(), 300);
  }
}

TEST_CASE("responder: validation hosts answer every pending TXT value", "[unit][dns]") {
  auto zone = test_zone(3);
  auto r = ask(*zone, {"acme.elb-1.edge.example.net.", LDNS_RR_TYPE_TXT});
  CHECK(ldns_pkt_aa(r.get()));
  const auto values = rdata(ldns_pkt_answer(r.get()), LDNS_RR_TYPE_TXT);
  REQUIRE(values.size() == 3);
  CHECK(values[0] == "\"" + std::string(43, 'a') + "\"");
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(r.get()), 0)) == 60);
  SECTION("none pending: no data, negative TTL txt_ttl") {
    auto none = ask(*zone, {"acme.int-2.edge.example.net.", LDNS_RR_TYPE_TXT});
    CHECK(ldns_pkt_get_rcode(none.get()) == LDNS_RCODE_NOERROR);
    CHECK(ldns_pkt_ancount(none.get()) == 0);
    require_soa_authority(none.get(), 60);
  }
}

TEST_CASE("responder: CAA and other types at an existing name are NOERROR with no data", "[unit][dns]") {
  auto zone = test_zone();
  for (auto type : {LDNS_RR_TYPE_CAA, LDNS_RR_TYPE_MX, LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_DS}) {
    for (const char* name : {"elb-1.edge.example.net.", "edge.example.net."}) {
      CAPTURE(type, name);
      auto r = ask(*zone, {name, type});
      CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_NOERROR);
      CHECK(ldns_pkt_aa(r.get()));
      CHECK(ldns_pkt_ancount(r.get()) == 0);
      require_soa_authority(r.get(), 300);
    }
  }
  // SOA and NS exist only at the apex.
  auto ns = ask(*zone, {"elb-1.edge.example.net.", LDNS_RR_TYPE_NS});
  CHECK(ldns_pkt_ancount(ns.get()) == 0);
  CHECK(ldns_pkt_get_rcode(ns.get()) == LDNS_RCODE_NOERROR);
}

TEST_CASE("responder: an unknown name in the zone is NXDOMAIN with the SOA", "[unit][dns]") {
  auto zone = test_zone();
  for (const char* name : {"nope.edge.example.net.", "x.elb-1.edge.example.net.", "acme.edge.example.net.",
                           "x.acme.elb-1.edge.example.net."}) {
    CAPTURE(name);
    auto r = ask(*zone, {name, LDNS_RR_TYPE_A});
    CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_NXDOMAIN);
    CHECK(ldns_pkt_aa(r.get()));
    CHECK(ldns_pkt_ancount(r.get()) == 0);
    require_soa_authority(r.get(), 300);
  }
  SECTION("a label holding a dot is not two labels") {
    PktPtr pkt(ldns_pkt_query_new(ldns_dname_new_frm_str("elb-1\\.x.edge.example.net."), LDNS_RR_TYPE_A,
                                  LDNS_RR_CLASS_IN, 0));
    std::uint8_t* out = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&out, pkt.get(), &size) == LDNS_STATUS_OK);
    std::vector<std::uint8_t> bytes(out, out + size);
    free(out);
    auto r = parse(dns::respond(*zone, bytes));
    CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_NXDOMAIN);
  }
}

TEST_CASE("responder: names outside the zone, other classes and zone transfers are REFUSED", "[unit][dns]") {
  auto zone = test_zone();
  for (const char* name : {"example.net.", "xedge.example.net.", "elb-1.edge.example.org.", "."}) {
    CAPTURE(name);
    auto r = ask(*zone, {name, LDNS_RR_TYPE_A});
    CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_REFUSED);
    CHECK_FALSE(ldns_pkt_aa(r.get()));
    CHECK(ldns_pkt_ancount(r.get()) == 0);
    CHECK(ldns_pkt_qdcount(r.get()) == 1);
  }
  auto chaos = ask(*zone, {"edge.example.net.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH});
  CHECK(ldns_pkt_get_rcode(chaos.get()) == LDNS_RCODE_REFUSED);
  auto axfr = ask(*zone, {"edge.example.net.", LDNS_RR_TYPE_AXFR});
  CHECK(ldns_pkt_get_rcode(axfr.get()) == LDNS_RCODE_REFUSED);
  dns::Zone empty;
  auto nothing = ask(empty, {"edge.example.net.", LDNS_RR_TYPE_SOA});
  CHECK(ldns_pkt_get_rcode(nothing.get()) == LDNS_RCODE_REFUSED);
}

TEST_CASE("responder: ANY gets one HINFO (RFC 8482)", "[unit][dns]") {
  auto zone = test_zone();
  auto r = ask(*zone, {"elb-1.edge.example.net.", LDNS_RR_TYPE_ANY});
  CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_NOERROR);
  REQUIRE(ldns_pkt_ancount(r.get()) == 1);
  const ldns_rr* hinfo = ldns_rr_list_rr(ldns_pkt_answer(r.get()), 0);
  CHECK(ldns_rr_get_type(hinfo) == LDNS_RR_TYPE_HINFO);
  CHECK(text(ldns_rr_rdf(hinfo, 0)) == "\"RFC8482\"");
  CHECK(text(ldns_rr_owner(hinfo)) == "elb-1.edge.example.net.");
  auto unknown = ask(*zone, {"nope.edge.example.net.", LDNS_RR_TYPE_ANY});
  CHECK(ldns_pkt_get_rcode(unknown.get()) == LDNS_RCODE_NXDOMAIN);
}

TEST_CASE("responder: the question's letter case is echoed (0x20)", "[unit][dns]") {
  auto zone = test_zone();
  auto r = ask(*zone, {"eLb-1.EdGe.ExAmPlE.nEt.", LDNS_RR_TYPE_A});
  CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_NOERROR);
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(r.get()), 0);
  CHECK(text(ldns_rr_owner(question)) == "eLb-1.EdGe.ExAmPlE.nEt.");
  REQUIRE(ldns_pkt_ancount(r.get()) == 1);
  CHECK(text(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(r.get()), 0))) == "eLb-1.EdGe.ExAmPlE.nEt.");
}

TEST_CASE("responder: EDNS0 is answered with 1232 and the DO bit copied, and other versions get BADVERS",
          "[unit][dns]") {
  auto zone = test_zone();
  auto r = ask(*zone, {"elb-1.edge.example.net.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 4096, 0, true});
  CHECK(ldns_pkt_edns(r.get()));
  CHECK(ldns_pkt_edns_udp_size(r.get()) == 1232);
  CHECK(ldns_pkt_edns_version(r.get()) == 0);
  CHECK(ldns_pkt_edns_do(r.get()));
  auto plain = ask(*zone, {"elb-1.edge.example.net.", LDNS_RR_TYPE_A});
  CHECK_FALSE(ldns_pkt_edns(plain.get()));

  auto bad = ask(*zone, {"elb-1.edge.example.net.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 1232, 1});
  CHECK(ldns_pkt_edns(bad.get()));
  CHECK(ldns_pkt_edns_extended_rcode(bad.get()) == 1);  // 16 = BADVERS, upper bits
  CHECK(ldns_pkt_get_rcode(bad.get()) == LDNS_RCODE_NOERROR);
  CHECK(ldns_pkt_edns_version(bad.get()) == 0);
  CHECK(ldns_pkt_ancount(bad.get()) == 0);
}

TEST_CASE("responder: a UDP answer larger than the client takes is truncated, TCP gets it whole", "[unit][dns]") {
  auto zone = test_zone(12);  // 12 x 43-octet TXT values: about 700 octets
  const Query q{"acme.elb-1.edge.example.net.", LDNS_RR_TYPE_TXT};
  auto plain = ask(*zone, q);
  CHECK(ldns_pkt_tc(plain.get()));
  CHECK(ldns_pkt_ancount(plain.get()) == 0);
  CHECK(ldns_pkt_qdcount(plain.get()) == 1);

  Query small = q;
  small.edns = 100;  // below 512: treated as 512
  CHECK(ldns_pkt_tc(ask(*zone, small).get()));
  Query large = q;
  large.edns = 4096;
  auto fits = ask(*zone, large);
  CHECK_FALSE(ldns_pkt_tc(fits.get()));
  CHECK(ldns_pkt_ancount(fits.get()) == 12);

  auto tcp = ask(*zone, q, {dns::Transport::tcp});
  CHECK_FALSE(ldns_pkt_tc(tcp.get()));
  CHECK(ldns_pkt_ancount(tcp.get()) == 12);

  SECTION("the rate limiter's slip truncates any answer") {
    auto slip = ask(*zone, {"elb-1.edge.example.net.", LDNS_RR_TYPE_A}, {dns::Transport::udp, true});
    CHECK(ldns_pkt_tc(slip.get()));
    CHECK(ldns_pkt_ancount(slip.get()) == 0);
    CHECK(ldns_pkt_id(slip.get()) == 0x1234);
  }
}

TEST_CASE("responder: short packets and responses are dropped, malformed ones get FORMERR", "[unit][dns]") {
  auto zone = test_zone();
  auto query = wire({"elb-1.edge.example.net.", LDNS_RR_TYPE_A});

  CHECK(dns::respond(*zone, std::vector<std::uint8_t>{}).empty());
  CHECK(dns::respond(*zone, std::span(query).first(11)).empty());
  auto response = query;
  response[2] |= 0x80;  // QR=1
  CHECK(dns::respond(*zone, response).empty());

  SECTION("a truncated question") {
    auto r = parse(dns::respond(*zone, std::span(query).first(query.size() - 3)));
    CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_FORMERR);
    CHECK(ldns_pkt_id(r.get()) == 0x1234);
    CHECK(ldns_pkt_qr(r.get()));
  }
  SECTION("no question") {
    std::vector<std::uint8_t> header(query.begin(), query.begin() + 12);
    header[5] = 0;  // QDCOUNT 0
    auto r = parse(dns::respond(*zone, header));
    CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_FORMERR);
  }
  SECTION("two questions") {
    auto two = query;
    two[5] = 2;
    two.insert(two.end(), query.begin() + 12, query.end());
    auto r = parse(dns::respond(*zone, two));
    CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_FORMERR);
  }
  SECTION("a question of a meta type") {
    auto r = ask(*zone, {"edge.example.net.", LDNS_RR_TYPE_OPT});
    CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_FORMERR);
  }
  SECTION("a compression pointer loop") {
    std::vector<std::uint8_t> loop(query.begin(), query.begin() + 12);
    loop.insert(loop.end(), {0xC0, 12, 0, 1, 0, 1});
    auto r = parse(dns::respond(*zone, loop));
    CHECK(ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_FORMERR);
  }
}

TEST_CASE("responder: an opcode other than QUERY is NOTIMP", "[unit][dns]") {
  auto zone = test_zone();
  for (std::uint8_t opcode : {1, 2, 4, 5, 15}) {  // IQUERY, STATUS, NOTIFY, UPDATE, unassigned
    CAPTURE(opcode);
    auto query = wire({"edge.example.net.", LDNS_RR_TYPE_SOA});
    query[2] = static_cast<std::uint8_t>((query[2] & 0x87) | (opcode << 3));
    auto bytes = dns::respond(*zone, query);
    REQUIRE(bytes.size() == 12);
    CHECK((bytes[3] & 0x0F) == LDNS_RCODE_NOTIMPL);
    CHECK(((bytes[2] >> 3) & 0x0F) == opcode);
    CHECK((bytes[2] & 0x80) != 0);
  }
}
