// The platform zone's packet handler: one DNS message in, the authoritative answer out (or
// nothing, for a packet that must be dropped). Pure: it reads only the zone snapshot and its
// arguments, so the server's thread, the unit tests and the fuzz target call the same function.
//
// What it answers (docs/dns.md has the table):
//   apex SOA, apex NS (glue A/AAAA of in-zone name servers in the additional section),
//   A/AAAA of platform hosts and in-zone name servers, TXT of validation hosts;
//   CAA and any other type at an existing name: NOERROR with no answer and the SOA in authority;
//   an unknown name in the zone: NXDOMAIN with the SOA; a name outside it, a class other than IN,
//   a zone transfer: REFUSED; ANY: one HINFO "RFC8482" "" (RFC 8482 §4.2);
//   an opcode other than QUERY, or a MAILA/MAILB question: NOTIMP; a packet ldns cannot parse, or without exactly one
//   question: FORMERR; an EDNS version other than 0: BADVERS; a response (QR=1) or fewer than
//   12 octets: dropped.
// AA is set on answers from the zone; the question is echoed as sent (its letter case, for
// resolvers that use 0x20 randomisation); RD is copied. EDNS0 (RFC 6891): the answer carries an
// OPT advertising 1232 octets when the query had one, and the DO bit is copied (RFC 3225 §3).
// Over UDP an answer larger than the client's size (512 without EDNS, at most 1232 with it) is
// sent with TC=1 and only the question, so the client retries over TCP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dns/zone.hpp"

namespace portcullis::dns {

enum class Transport { udp, tcp };

// What the server advertises in its OPT record and the most it ever sends over UDP: the DNS flag
// day 2020 size, which avoids IP fragmentation on common paths.
inline constexpr std::uint16_t advertised_udp_size = 1232;
// RFC 1035 §4.2.1: without EDNS a UDP message carries at most 512 octets.
inline constexpr std::uint16_t classic_udp_size = 512;

struct RespondOptions {
  Transport transport = Transport::udp;
  // Rate limiting's "slip": answer with TC=1 and only the question, whatever the answer, so a
  // real resolver retries over TCP while a spoofed victim receives nothing larger than it sent.
  bool truncate = false;
};

// The response to `query`, or an empty vector when the packet is dropped. Never throws except
// std::bad_alloc; never reads outside `query`. Thread-safe (the zone is immutable).
std::vector<std::uint8_t> respond(const Zone& zone, std::span<const std::uint8_t> query, RespondOptions options = {});

// The same response written into `out` (its content replaced; empty: drop). A question the zone
// has a precomputed answer for costs no allocation once `out` has held an answer as large, so a
// caller that keeps its buffers (the server, one per reply slot) answers those without the heap.
void respond(const Zone& zone, std::span<const std::uint8_t> query, std::vector<std::uint8_t>& out,
             RespondOptions options = {});

// The two paths respond() takes, exposed for the tests and the fuzz target, which check that
// they agree byte for byte:
//  - precomputed: the header, one question of class IN and at most a plain OPT (EDNS version 0,
//    no options) read by hand, the answer copied from the zone's wire-format templates
//    (dns/precomputed_answers.hpp) with the ID, RD, CD, the question as sent (0x20) and the OPT
//    patched in. True with the response in `out`; false (`out` unspecified) for a query it leaves
//    to the general path: another opcode, QR set, a count other than one question and at most one
//    additional record, a compressed or unusual question name, another class, a meta or transfer
//    type, EDNS options or another EDNS version, trailing octets, or an answer it has no template
//    for (e.g. a negative answer whose SOA names share the question's first label below the apex).
//  - with ldns: ldns parses the query and writes the response; handles everything.
bool respond_precomputed(const Zone& zone, std::span<const std::uint8_t> query, RespondOptions options,
                         std::vector<std::uint8_t>& out);
std::vector<std::uint8_t> respond_with_ldns(const Zone& zone, std::span<const std::uint8_t> query,
                                            RespondOptions options = {});

}  // namespace portcullis::dns
