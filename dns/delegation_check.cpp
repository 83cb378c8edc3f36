#include "dns/delegation_check.hpp"

#include <sys/time.h>

#include <algorithm>
#include <memory>
#include <set>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <ldns/ldns.h>

#include "base/hostname.hpp"

namespace portcullis::dns {
namespace {

struct LdnsFree {
  void operator()(ldns_resolver* r) const noexcept { ldns_resolver_deep_free(r); }
  void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
  void operator()(ldns_rdf* d) const noexcept { ldns_rdf_deep_free(d); }
  void operator()(char* s) const noexcept { std::free(s); }
};
using ResolverPtr = std::unique_ptr<ldns_resolver, LdnsFree>;
using PktPtr = std::unique_ptr<ldns_pkt, LdnsFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, LdnsFree>;
using CStr = std::unique_ptr<char, LdnsFree>;

// One resource record of an answer section, in plain values.
struct Rr {
  std::string owner;  // normalised
  ldns_rr_type type;
  std::string data;   // CNAME: the normalised target; A/AAAA: the address; TXT: the joined strings
  domain::CaaRecord caa;  // CAA only
};

struct Reply {
  ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
  std::vector<Rr> answer;
};

std::string type_name(ldns_rr_type type) {
  CStr text(ldns_rr_type2str(type));
  return text ? text.get() : std::to_string(static_cast<int>(type));
}

std::string rdf_text(const ldns_rdf* rdf) {
  CStr text(ldns_rdf2str(rdf));
  return text ? text.get() : std::string();
}

// RFC 1035 §3.3.14: TXT-DATA is one or more <character-string>s, each a length octet then bytes.
std::string txt_value(const ldns_rr* rr) {
  std::string value;
  for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
    const std::size_t size = ldns_rdf_size(rdf);
    const std::uint8_t* data = ldns_rdf_data(rdf);
    if (size == 0) continue;
    const std::size_t len = std::min<std::size_t>(data[0], size - 1);
    value.append(reinterpret_cast<const char*>(data + 1), len);
  }
  return value;
}

std::string rdf_bytes(const ldns_rdf* rdf) {
  return std::string(reinterpret_cast<const char*>(ldns_rdf_data(rdf)), ldns_rdf_size(rdf));
}

// RFC 8659 §4.1: flags (one octet), tag (length octet, then the tag), value (the rest).
domain::CaaRecord caa_record(const ldns_rr* rr) {
  domain::CaaRecord caa;
  if (ldns_rr_rd_count(rr) != 3) return caa;
  const ldns_rdf* flags = ldns_rr_rdf(rr, 0);
  if (ldns_rdf_size(flags) >= 1) caa.flags = ldns_rdf_data(flags)[0];
  std::string tag = rdf_bytes(ldns_rr_rdf(rr, 1));
  // ldns keeps the tag's length octet in its TAG field.
  if (!tag.empty() && static_cast<unsigned char>(tag[0]) == tag.size() - 1) tag.erase(0, 1);
  caa.tag = std::move(tag);
  caa.value = rdf_bytes(ldns_rr_rdf(rr, 2));
  return caa;
}

Rr plain_rr(const ldns_rr* rr) {
  Rr out{.owner = base::normalize_hostname(rdf_text(ldns_rr_owner(rr))), .type = ldns_rr_get_type(rr), .data = {},
         .caa = {}};
  if (out.type == LDNS_RR_TYPE_CAA) {
    out.caa = caa_record(rr);
  } else if (out.type == LDNS_RR_TYPE_TXT) {
    out.data = txt_value(rr);
  } else if (ldns_rr_rd_count(rr) > 0) {
    out.data = rdf_text(ldns_rr_rdf(rr, 0));
    if (out.type == LDNS_RR_TYPE_CNAME) out.data = base::normalize_hostname(out.data);
  }
  return out;
}

class Query {
 public:
  explicit Query(const ResolverOptions& options) : options_(options) {}

  // "resolver 127.0.0.1:53"
  std::string resolver() const { return "resolver " + options_.address.to_string(); }

  // Asks the resolver for `name` `type` with recursion desired. An Error when no answer came or
  // the resolver could not resolve (SERVFAIL, REFUSED, ...); NXDOMAIN is an answer.
  Result<Reply> ask(std::string_view name, ldns_rr_type type) const {
    const std::string what = fmt::format("{} {}", name, type_name(type));
    const std::string fqdn = base::normalize_hostname(name) + ".";
    RdfPtr dname(ldns_dname_new_frm_str(fqdn.c_str()));
    if (!dname) return fail(Errc::invalid_input, fmt::format("not a DNS name: \"{}\"", name));

    auto res = make_resolver();
    if (!res) return tl::unexpected(res.error());
    ldns_pkt* raw = nullptr;
    const ldns_status status =
        ldns_resolver_send(&raw, res->get(), dname.get(), type, LDNS_RR_CLASS_IN, LDNS_RD);
    PktPtr pkt(raw);
    if (status != LDNS_STATUS_OK || !pkt) {
      return fail(Errc::network,
                  fmt::format("{}: no answer for {} within {} ms x {} attempts ({})", resolver(), what,
                              options_.timeout.count(), options_.attempts, ldns_get_errorstr_by_id(status)));
    }
    Reply reply;
    reply.rcode = ldns_pkt_get_rcode(pkt.get());
    if (reply.rcode != LDNS_RCODE_NOERROR && reply.rcode != LDNS_RCODE_NXDOMAIN) {
      CStr rcode(ldns_pkt_rcode2str(reply.rcode));
      return fail(Errc::network, fmt::format("{}: {} for {}", resolver(), rcode ? rcode.get() : "error", what));
    }
    const ldns_rr_list* answer = ldns_pkt_answer(pkt.get());
    for (std::size_t i = 0; answer && i < ldns_rr_list_rr_count(answer); ++i)
      reply.answer.push_back(plain_rr(ldns_rr_list_rr(answer, i)));
    return reply;
  }

 private:
  Result<ResolverPtr> make_resolver() const {
    const auto& host = options_.address.host;
    const bool v6 = host.find(':') != std::string::npos;
    RdfPtr address(ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, host.c_str()));
    if (!address)
      return fail(Errc::invalid_input, fmt::format("{}: expected an IP address, got \"{}\"", resolver(), host));
    if (options_.attempts < 1 || options_.attempts > 255 || options_.timeout.count() <= 0)
      return fail(Errc::invalid_input,
                  fmt::format("{}: expected a positive timeout and 1 to 255 attempts, got {} ms and {}", resolver(),
                              options_.timeout.count(), options_.attempts));
    ResolverPtr r(ldns_resolver_new());
    if (!r) return fail(Errc::internal, "ldns_resolver_new failed");
    if (ldns_resolver_push_nameserver(r.get(), address.get()) != LDNS_STATUS_OK)
      return fail(Errc::internal, fmt::format("{}: ldns refused the address", resolver()));
    ldns_resolver_set_port(r.get(), options_.address.port);
    ldns_resolver_set_recursive(r.get(), true);
    ldns_resolver_set_dnssec(r.get(), false);
    ldns_resolver_set_defnames(r.get(), false);  // names are absolute: no search list
    ldns_resolver_set_dnsrch(r.get(), false);
    ldns_resolver_set_random(r.get(), false);
    ldns_resolver_set_edns_udp_size(r.get(), 1232);  // answers with many TXT values fit one datagram
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(options_.timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(options_.timeout.count() % 1000 * 1000);
    ldns_resolver_set_timeout(r.get(), tv);
    ldns_resolver_set_retry(r.get(), static_cast<std::uint8_t>(options_.attempts));
    ldns_resolver_set_retrans(r.get(), 0);  // the timeout spaces the attempts; ldns would sleep this long
    return r;
  }

  const ResolverOptions& options_;
};

domain::Observation failed(const Error& error) { return {domain::RecordState::error, error.message()}; }

// "A 192.0.2.1, AAAA 2001:db8::1"
std::string addresses_text(const std::vector<Rr>& records) {
  std::string out;
  for (const auto& rr : records) out += (out.empty() ? "" : ", ") + type_name(rr.type) + " " + rr.data;
  return out;
}

// The A and AAAA records `name` resolves to, the resolver having followed any CNAME. An empty
// list for NXDOMAIN / NODATA; `nxdomain` says which.
Result<std::vector<Rr>> addresses_of(const Query& query, std::string_view name, bool* nxdomain = nullptr) {
  std::vector<Rr> out;
  if (nxdomain) *nxdomain = false;
  for (ldns_rr_type type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA}) {
    auto reply = query.ask(name, type);
    if (!reply) return tl::unexpected(reply.error());
    if (reply->rcode == LDNS_RCODE_NXDOMAIN && nxdomain) *nxdomain = true;
    for (auto& rr : reply->answer)
      if (rr.type == type) out.push_back(std::move(rr));
  }
  return out;
}

// The canonical text of an IP literal ("::0:1" -> "::1"), or empty when it is not one.
std::string canonical_address(const std::string& text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(text, ec);
  return ec ? std::string() : address.to_string();
}

}  // namespace

domain::Observation DelegationChecker::check_cname(std::string_view name, std::string_view expected_target) const {
  const Query query(options_);
  const std::string expected = base::normalize_hostname(expected_target);
  std::string current = base::normalize_hostname(name);
  std::string chain;  // "CNAME a. -> b."
  std::set<std::string> seen{current};
  for (unsigned hop = 0; hop <= max_cname_hops; ++hop) {
    auto reply = query.ask(current, LDNS_RR_TYPE_CNAME);
    // A later hop that cannot be looked up does not lead to us as far as anyone can tell.
    if (!reply && hop > 0)
      return {domain::RecordState::wrong_target, fmt::format("CNAME {} ({})", chain, reply.error().message())};
    if (!reply) return failed(reply.error());
    auto cname = std::find_if(reply->answer.begin(), reply->answer.end(), [&](const Rr& rr) {
      return rr.type == LDNS_RR_TYPE_CNAME && rr.owner == current;
    });
    if (cname == reply->answer.end()) {
      if (hop > 0) return {domain::RecordState::wrong_target, "CNAME " + chain};
      // No CNAME at the name itself: say whether it has addresses instead, or nothing at all.
      bool nxdomain = reply->rcode == LDNS_RCODE_NXDOMAIN;
      if (nxdomain) return {domain::RecordState::missing, "NXDOMAIN"};
      auto addresses = addresses_of(query, current);
      if (!addresses) return failed(addresses.error());
      if (!addresses->empty()) return {domain::RecordState::wrong_target, addresses_text(*addresses)};
      return {domain::RecordState::missing, "no CNAME (NODATA)"};
    }
    chain += (chain.empty() ? "" : " -> ") + cname->data + ".";
    if (cname->data == expected) return {domain::RecordState::ok, ""};
    if (!seen.insert(cname->data).second)
      return {domain::RecordState::error, fmt::format("CNAME loop: {}", chain)};
    current = cname->data;
  }
  return {domain::RecordState::error, fmt::format("more than {} CNAMEs: {}", max_cname_hops, chain)};
}

domain::Observation DelegationChecker::check_resolves_to(std::string_view name,
                                                         const std::vector<std::string>& our_addresses) const {
  std::set<std::string> ours;
  for (const auto& text : our_addresses) {
    auto canonical = canonical_address(text);
    if (canonical.empty())
      return {domain::RecordState::error, fmt::format("expected an IP address of ours, got \"{}\"", text)};
    ours.insert(std::move(canonical));
  }
  const Query query(options_);
  bool nxdomain = false;
  auto addresses = addresses_of(query, name, &nxdomain);
  if (!addresses) return failed(addresses.error());
  if (addresses->empty()) return {domain::RecordState::missing, nxdomain ? "NXDOMAIN" : "no A or AAAA (NODATA)"};
  const bool all_ours = std::all_of(addresses->begin(), addresses->end(),
                                    [&](const Rr& rr) { return ours.count(canonical_address(rr.data)) > 0; });
  if (all_ours) return {domain::RecordState::ok, ""};
  return {domain::RecordState::wrong_target, addresses_text(*addresses)};
}

domain::Observation DelegationChecker::check(const domain::RequiredRecord& record) const {
  if (!record.checkable) return {domain::RecordState::unchecked, record.note};
  return check_cname(record.name, record.target);
}

Result<std::vector<std::string>> DelegationChecker::lookup_txt(std::string_view name) const {
  const Query query(options_);
  auto reply = query.ask(name, LDNS_RR_TYPE_TXT);
  if (!reply) return tl::unexpected(reply.error());
  std::vector<std::string> values;
  for (auto& rr : reply->answer)
    if (rr.type == LDNS_RR_TYPE_TXT) values.push_back(std::move(rr.data));
  return values;
}

Result<std::vector<domain::CaaRecord>> DelegationChecker::lookup_caa(std::string_view name) const {
  const Query query(options_);
  auto reply = query.ask(name, LDNS_RR_TYPE_CAA);
  if (!reply) return tl::unexpected(reply.error());
  std::vector<domain::CaaRecord> records;
  for (auto& rr : reply->answer)
    if (rr.type == LDNS_RR_TYPE_CAA) records.push_back(std::move(rr.caa));
  return records;
}

Result<domain::CaaRrset> DelegationChecker::find_caa(std::string_view hostname) const {
  return domain::find_relevant_caa(hostname, [this](const std::string& name) { return lookup_caa(name); });
}

Status DelegationChecker::check_soa(std::string_view zone) const {
  const Query query(options_);
  auto reply = query.ask(zone, LDNS_RR_TYPE_SOA);
  if (!reply) return tl::unexpected(reply.error());
  const std::string apex = base::normalize_hostname(zone);
  const bool found = std::any_of(reply->answer.begin(), reply->answer.end(),
                                 [&](const Rr& rr) { return rr.type == LDNS_RR_TYPE_SOA && rr.owner == apex; });
  if (!found) {
    return fail(Errc::not_found, fmt::format("{}: no SOA for {} ({})", query.resolver(), apex,
                                             reply->rcode == LDNS_RCODE_NXDOMAIN ? "NXDOMAIN" : "NODATA"));
  }
  return {};
}

}  // namespace portcullis::dns
