// The zone's answers in wire format, prepared once when the snapshot is built, so that the common
// questions are answered by copying bytes (dns/responder.cpp's precomputed path) instead of
// building ldns packets. A template holds the answer, authority and additional sections as ldns
// would write them after a question, with ldns's name compression (RFC 1035 §4.1.4: a name, or
// its longest suffix already written, becomes a pointer to its first occurrence); the pointers
// that lead past the question's first label are listed, because they move with the question's
// length.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct ldns_struct_rr_list;

namespace portcullis::dns {

class Zone;

// The sections of one answer, to be written after the header and a question.
struct WireAnswer {
  std::vector<std::uint8_t> sections;
  // Offsets in `sections` of compression pointers that lead into the question's zone apex or
  // into `sections` itself: written for a question whose labels below the apex take
  // `template_prefix` octets, each moves by the real question's difference to that.
  std::vector<std::uint16_t> moving_pointers;
  // The top labels (just below the apex, lower-case) of the in-zone names the sections hold. A
  // question whose own top label is one of them would let ldns compress those names against the
  // question itself, so the template does not apply to it.
  std::vector<std::string> clashing_labels;
  std::uint16_t ancount = 0, nscount = 0, arcount = 0;
};

class PrecomputedAnswers {
 public:
  // Octets of the stand-in question below the apex that templates are written for: one label of
  // one octet, the shortest a real question below the apex can have.
  static constexpr std::size_t template_prefix = 2;

  // Called by ZoneBuilder::build() once the zone's records are final; `lists` are every record
  // list the zone's nodes point at. Answers it cannot prepare (one that would put a name past
  // the 16,384 octets compression pointers reach) are left out, and such questions take the
  // general path.
  static std::unique_ptr<const PrecomputedAnswers> build(const Zone& zone, std::span<ldns_struct_rr_list* const> lists);

  // The answer with the records of `list` (A, AAAA or TXT), their owner the question. It holds no
  // other name, so it fits any question. nullptr when none was prepared.
  const WireAnswer* records(const ldns_struct_rr_list* list) const noexcept;
  // RFC 8482's HINFO, owner the question; fits any question.
  const WireAnswer* any() const noexcept { return any_.get(); }
  // The apex's SOA and NS (with glue): only for a question that is the apex itself.
  const WireAnswer* apex_soa() const noexcept { return apex_soa_.get(); }
  const WireAnswer* apex_ns() const noexcept { return apex_ns_.get(); }
  // NXDOMAIN and NODATA: the SOA in the authority section (`short_ttl`: the validation hosts'),
  // for a question that is the apex, or one below it.
  const WireAnswer* negative(bool apex_question, bool short_ttl) const noexcept {
    return negative_[apex_question ? 1 : 0][short_ttl ? 1 : 0].get();
  }

 private:
  std::unordered_map<const ldns_struct_rr_list*, WireAnswer> records_;
  std::unique_ptr<WireAnswer> any_, apex_soa_, apex_ns_;
  std::unique_ptr<WireAnswer> negative_[2][2];
};

}  // namespace portcullis::dns
