#include "dns/responder.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "base/hostname.hpp"
#include "dns/ldns_ptr.hpp"

namespace portcullis::dns {
namespace {

constexpr std::size_t header_size = 12;
constexpr std::size_t max_tcp_message = 65535;
// RFC 6891 §9: BADVERS is extended RCODE 16, sent as 1 in the OPT's upper eight bits.
constexpr std::uint8_t badvers_upper_bits = 1;
constexpr std::uint16_t max_name_octets = 255;
constexpr std::size_t max_label_octets = 63;
// An OPT without options: owner, type, class, TTL, RDLENGTH.
constexpr std::size_t opt_record_size = 11;

// Meta types a question may not carry (RFC 6895 §3.1), and the ones this server declines.
bool is_unqueryable(ldns_rr_type type) {
  return type == LDNS_RR_TYPE_OPT || type == LDNS_RR_TYPE_TSIG || type == LDNS_RR_TYPE_TKEY;
}
bool is_transfer(ldns_rr_type type) { return type == LDNS_RR_TYPE_AXFR || type == LDNS_RR_TYPE_IXFR; }
bool is_mail_meta(ldns_rr_type type) { return type == LDNS_RR_TYPE_MAILA || type == LDNS_RR_TYPE_MAILB; }

std::vector<std::uint8_t> to_wire(const ldns_pkt* pkt) {
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK || wire == nullptr) {
    std::free(wire);
    return {};
  }
  std::vector<std::uint8_t> out(wire, wire + size);
  std::free(wire);
  return out;
}

// A reply that is only a header: for a packet whose question cannot be trusted or read.
std::vector<std::uint8_t> header_only(std::span<const std::uint8_t> query, ldns_pkt_rcode rcode) {
  PktPtr reply(ldns_pkt_new());
  if (!reply) return {};
  ldns_pkt_set_id(reply.get(), static_cast<std::uint16_t>(query[0] << 8 | query[1]));
  ldns_pkt_set_qr(reply.get(), true);
  ldns_pkt_set_opcode(reply.get(), static_cast<ldns_pkt_opcode>((query[2] >> 3) & 0x0F));
  ldns_pkt_set_rd(reply.get(), (query[2] & 0x01) != 0);
  ldns_pkt_set_rcode(reply.get(), rcode);
  return to_wire(reply.get());
}

// The question's name relative to the apex, as the zone's keys spell it ("acme.elb-1"), when the
// name is inside the zone. `key` receives the lower-cased labels; a label holding a "." cannot be
// a key, so it is marked by `unmatchable`.
struct Placement {
  bool in_zone = false;
  bool unmatchable = false;
  std::string_view key;
  std::size_t prefix = 0;  // octets of the question's name before the apex
};

// `qname`: the question's name in wire format, uncompressed.
Placement place(std::span<const std::uint8_t> qname, const ldns_rdf* apex, std::array<char, max_name_octets>& key) {
  Placement out;
  if (apex == nullptr) return out;
  const auto* q = qname.data();
  const std::size_t q_size = qname.size();
  const auto* a = ldns_rdf_data(apex);
  const std::size_t a_size = ldns_rdf_size(apex);
  if (q_size < a_size || q_size > max_name_octets + 1) return out;
  // Label starts of the question name; the apex must be the suffix starting at one of them.
  std::size_t suffix = 0;
  bool found = false;
  for (std::size_t at = 0; at < q_size;) {
    if (q_size - at == a_size) {
      suffix = at;
      found = true;
      break;
    }
    const std::size_t length = q[at];
    if (length == 0) break;
    at += length + 1;
  }
  if (!found) return out;
  for (std::size_t i = 0; i < a_size; ++i) {
    if (base::ascii_lower(static_cast<char>(q[suffix + i])) != base::ascii_lower(static_cast<char>(a[i]))) return out;
  }
  out.in_zone = true;
  out.prefix = suffix;
  std::size_t n = 0;
  for (std::size_t at = 0; at < suffix;) {
    const std::size_t length = q[at];
    if (n != 0) key[n++] = '.';
    for (std::size_t i = 1; i <= length; ++i) {
      const char c = static_cast<char>(q[at + i]);
      if (c == '.') out.unmatchable = true;
      key[n++] = base::ascii_lower(c);
    }
    at += length + 1;
  }
  out.key = std::string_view(key.data(), n);
  return out;
}

// Builds a response to one parsed question.
class Reply {
 public:
  Reply(const ldns_pkt* query, const ldns_rr* question) : query_(query), question_(question) {}

  // The response with the header, question and OPT, and the sections added so far only if
  // `with_records`.
  PktPtr make(ldns_pkt_rcode rcode, bool aa, bool with_records, bool tc) const {
    PktPtr pkt(ldns_pkt_new());
    if (!pkt) return pkt;
    ldns_pkt_set_id(pkt.get(), ldns_pkt_id(query_));
    ldns_pkt_set_qr(pkt.get(), true);
    ldns_pkt_set_opcode(pkt.get(), LDNS_PACKET_QUERY);
    ldns_pkt_set_rd(pkt.get(), ldns_pkt_rd(query_));
    ldns_pkt_set_cd(pkt.get(), ldns_pkt_cd(query_));
    ldns_pkt_set_aa(pkt.get(), aa);
    ldns_pkt_set_tc(pkt.get(), tc);
    ldns_pkt_set_rcode(pkt.get(), rcode);
    ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(question_));
    if (ldns_pkt_edns(query_)) {
      ldns_pkt_set_edns_udp_size(pkt.get(), advertised_udp_size);
      ldns_pkt_set_edns_version(pkt.get(), 0);
      ldns_pkt_set_edns_do(pkt.get(), ldns_pkt_edns_do(query_));
      if (badvers_) ldns_pkt_set_edns_extended_rcode(pkt.get(), badvers_upper_bits);
    }
    if (with_records) {
      for (const auto& [section, rr] : records_) ldns_pkt_push_rr(pkt.get(), section, ldns_rr_clone(rr));
    }
    return pkt;
  }

  void badvers() { badvers_ = true; }
  // Each record of `list` in the answer, with the question's name (and its letter case) as owner.
  void answer(const ldns_rr_list* list) {
    for (std::size_t i = 0; list != nullptr && i < ldns_rr_list_rr_count(list); ++i) answer(ldns_rr_list_rr(list, i));
  }
  void answer(const ldns_rr* rr) {
    RrPtr copy(ldns_rr_clone(rr));
    if (!copy) return;
    ldns_rdf_deep_free(ldns_rr_owner(copy.get()));
    ldns_rr_set_owner(copy.get(), ldns_rdf_clone(ldns_rr_owner(question_)));
    owned_.push_back(std::move(copy));
    records_.emplace_back(LDNS_SECTION_ANSWER, owned_.back().get());
  }
  void add(ldns_pkt_section section, const ldns_rr_list* list) {
    for (std::size_t i = 0; list != nullptr && i < ldns_rr_list_rr_count(list); ++i) {
      records_.emplace_back(section, ldns_rr_list_rr(list, i));
    }
  }
  void add(ldns_pkt_section section, const ldns_rr* rr) { records_.emplace_back(section, rr); }

 private:
  const ldns_pkt* query_;
  const ldns_rr* question_;
  bool badvers_ = false;
  std::vector<RrPtr> owned_;
  std::vector<std::pair<ldns_pkt_section, const ldns_rr*>> records_;
};

// The largest response the client takes over this transport.
std::size_t size_limit(const ldns_pkt* query, Transport transport) {
  if (transport == Transport::tcp) return max_tcp_message;
  if (!ldns_pkt_edns(query)) return classic_udp_size;
  // RFC 6891 §6.2.5: a size below 512 is treated as 512; ours caps it.
  const std::size_t asked = ldns_pkt_edns_udp_size(query);
  return std::clamp<std::size_t>(asked, classic_udp_size, advertised_udp_size);
}

struct Outcome {
  ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
  bool aa = false;
};

// The zone's answer to a question of class IN inside it.
Outcome answer_from_zone(const Zone& zone, const Zone::Node* node, ldns_rr_type type, Reply& reply) {
  if (node == nullptr) {
    reply.add(LDNS_SECTION_AUTHORITY, zone.soa());
    return {LDNS_RCODE_NXDOMAIN, true};
  }
  const ldns_rr_list* records = nullptr;
  switch (type) {
    case LDNS_RR_TYPE_A: records = node->a; break;
    case LDNS_RR_TYPE_AAAA: records = node->aaaa; break;
    case LDNS_RR_TYPE_TXT: records = node->txt; break;
    case LDNS_RR_TYPE_SOA:
      if (node->apex) {
        reply.answer(zone.soa());
        return {LDNS_RCODE_NOERROR, true};
      }
      break;
    case LDNS_RR_TYPE_NS:
      if (node->apex) {
        reply.answer(zone.ns());
        reply.add(LDNS_SECTION_ADDITIONAL, zone.glue());
        return {LDNS_RCODE_NOERROR, true};
      }
      break;
    case LDNS_RR_TYPE_ANY:
      reply.answer(zone.any_answer());
      return {LDNS_RCODE_NOERROR, true};
    default: break;  // CAA and every other type: no data
  }
  if (records != nullptr && ldns_rr_list_rr_count(records) > 0) {
    reply.answer(records);
    return {LDNS_RCODE_NOERROR, true};
  }
  // NODATA (RFC 2308 §2.2): NOERROR, no answer, the SOA for negative caching.
  reply.add(LDNS_SECTION_AUTHORITY, node->validation_host ? zone.soa_short() : zone.soa());
  return {LDNS_RCODE_NOERROR, true};
}

// A query the precomputed path answers, read by hand: what it needs of it.
struct PlainQuery {
  std::size_t name_size = 0;     // the question's name, root label included
  std::size_t question_end = 0;  // header, name, type and class
  std::uint16_t type = 0;
  bool edns = false;
  std::uint16_t udp_size = 0;
  bool do_bit = false;
};

std::uint16_t read16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

// The query when it is a plain question: QR=0, opcode QUERY, one question whose name is
// uncompressed labels of at most 63 octets, class IN, nothing in the answer and authority
// sections, and no additional record but an OPT owned by the root, of version 0, without
// options; no octet after it. nullopt for anything else.
std::optional<PlainQuery> read_plain_query(std::span<const std::uint8_t> query) {
  if (query.size() < header_size || (query[2] & 0xF8) != 0) return std::nullopt;
  if (read16(query, 4) != 1 || read16(query, 6) != 0 || read16(query, 8) != 0 || read16(query, 10) > 1) {
    return std::nullopt;
  }
  PlainQuery out;
  std::size_t at = header_size;
  for (;;) {
    if (at >= query.size() || at - header_size >= max_name_octets) return std::nullopt;
    const std::size_t length = query[at];
    if (length == 0) break;
    if (length > max_label_octets) return std::nullopt;  // a compression pointer, or a reserved label type
    at += length + 1;
  }
  ++at;
  out.name_size = at - header_size;
  if (at + 4 > query.size() || read16(query, at + 2) != LDNS_RR_CLASS_IN) return std::nullopt;
  out.type = read16(query, at);
  out.question_end = at + 4;
  if (read16(query, 10) == 0) {
    if (out.question_end != query.size()) return std::nullopt;
    return out;
  }
  // RFC 6891 §6.1.2: owner "." (one zero octet), TYPE 41, CLASS the UDP size, TTL extended RCODE,
  // version and flags, then RDLENGTH.
  const std::size_t opt = out.question_end;
  if (opt + opt_record_size != query.size() || query[opt] != 0 || read16(query, opt + 1) != LDNS_RR_TYPE_OPT ||
      query[opt + 6] != 0 || read16(query, opt + 9) != 0) {
    return std::nullopt;
  }
  out.edns = true;
  out.udp_size = read16(query, opt + 3);
  out.do_bit = (query[opt + 7] & 0x80) != 0;
  return out;
}

// The template for a question at `node` (nullptr: no such name), as answer_from_zone() decides;
// nullptr when none was prepared. Sets the outcome's RCODE and AA.
const WireAnswer* choose_template(const PrecomputedAnswers& prepared, const Zone::Node* node, ldns_rr_type type,
                                  bool apex_question, Outcome& outcome) {
  outcome = {LDNS_RCODE_NOERROR, true};
  if (node == nullptr) {
    outcome.rcode = LDNS_RCODE_NXDOMAIN;
    return prepared.negative(apex_question, false);
  }
  const ldns_rr_list* records = nullptr;
  switch (type) {
    case LDNS_RR_TYPE_A: records = node->a; break;
    case LDNS_RR_TYPE_AAAA: records = node->aaaa; break;
    case LDNS_RR_TYPE_TXT: records = node->txt; break;
    case LDNS_RR_TYPE_SOA:
      if (node->apex) return prepared.apex_soa();
      break;
    case LDNS_RR_TYPE_NS:
      if (node->apex) return prepared.apex_ns();
      break;
    case LDNS_RR_TYPE_ANY: return prepared.any();
    default: break;
  }
  if (records != nullptr && ldns_rr_list_rr_count(records) > 0) return prepared.records(records);
  return prepared.negative(apex_question, node->validation_host);
}

void put16(std::uint8_t* at, std::size_t value) {
  at[0] = static_cast<std::uint8_t>(value >> 8);
  at[1] = static_cast<std::uint8_t>(value & 0xFF);
}

// The response: the query's header and question, the template's sections (their moving pointers
// shifted by `shift`) unless they do not fit, and the OPT; the same octets Reply::make() and
// ldns_pkt2wire() give.
void write_precomputed(std::span<const std::uint8_t> query, const PlainQuery& plain, const WireAnswer* answer,
                       Outcome outcome, std::size_t shift, RespondOptions options, std::vector<std::uint8_t>& out) {
  std::size_t limit = max_tcp_message;
  if (options.transport == Transport::udp) {
    limit = plain.edns ? std::clamp<std::size_t>(plain.udp_size, classic_udp_size, advertised_udp_size)
                       : classic_udp_size;
  }
  const std::size_t sections = answer == nullptr ? 0 : answer->sections.size();
  const std::size_t opt = plain.edns ? opt_record_size : 0;
  const bool truncated = options.truncate || plain.question_end + sections + opt > limit;
  const bool with_records = !truncated && answer != nullptr;
  out.resize(plain.question_end + (with_records ? sections : 0) + opt);
  std::uint8_t* w = out.data();
  std::memcpy(w, query.data(), plain.question_end);
  w[2] = static_cast<std::uint8_t>(0x80 | (outcome.aa ? 0x04 : 0) | (truncated ? 0x02 : 0) | (query[2] & 0x01));
  w[3] = static_cast<std::uint8_t>((query[3] & 0x10) | outcome.rcode);  // CD copied
  put16(w + 6, with_records ? answer->ancount : 0);
  put16(w + 8, with_records ? answer->nscount : 0);
  put16(w + 10, (with_records ? answer->arcount : 0) + (plain.edns ? 1 : 0));
  std::uint8_t* at = w + plain.question_end;
  if (with_records) {
    std::memcpy(at, answer->sections.data(), sections);
    for (const std::uint16_t pointer : answer->moving_pointers) {
      put16(at + pointer, static_cast<std::size_t>(at[pointer] << 8 | at[pointer + 1]) + shift);
    }
    at += sections;
  }
  if (plain.edns) {
    const std::uint8_t record[opt_record_size] = {0, 0, LDNS_RR_TYPE_OPT, advertised_udp_size >> 8,
                                                  advertised_udp_size & 0xFF, 0, 0,
                                                  static_cast<std::uint8_t>(plain.do_bit ? 0x80 : 0), 0, 0, 0};
    std::memcpy(at, record, opt_record_size);
  }
}

}  // namespace

std::vector<std::uint8_t> respond(const Zone& zone, std::span<const std::uint8_t> query, RespondOptions options) {
  std::vector<std::uint8_t> out;
  respond(zone, query, out, options);
  return out;
}

void respond(const Zone& zone, std::span<const std::uint8_t> query, std::vector<std::uint8_t>& out,
             RespondOptions options) {
  if (respond_precomputed(zone, query, options, out)) return;
  const auto general = respond_with_ldns(zone, query, options);
  out.assign(general.begin(), general.end());  // keeps out's capacity for the next answer
}

bool respond_precomputed(const Zone& zone, std::span<const std::uint8_t> query, RespondOptions options,
                         std::vector<std::uint8_t>& out) {
  const auto plain = read_plain_query(query);
  if (!plain) return false;
  const auto type = static_cast<ldns_rr_type>(plain->type);
  if (is_unqueryable(type) || is_mail_meta(type) || is_transfer(type)) return false;
  std::array<char, max_name_octets> key;
  const Placement where = place(query.subspan(header_size, plain->name_size), zone.apex(), key);
  Outcome outcome{LDNS_RCODE_REFUSED, false};
  const WireAnswer* answer = nullptr;
  std::size_t shift = 0;
  if (where.in_zone) {
    const PrecomputedAnswers* prepared = zone.precomputed();
    if (where.unmatchable || prepared == nullptr) return false;
    const bool apex_question = where.key.empty();
    answer = choose_template(*prepared, zone.find(where.key), type, apex_question, outcome);
    if (answer == nullptr) return false;
    if (!apex_question) {
      const auto dot = where.key.rfind('.');
      const std::string_view top = dot == std::string_view::npos ? where.key : where.key.substr(dot + 1);
      for (const auto& label : answer->clashing_labels) {
        if (label == top) return false;
      }
      shift = where.prefix - PrecomputedAnswers::template_prefix;
    }
  }
  write_precomputed(query, *plain, answer, outcome, shift, options, out);
  return true;
}

std::vector<std::uint8_t> respond_with_ldns(const Zone& zone, std::span<const std::uint8_t> query,
                                            RespondOptions options) {
  if (query.size() < header_size) return {};
  if ((query[2] & 0x80) != 0) return {};  // QR=1: a response; answering could start a loop
  if (((query[2] >> 3) & 0x0F) != LDNS_PACKET_QUERY) return header_only(query, LDNS_RCODE_NOTIMPL);

  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, query.data(), query.size()) != LDNS_STATUS_OK || raw == nullptr) {
    ldns_pkt_free(raw);
    return header_only(query, LDNS_RCODE_FORMERR);
  }
  PktPtr parsed(raw);
  if (ldns_pkt_qdcount(parsed.get()) != 1 || ldns_rr_list_rr_count(ldns_pkt_question(parsed.get())) != 1) {
    return header_only(query, LDNS_RCODE_FORMERR);
  }
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(parsed.get()), 0);
  const ldns_rdf* qname = ldns_rr_owner(question);
  if (qname == nullptr || ldns_rdf_get_type(qname) != LDNS_RDF_TYPE_DNAME) return header_only(query, LDNS_RCODE_FORMERR);
  const ldns_rr_type type = ldns_rr_get_type(question);

  Reply reply(parsed.get(), question);
  Outcome outcome;
  if (ldns_pkt_edns(parsed.get()) && ldns_pkt_edns_version(parsed.get()) != 0) {
    reply.badvers();  // RFC 6891 §6.1.3
  } else if (is_unqueryable(type)) {
    outcome.rcode = LDNS_RCODE_FORMERR;
  } else if (is_mail_meta(type)) {
    outcome.rcode = LDNS_RCODE_NOTIMPL;
  } else if (ldns_rr_get_class(question) != LDNS_RR_CLASS_IN || is_transfer(type)) {
    outcome.rcode = LDNS_RCODE_REFUSED;
  } else {
    std::array<char, max_name_octets> key;
    const Placement where = place({ldns_rdf_data(qname), ldns_rdf_size(qname)}, zone.apex(), key);
    if (!where.in_zone) {
      outcome.rcode = LDNS_RCODE_REFUSED;
    } else {
      const Zone::Node* node = where.unmatchable ? nullptr : zone.find(where.key);
      outcome = answer_from_zone(zone, node, type, reply);
    }
  }

  const bool truncate = options.truncate;
  PktPtr full = reply.make(outcome.rcode, outcome.aa, !truncate, truncate);
  if (!full) return {};
  auto wire = to_wire(full.get());
  if (wire.size() <= size_limit(parsed.get(), options.transport)) return wire;
  // Too large for this client: TC=1 and only the question (RFC 2181 §9), so it asks over TCP.
  PktPtr truncated = reply.make(outcome.rcode, outcome.aa, false, true);
  if (!truncated) return {};
  return to_wire(truncated.get());
}

}  // namespace portcullis::dns
