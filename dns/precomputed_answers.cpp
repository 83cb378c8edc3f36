#include "dns/precomputed_answers.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "base/hostname.hpp"
#include "dns/ldns_ptr.hpp"
#include "dns/zone.hpp"

namespace portcullis::dns {
namespace {

constexpr std::size_t header_size = 12;
constexpr std::uint16_t question_offset = header_size;
constexpr std::size_t max_name_octets = 255;
// A compression pointer holds 14 bits; ldns remembers a name only where one can reach it.
constexpr std::size_t pointer_reach = 16384;
constexpr std::uint16_t pointer_bits = 0xC000;

std::span<const std::uint8_t> wire_of(const ldns_rdf* rdf) { return {ldns_rdf_data(rdf), ldns_rdf_size(rdf)}; }

std::string lower(std::span<const std::uint8_t> wire) {
  std::string out(wire.size(), '\0');
  for (std::size_t i = 0; i < wire.size(); ++i) out[i] = base::ascii_lower(static_cast<char>(wire[i]));
  return out;
}

// The label of `name` just below `apex`, lower-case, when `name` is strictly below it.
std::optional<std::string> top_label_below(std::span<const std::uint8_t> name, std::span<const std::uint8_t> apex) {
  const std::string lowered_apex = lower(apex);
  std::size_t previous = name.size();
  for (std::size_t at = 0; at < name.size() && name[at] != 0; at += std::size_t{name[at]} + 1) {
    if (name.size() - at == apex.size() && at != 0 && lower(name.subspan(at)) == lowered_apex) {
      return lower(name.subspan(previous + 1, name[previous]));
    }
    previous = at;
  }
  return std::nullopt;
}

// Writes records the way ldns_pkt2wire() does after a question, so that a template's bytes are
// the general path's bytes: each name, or its longest suffix met before (the question's included,
// compared without regard to case), becomes a pointer to its first occurrence; ldns remembers a
// name only at an offset below 16,384; the names in the record data of the types RFC 3597 §4
// lists (NS, SOA, ...) are compressed, those of other types are not.
class TemplateWriter {
 public:
  // The question is the apex itself (`apex_question`), or a one-octet label below it.
  TemplateWriter(const ldns_rdf* apex, bool apex_question) : apex_(wire_of(apex)), apex_question_(apex_question) {
    out_.resize(header_size);
    if (!apex_question) {
      // The stand-in label is never met again; the names from the apex down are, as in a query.
      out_.push_back(1);
      out_.push_back(0);
    }
    name(apex_, false);
    out_.resize(out_.size() + 4);  // QTYPE, QCLASS
    sections_start_ = out_.size();
  }

  // Appends `rr`; its owner is the question's name when `owner_is_question` (the general path
  // answers with the question's name, and letter case, as owner).
  void record(const ldns_rr* rr, bool owner_is_question) {
    if (owner_is_question) {
      pointer(question_offset);
    } else {
      name(wire_of(ldns_rr_owner(rr)), true);
    }
    const ldns_rr_type type = ldns_rr_get_type(rr);
    put16(static_cast<std::uint16_t>(type));
    put16(static_cast<std::uint16_t>(ldns_rr_get_class(rr)));
    put16(static_cast<std::uint16_t>(ldns_rr_ttl(rr) >> 16));
    put16(static_cast<std::uint16_t>(ldns_rr_ttl(rr) & 0xFFFF));
    const std::size_t rdlength_at = out_.size();
    put16(0);
    const ldns_rr_descriptor* descriptor = ldns_rr_descript(static_cast<std::uint16_t>(type));
    const bool compress = descriptor != nullptr && descriptor->_compress == LDNS_RR_COMPRESS;
    for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
      const ldns_rdf* field = ldns_rr_rdf(rr, i);
      if (compress && ldns_rdf_get_type(field) == LDNS_RDF_TYPE_DNAME) {
        name(wire_of(field), true);
      } else {
        const auto bytes = wire_of(field);
        out_.insert(out_.end(), bytes.begin(), bytes.end());
      }
    }
    const std::size_t rdlength = out_.size() - rdlength_at - 2;
    out_[rdlength_at] = static_cast<std::uint8_t>(rdlength >> 8);
    out_[rdlength_at + 1] = static_cast<std::uint8_t>(rdlength & 0xFF);
  }

  // The template, or nullptr when a real question (up to 255 octets) could push a remembered
  // name past the pointers' reach, where ldns would stop compressing against it.
  std::unique_ptr<WireAnswer> finish(std::uint16_t ancount, std::uint16_t nscount, std::uint16_t arcount) {
    if (out_.size() + max_name_octets >= pointer_reach) return nullptr;
    answer_.sections.assign(out_.begin() + static_cast<std::ptrdiff_t>(sections_start_), out_.end());
    answer_.ancount = ancount;
    answer_.nscount = nscount;
    answer_.arcount = arcount;
    return std::make_unique<WireAnswer>(std::move(answer_));
  }

 private:
  void put16(std::uint16_t value) {
    out_.push_back(static_cast<std::uint8_t>(value >> 8));
    out_.push_back(static_cast<std::uint8_t>(value & 0xFF));
  }

  void pointer(std::size_t target) {
    // Below the apex, every target but the question's start moves with the question's length.
    if (!apex_question_ && target != question_offset) {
      answer_.moving_pointers.push_back(static_cast<std::uint16_t>(out_.size() - sections_start_));
    }
    put16(static_cast<std::uint16_t>(pointer_bits | target));
  }

  // ldns_dname2buffer_wire_compress(), label by label.
  void name(std::span<const std::uint8_t> wire, bool in_sections) {
    if (in_sections && !apex_question_) {
      if (auto label = top_label_below(wire, apex_)) {
        if (std::find(answer_.clashing_labels.begin(), answer_.clashing_labels.end(), *label) ==
            answer_.clashing_labels.end()) {
          answer_.clashing_labels.push_back(std::move(*label));
        }
      }
    }
    for (std::size_t at = 0; at < wire.size() && wire[at] != 0; at += std::size_t{wire[at]} + 1) {
      const std::string key = lower(wire.subspan(at));
      const auto seen = std::find_if(written_.begin(), written_.end(), [&](const auto& w) { return w.first == key; });
      if (seen != written_.end()) return pointer(seen->second);
      if (out_.size() < pointer_reach) written_.emplace_back(key, out_.size());
      const auto label = wire.subspan(at, std::size_t{wire[at]} + 1);
      out_.insert(out_.end(), label.begin(), label.end());
    }
    out_.push_back(0);
  }

  std::span<const std::uint8_t> apex_;
  bool apex_question_;
  std::vector<std::uint8_t> out_;
  std::size_t sections_start_ = 0;
  std::vector<std::pair<std::string, std::size_t>> written_;  // lower-cased name -> first offset
  WireAnswer answer_;
};

std::uint16_t count(const ldns_rr_list* list) {
  return static_cast<std::uint16_t>(list == nullptr ? 0 : ldns_rr_list_rr_count(list));
}

}  // namespace

std::unique_ptr<const PrecomputedAnswers> PrecomputedAnswers::build(const Zone& zone,
                                                                    std::span<ldns_rr_list* const> lists) {
  auto out = std::make_unique<PrecomputedAnswers>();
  const ldns_rdf* apex = zone.apex();
  if (apex == nullptr) return out;
  for (const ldns_rr_list* list : lists) {
    if (count(list) == 0 || out->records_.contains(list)) continue;
    TemplateWriter writer(apex, false);
    for (std::size_t i = 0; i < count(list); ++i) writer.record(ldns_rr_list_rr(list, i), true);
    // Records with names in their data would depend on the question; the zone's lists hold none.
    if (auto answer = writer.finish(count(list), 0, 0); answer && answer->moving_pointers.empty()) {
      out->records_.emplace(list, std::move(*answer));
    }
  }
  {
    TemplateWriter writer(apex, false);
    writer.record(zone.any_answer(), true);
    out->any_ = writer.finish(1, 0, 0);
  }
  {
    TemplateWriter writer(apex, true);
    writer.record(zone.soa(), true);
    out->apex_soa_ = writer.finish(1, 0, 0);
  }
  {
    TemplateWriter writer(apex, true);
    for (std::size_t i = 0; i < count(zone.ns()); ++i) writer.record(ldns_rr_list_rr(zone.ns(), i), true);
    for (std::size_t i = 0; i < count(zone.glue()); ++i) writer.record(ldns_rr_list_rr(zone.glue(), i), false);
    out->apex_ns_ = writer.finish(count(zone.ns()), 0, count(zone.glue()));
  }
  for (bool apex_question : {false, true}) {
    for (bool short_ttl : {false, true}) {
      TemplateWriter writer(apex, apex_question);
      writer.record(short_ttl ? zone.soa_short() : zone.soa(), false);
      out->negative_[apex_question ? 1 : 0][short_ttl ? 1 : 0] = writer.finish(0, 1, 0);
    }
  }
  return out;
}

const WireAnswer* PrecomputedAnswers::records(const ldns_rr_list* list) const noexcept {
  const auto it = records_.find(list);
  return it == records_.end() ? nullptr : &it->second;
}

}  // namespace portcullis::dns
