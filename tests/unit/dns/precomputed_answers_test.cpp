// The precomputed path against the general (ldns) path: for every kind of name and record type of
// a zone, in several letter cases, with and without EDNS, over UDP and TCP, the two give the same
// octets, and the precomputed path answers what it is meant to answer.
#include "dns/precomputed_answers.hpp"

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "dns/responder.hpp"
#include "dns/ldns_ptr.hpp"

namespace {

using namespace portcullis;
using dns::PktPtr;
using Bytes = std::vector<std::uint8_t>;

boost::asio::ip::address ip(const char* text) { return boost::asio::ip::make_address(text); }

// Every kind of name: the apex, name servers inside the zone (one two labels down) and outside
// it, platform hosts of both scopes, validation hosts with values (one longer than 255 octets) and
// without, a hostname inside the zone, a wildcard hostname inside it, and DNS-01 values at an
// `_acme-challenge` name inside it.
dns::ZonePtr make_zone(std::size_t txt_values = 3, std::string soa_email = "hostmaster@edge.example.net") {
  dns::ZoneSettings s;
  s.apex = "edge.example.net";
  s.name_servers = {{"ns1.edge.example.net", {ip("192.0.2.53"), ip("2001:db8::53")}},
                    {"a.ns.edge.example.net", {ip("192.0.2.54")}},
                    {"ns.other.example", {}}};
  s.soa_email = std::move(soa_email);
  s.external = {ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")};
  s.internal = {ip("10.0.0.1")};
  domain::EndpointConfig ext, internal, shop;
  ext.id = "elb-1";
  internal.id = "int-2";
  internal.scope = domain::Scope::internal;
  shop.id = "shop-3";
  shop.hostnames = {"shop.edge.example.net", "*.apps.edge.example.net"};
  dns::ZoneBuilder builder;
  builder.configure(s, {ext, internal, shop});
  std::vector<std::string> values;
  for (std::size_t i = 0; i < txt_values; ++i) values.push_back(std::string(43, static_cast<char>('a' + i % 26)));
  values.push_back(std::string(300, 'z'));
  builder.set_txt("elb-1", values);
  builder.set_challenge_txt("shop-3", {{"shop.edge.example.net", {"token-1", "token-2"}}});
  auto zone = builder.build(2026120101);
  REQUIRE(zone);
  return *zone;
}

struct Query {
  std::string name;
  ldns_rr_type type = LDNS_RR_TYPE_A;
  std::optional<std::uint16_t> edns;  // UDP size; nullopt: no OPT
  bool do_bit = false;
  ldns_rr_class klass = LDNS_RR_CLASS_IN;
};

Bytes wire(const Query& q, std::uint16_t id = 0xBEEF) {
  PktPtr pkt(ldns_pkt_query_new(ldns_dname_new_frm_str(q.name.c_str()), q.type, q.klass, LDNS_RD));
  REQUIRE(pkt);
  ldns_pkt_set_id(pkt.get(), id);
  if (q.edns) {
    ldns_pkt_set_edns_udp_size(pkt.get(), *q.edns);
    ldns_pkt_set_edns_do(pkt.get(), q.do_bit);
  }
  std::uint8_t* out = nullptr;
  std::size_t size = 0;
  REQUIRE(ldns_pkt2wire(&out, pkt.get(), &size) == LDNS_STATUS_OK);
  Bytes bytes(out, out + size);
  free(out);
  return bytes;
}

// The name with its letters' case flipped by a pattern, as a resolver's 0x20 randomisation does.
std::string mixed_case(const std::string& name, unsigned pattern) {
  std::string out = name;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (((pattern >> (i % 7)) & 1) != 0 && out[i] >= 'a' && out[i] <= 'z') out[i] = static_cast<char>(out[i] - 32);
  }
  return out;
}

// Compares the two paths on `query`; returns whether the precomputed one answered.
bool agree(const dns::Zone& zone, const Bytes& query, dns::RespondOptions options) {
  const Bytes general = dns::respond_with_ldns(zone, query, options);
  Bytes fast;
  const bool answered = dns::respond_precomputed(zone, query, options, fast);
  if (answered) REQUIRE(fast == general);
  REQUIRE(dns::respond(zone, query, options) == general);
  return answered;
}

const std::vector<std::string> answered_names = {
    "edge.example.net.",       "ns1.edge.example.net.",    "a.ns.edge.example.net.",
    "ns.edge.example.net.",    "elb-1.edge.example.net.",  "int-2.edge.example.net.",
    "acme.elb-1.edge.example.net.", "acme.int-2.edge.example.net.", "acme.shop-3.edge.example.net.",
    "shop.edge.example.net.",  "_acme-challenge.shop.edge.example.net.", "_acme-challenge.edge.example.net.",
    "apps.edge.example.net.",  "*.apps.edge.example.net.", "x.apps.edge.example.net.",
    "nope.edge.example.net.",  "x.elb-1.edge.example.net.", "x.acme.elb-1.edge.example.net.",
    "acme.edge.example.net.",  "a.b.c.d.e.f.g.edge.example.net.",
    "example.net.",            "xedge.example.net.",       "elb-1.edge.example.org.", "."};

const std::vector<ldns_rr_type> types = {LDNS_RR_TYPE_A,   LDNS_RR_TYPE_AAAA,  LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_SOA,
                                         LDNS_RR_TYPE_NS,  LDNS_RR_TYPE_ANY,   LDNS_RR_TYPE_CAA, LDNS_RR_TYPE_MX,
                                         LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_DS, LDNS_RR_TYPE_HINFO};

}  // namespace

TEST_CASE("precomputed answers equal the ldns path's, octet for octet, for every name and type",
          "[unit][dns]") {
  const auto zone = make_zone();
  std::size_t answered = 0, asked = 0;
  for (const auto& name : answered_names) {
    for (unsigned pattern : {0u, 0x55u, 0x2Au, 0x7Fu}) {
      for (auto type : types) {
        for (std::optional<std::uint16_t> edns : {std::optional<std::uint16_t>{}, std::optional<std::uint16_t>{512},
                                                  std::optional<std::uint16_t>{1232}, std::optional<std::uint16_t>{4096},
                                                  std::optional<std::uint16_t>{100}}) {
          for (bool do_bit : {false, true}) {
            if (do_bit && !edns) continue;
            const std::string asked_name = mixed_case(name, pattern);
            CAPTURE(asked_name, type, edns.value_or(0), do_bit);
            const Bytes query = wire({asked_name, type, edns, do_bit});
            for (dns::RespondOptions options :
                 {dns::RespondOptions{dns::Transport::udp, false}, dns::RespondOptions{dns::Transport::tcp, false},
                  dns::RespondOptions{dns::Transport::udp, true}}) {
              CAPTURE(options.transport == dns::Transport::tcp, options.truncate);
              ++asked;
              const bool fast = agree(*zone, query, options);
              answered += fast ? 1 : 0;
              // Every one of these names is precomputed except the NODATA answers at ns1: its
              // SOA's MNAME (ns1.edge.example.net) would be compressed against the question.
              const bool clash = name == "ns1.edge.example.net." &&
                                 !(type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA || type == LDNS_RR_TYPE_ANY);
              CHECK(fast != clash);
            }
          }
        }
      }
    }
  }
  CHECK(answered > asked * 9 / 10);
}

TEST_CASE("precomputed answers: an SOA whose names share the question's top label is left to ldns",
          "[unit][dns]") {
  const auto zone = make_zone(3, "first.last@edge.example.net");
  for (const char* name : {"ns1.edge.example.net.", "x.ns1.edge.example.net.", "a.b.ns1.edge.example.net."}) {
    CAPTURE(name);
    Bytes out;
    CHECK_FALSE(dns::respond_precomputed(*zone, wire({name, LDNS_RR_TYPE_TXT}), {}, out));
    agree(*zone, wire({name, LDNS_RR_TYPE_TXT}), {});
  }
  // The RNAME's first label holds a dot ("first\.last"): such a question is never precomputed.
  agree(*zone, wire({"first\\.last.edge.example.net.", LDNS_RR_TYPE_A}), {});
  // The SOA itself and a name that shares nothing with it are.
  Bytes out;
  CHECK(dns::respond_precomputed(*zone, wire({"EDGE.example.NET.", LDNS_RR_TYPE_SOA}), {}, out));
  CHECK(dns::respond_precomputed(*zone, wire({"first.edge.example.net.", LDNS_RR_TYPE_A}), {}, out));
  agree(*zone, wire({"first.edge.example.net.", LDNS_RR_TYPE_A}), {});
}

TEST_CASE("precomputed answers: large answers are truncated over UDP exactly as ldns does", "[unit][dns]") {
  const auto zone = make_zone(24);  // 24 x 43 octets and one of 300: over 1232
  for (std::optional<std::uint16_t> edns : {std::optional<std::uint16_t>{}, std::optional<std::uint16_t>{1232},
                                            std::optional<std::uint16_t>{65535}}) {
    const Bytes query = wire({"acme.elb-1.edge.example.net.", LDNS_RR_TYPE_TXT, edns});
    for (auto transport : {dns::Transport::udp, dns::Transport::tcp}) {
      CAPTURE(edns.value_or(0), transport == dns::Transport::tcp);
      CHECK(agree(*zone, query, {transport, false}));
    }
  }
  Bytes out;
  REQUIRE(dns::respond_precomputed(*zone, wire({"acme.elb-1.edge.example.net.", LDNS_RR_TYPE_TXT, 4096}), {}, out));
  CHECK((out[2] & 0x02) != 0);  // TC
  REQUIRE(dns::respond_precomputed(*zone, wire({"acme.elb-1.edge.example.net.", LDNS_RR_TYPE_TXT}),
                                   {dns::Transport::tcp, false}, out));
  CHECK(out.size() > 1232);
}

TEST_CASE("precomputed answers: header bits are copied as the ldns path copies them", "[unit][dns]") {
  const auto zone = make_zone();
  Bytes query = wire({"elb-1.edge.example.net.", LDNS_RR_TYPE_A, 1232});
  for (std::uint8_t flags2 : {0x00, 0x01, 0x02, 0x04, 0x07}) {      // RD, TC, AA as a client may set them
    for (std::uint8_t flags3 : {0x00, 0x10, 0x20, 0x40, 0x80, 0xF5}) {  // CD, AD, Z, RA, an RCODE
      CAPTURE(int{flags2}, int{flags3});
      query[2] = flags2;
      query[3] = flags3;
      CHECK(agree(*zone, query, {}));
    }
  }
  SECTION("other EDNS flags and an extended RCODE in the query") {
    query = wire({"elb-1.edge.example.net.", LDNS_RR_TYPE_A, 1232, true});
    query[query.size() - 3] = 0x7F;  // the flags' low octet (DO is the high octet's top bit)
    query[query.size() - 6] = 3;     // extended RCODE
    CHECK(agree(*zone, query, {}));
  }
}

TEST_CASE("precomputed answers leave unusual queries to the ldns path", "[unit][dns]") {
  const auto zone = make_zone();
  const Bytes plain = wire({"elb-1.edge.example.net.", LDNS_RR_TYPE_A, 1232});
  auto left_to_ldns = [&](const Bytes& query) {
    Bytes out;
    CHECK_FALSE(dns::respond_precomputed(*zone, query, {}, out));
    CHECK(dns::respond(*zone, query) == dns::respond_with_ldns(*zone, query));
  };
  SECTION("meta, transfer and mail types, and other classes") {
    for (auto type : {LDNS_RR_TYPE_AXFR, LDNS_RR_TYPE_IXFR, LDNS_RR_TYPE_OPT, LDNS_RR_TYPE_TSIG, LDNS_RR_TYPE_MAILA,
                      LDNS_RR_TYPE_MAILB}) {
      CAPTURE(type);
      left_to_ldns(wire({"edge.example.net.", type}));
    }
    left_to_ldns(wire({"edge.example.net.", LDNS_RR_TYPE_TXT, {}, false, LDNS_RR_CLASS_CH}));
  }
  SECTION("another opcode, a response, other counts") {
    Bytes q = plain;
    q[2] |= 5 << 3;  // UPDATE
    left_to_ldns(q);
    q = plain;
    q[2] |= 0x80;
    left_to_ldns(q);
    q = plain;
    q[5] = 2;  // two questions
    left_to_ldns(q);
    q = plain;
    q[7] = 1;  // an answer record
    left_to_ldns(q);
  }
  SECTION("EDNS version 1, an EDNS option, an OPT not owned by the root, trailing octets") {
    Bytes q = plain;
    q[q.size() - 5] = 1;  // version
    left_to_ldns(q);
    q = plain;
    q[q.size() - 1] = 4;  // RDLENGTH 4: an option (NSID, empty)
    q.insert(q.end(), {0, 3, 0, 0});
    left_to_ldns(q);
    q = wire({"elb-1.edge.example.net.", LDNS_RR_TYPE_A});
    q.push_back(0);
    left_to_ldns(q);
  }
  SECTION("a compressed question name, a truncated one, a label over 63 octets") {
    Bytes q(plain.begin(), plain.begin() + 12);
    q.insert(q.end(), {5, 'e', 'l', 'b', '-', '1', 0xC0, 12, 0, 1, 0, 1});
    left_to_ldns(q);
    left_to_ldns(Bytes(plain.begin(), plain.begin() + 20));
    q.assign(plain.begin(), plain.begin() + 12);
    q.push_back(64);
    q.insert(q.end(), 64, 'a');
    q.insert(q.end(), {0, 0, 1, 0, 1});
    left_to_ldns(q);
  }
}

TEST_CASE("precomputed answers: names up to 255 octets and odd octets in labels", "[unit][dns]") {
  const auto zone = make_zone();
  // Three 63-octet labels and one of 43 or 44 below the apex: 254 and 255 octets in wire format.
  for (std::size_t last : {43, 44}) {
    std::string name;
    for (int i = 0; i < 3; ++i) name += std::string(63, 'a') + ".";
    name += std::string(last, 'b') + ".edge.example.net.";
    for (auto type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_CAA}) {
      for (std::optional<std::uint16_t> edns : {std::optional<std::uint16_t>{}, std::optional<std::uint16_t>{1232}}) {
        CAPTURE(name, type);
        agree(*zone, wire({name, type, edns}), {});
      }
    }
  }
  // Octets in a label that are not lower-case letters: a space, a zero octet, 0xFF, 0xC4, a star,
  // an upper-case letter, a dot.
  const Bytes base = wire({"elb-1.edge.example.net.", LDNS_RR_TYPE_A});
  for (int odd : {0x20, 0x00, 0xFF, 0xC4, int{'*'}, int{'E'}, int{'.'}}) {
    Bytes q = base;
    q[13] = static_cast<std::uint8_t>(odd);  // the first letter of "elb-1"
    CAPTURE(odd);
    agree(*zone, q, {});
  }
}

TEST_CASE("precomputed answers are written into the caller's buffer without allocating", "[unit][dns]") {
  const auto zone = make_zone();
  Bytes out;
  out.reserve(dns::advertised_udp_size);
  const auto* before = out.data();
  for (const char* name : {"elb-1.edge.example.net.", "acme.elb-1.edge.example.net.", "nope.edge.example.net."}) {
    for (auto type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_SOA}) {
      dns::respond(*zone, wire({name, type, 1232}), out, {});
      CHECK_FALSE(out.empty());
      CHECK(out.data() == before);
    }
  }
}

TEST_CASE("precomputed answers: the empty zone refuses", "[unit][dns]") {
  dns::Zone empty;
  CHECK(agree(empty, wire({"edge.example.net.", LDNS_RR_TYPE_SOA, 1232}), {}));
}
