#include "dns/zone.hpp"

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

#include "base/hostname.hpp"
#include "dns/ldns_ptr.hpp"
#include "domain/records.hpp"

namespace portcullis::dns {
namespace {

// SOA timers (RFC 1912 §2.2 ranges). Secondaries are not part of the design, so these matter
// only to tools that read them; MINIMUM is the negative-caching TTL (RFC 2308 §4).
constexpr std::uint32_t soa_refresh = 3600;
constexpr std::uint32_t soa_retry = 600;
constexpr std::uint32_t soa_expire = 1'209'600;
// A character-string holds at most 255 octets (RFC 1035 §3.3).
constexpr std::size_t max_character_string = 255;

Result<RdfPtr> dname(const std::string& name) {
  RdfPtr rdf(ldns_dname_new_frm_str(name.c_str()));
  if (!rdf) return fail(Errc::internal, fmt::format("dns: cannot encode the name \"{}\"", name));
  return rdf;
}

// An RR with `owner`, of `type`, with the given rdata fields (taken over).
Result<RrPtr> make_rr(const std::string& owner, ldns_rr_type type, std::uint32_t ttl, std::vector<ldns_rdf*> rdata) {
  RrPtr rr(ldns_rr_new());
  auto name = dname(owner);
  bool ok = rr && name;
  for (ldns_rdf* field : rdata) ok = ok && field != nullptr;
  if (!ok) {
    for (ldns_rdf* field : rdata) ldns_rdf_deep_free(field);
    return fail(Errc::internal, fmt::format("dns: cannot build a record for \"{}\"", owner));
  }
  ldns_rr_set_owner(rr.get(), name->release());
  ldns_rr_set_type(rr.get(), type);
  ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr.get(), ttl);
  for (ldns_rdf* field : rdata) ldns_rr_push_rdf(rr.get(), field);
  return rr;
}

ldns_rdf* address_rdf(const IpAddress& address) {
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, bytes.size(), bytes.data());
  }
  const auto bytes = address.to_v6().to_bytes();
  return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, bytes.size(), bytes.data());
}

ldns_rdf* string_rdf(std::string_view text) {
  std::string wire(1, static_cast<char>(text.size()));
  wire.append(text);
  return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, wire.size(), wire.data());
}

// The A (v4) or AAAA (v6) records for `addresses`, owner `owner`; nullptr when there is none.
Result<RrListPtr> address_list(const std::string& owner, const std::vector<IpAddress>& addresses, bool v4,
                               std::uint32_t ttl) {
  RrListPtr list;
  for (const auto& address : addresses) {
    if (address.is_v4() != v4) continue;
    auto rr = make_rr(owner, v4 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA, ttl, {address_rdf(address)});
    if (!rr) return tl::unexpected(rr.error());
    if (!list) list.reset(ldns_rr_list_new());
    ldns_rr_list_push_rr(list.get(), rr->release());
  }
  return list;
}

// "hostmaster@edge.example.net" -> "hostmaster.edge.example.net."; a dot of the local part is
// escaped (RFC 1035 §8: the first label is the mailbox).
std::string rname(std::string_view email) {
  const auto at = email.rfind('@');
  if (at == std::string_view::npos) return std::string(email);
  std::string out;
  for (char c : email.substr(0, at)) {
    if (c == '.' || c == '\\') out += '\\';
    out += c;
  }
  out += '.';
  out += email.substr(at + 1);
  return out;
}

// `name` relative to `apex` ("ns1.edge.example.net" -> "ns1", the apex -> ""), or nullopt when
// it is not inside the zone.
std::optional<std::string> relative_to(std::string_view name, std::string_view apex) {
  if (name == apex) return std::string();
  if (name.size() > apex.size() + 1 && name.ends_with(apex) && name[name.size() - apex.size() - 1] == '.') {
    return std::string(name.substr(0, name.size() - apex.size() - 1));
  }
  return std::nullopt;
}

// One TXT record per value, owner `owner` (fully qualified); a value longer than 255 octets is
// split into 255-octet strings of one record (RFC 1035 §3.3.14).
Result<RrListPtr> txt_list(const std::string& owner, const std::vector<std::string>& values, std::uint32_t ttl) {
  RrListPtr list(ldns_rr_list_new());
  for (const auto& value : values) {
    std::vector<ldns_rdf*> strings;
    for (std::size_t at = 0; at < value.size() || strings.empty(); at += max_character_string) {
      strings.push_back(string_rdf(std::string_view(value).substr(std::min(at, value.size()), max_character_string)));
    }
    auto rr = make_rr(owner, LDNS_RR_TYPE_TXT, ttl, std::move(strings));
    if (!rr) return tl::unexpected(rr.error());
    ldns_rr_list_push_rr(list.get(), rr->release());
  }
  return list;
}

}  // namespace

Result<ZoneSettings> ZoneSettings::from_config(const domain::DnsConfig& config) {
  ZoneSettings settings;
  settings.apex = base::normalize_hostname(config.zone);
  settings.soa_email = config.soa_email;
  settings.ttl = config.ttl;
  settings.txt_ttl = config.txt_ttl;
  auto parse = [](const std::string& text, const std::string& key) -> Result<IpAddress> {
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(text, ec);
    if (ec) return fail(Errc::config, fmt::format("{}: expected an IP address, got \"{}\"", key, text));
    return address;
  };
  for (std::size_t i = 0; i < config.ns.size(); ++i) {
    NameServer ns{base::normalize_hostname(config.ns[i].name), {}};
    for (std::size_t j = 0; j < config.ns[i].addresses.size(); ++j) {
      auto address = parse(config.ns[i].addresses[j], fmt::format("dns.ns[{}].addresses[{}]", i, j));
      if (!address) return tl::unexpected(address.error());
      ns.addresses.push_back(*address);
    }
    settings.name_servers.push_back(std::move(ns));
  }
  for (std::size_t i = 0; i < config.external_addresses.size(); ++i) {
    auto address = parse(config.external_addresses[i], fmt::format("dns.addresses.external[{}]", i));
    if (!address) return tl::unexpected(address.error());
    settings.external.push_back(*address);
  }
  for (std::size_t i = 0; i < config.internal_addresses.size(); ++i) {
    auto address = parse(config.internal_addresses[i], fmt::format("dns.addresses.internal[{}]", i));
    if (!address) return tl::unexpected(address.error());
    settings.internal.push_back(*address);
  }
  if (settings.name_servers.empty()) return fail(Errc::config, "dns.ns: expected at least one name server, got none");
  return settings;
}

std::uint32_t next_serial(std::uint32_t previous, std::uint32_t now_seconds) noexcept {
  // RFC 1982 §3.1: an increment below 2^31 keeps the new serial "greater"; the time wins when it
  // is ahead, else one more than the previous serial.
  const std::uint32_t bumped = previous + 1;
  const std::uint32_t ahead = now_seconds - previous;
  return (ahead != 0 && ahead < 0x8000'0000u) ? now_seconds : bumped;
}

Zone::Zone() = default;

Zone::~Zone() {
  for (ldns_rr_list* list : lists_) ldns_rr_list_deep_free(list);
  if (ns_) ldns_rr_list_deep_free(ns_);
  if (glue_) ldns_rr_list_deep_free(glue_);
  if (soa_) ldns_rr_free(soa_);
  if (soa_short_) ldns_rr_free(soa_short_);
  if (hinfo_) ldns_rr_free(hinfo_);
  if (apex_) ldns_rdf_deep_free(apex_);
}

const Zone::Node* Zone::find(std::string_view relative) const noexcept {
  auto it = nodes_.find(relative);
  return it == nodes_.end() ? nullptr : &it->second;
}

void ZoneBuilder::configure(ZoneSettings settings, const std::vector<domain::EndpointConfig>& endpoints) {
  settings_ = std::move(settings);
  endpoints_.clear();
  std::unordered_set<std::string_view> ids;
  for (const auto& ep : endpoints) {
    EndpointNames names{ep.id, ep.scope, {}};
    for (const auto& hostname : ep.hostnames) {
      if (domain::in_platform_zone(hostname, settings_.apex)) names.in_zone.push_back(hostname);
    }
    endpoints_.push_back(std::move(names));
    ids.insert(ep.id);
  }
  std::erase_if(txt_, [&](const auto& entry) { return !ids.contains(entry.first); });
}

void ZoneBuilder::set_challenge_txt(std::string_view owner, ChallengeValues by_name) {
  std::erase_if(by_name, [](const auto& entry) { return entry.second.empty(); });
  if (by_name.empty()) {
    if (auto it = challenge_txt_.find(owner); it != challenge_txt_.end()) challenge_txt_.erase(it);
    return;
  }
  challenge_txt_.insert_or_assign(std::string(owner), std::move(by_name));
}

const ZoneBuilder::ChallengeValues* ZoneBuilder::challenge_txt(std::string_view owner) const {
  auto it = challenge_txt_.find(owner);
  return it == challenge_txt_.end() ? nullptr : &it->second;
}

void ZoneBuilder::set_txt(std::string_view endpoint_id, std::vector<std::string> values) {
  if (values.empty()) return clear_txt(endpoint_id);
  txt_[std::string(endpoint_id)] = std::move(values);
}

void ZoneBuilder::clear_txt(std::string_view endpoint_id) { txt_.erase(std::string(endpoint_id)); }

const std::vector<std::string>* ZoneBuilder::txt(std::string_view endpoint_id) const {
  auto it = txt_.find(std::string(endpoint_id));
  return it == txt_.end() ? nullptr : &it->second;
}

Result<ZonePtr> ZoneBuilder::build(std::uint32_t serial) const {
  auto zone = std::make_shared<Zone>();
  const ZoneSettings& s = settings_;
  if (s.apex.empty() || s.name_servers.empty()) return fail(Errc::internal, "dns: the zone has no apex or no name server");
  const std::string apex = s.apex + ".";
  auto apex_rdf = dname(apex);
  if (!apex_rdf) return tl::unexpected(apex_rdf.error());
  zone->apex_ = apex_rdf->release();
  zone->serial_ = serial;

  // Keeps a list alive for the zone's lifetime and returns it for a node to point at.
  auto keep = [&](RrListPtr list) -> const ldns_rr_list* {
    if (!list) return nullptr;
    zone->lists_.push_back(list.release());
    return zone->lists_.back();
  };
  auto node = [&](const std::string& relative) -> Zone::Node& {
    // Every name above a node exists too (empty non-terminals, RFC 8020).
    for (auto dot = relative.find('.'); dot != std::string::npos; dot = relative.find('.', dot + 1)) {
      zone->nodes_.try_emplace(relative.substr(dot + 1));
    }
    return zone->nodes_[relative];
  };
  node("").apex = true;

  // SOA (twice: the TTL of negative answers about validation hosts is txt_ttl) and NS.
  for (auto [out, ttl] : {std::pair{&zone->soa_, s.ttl}, std::pair{&zone->soa_short_, std::min(s.txt_ttl, s.ttl)}}) {
    auto mname = dname(s.name_servers.front().name + ".");
    auto mailbox = dname(rname(s.soa_email) + ".");
    if (!mname) return tl::unexpected(mname.error());
    if (!mailbox) return tl::unexpected(mailbox.error().with_context("dns.soa_email"));
    auto soa = make_rr(apex, LDNS_RR_TYPE_SOA, ttl,
                       {mname->release(), mailbox->release(), ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, serial),
                        ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, soa_refresh),
                        ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, soa_retry),
                        ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, soa_expire),
                        ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, s.ttl)});
    if (!soa) return tl::unexpected(soa.error());
    *out = soa->release();
  }
  zone->ns_ = ldns_rr_list_new();
  zone->glue_ = ldns_rr_list_new();
  std::unordered_set<std::string> glued;  // relative names of name servers inside the zone
  for (const auto& ns : s.name_servers) {
    auto target = dname(ns.name + ".");
    if (!target) return tl::unexpected(target.error());
    auto rr = make_rr(apex, LDNS_RR_TYPE_NS, s.ttl, {target->release()});
    if (!rr) return tl::unexpected(rr.error());
    ldns_rr_list_push_rr(zone->ns_, rr->release());
    auto relative = relative_to(ns.name, s.apex);
    if (!relative || !glued.insert(*relative).second) continue;
    auto a = address_list(ns.name + ".", ns.addresses, true, s.ttl);
    auto aaaa = address_list(ns.name + ".", ns.addresses, false, s.ttl);
    if (!a) return tl::unexpected(a.error());
    if (!aaaa) return tl::unexpected(aaaa.error());
    for (const ldns_rr_list* list : {a->get(), aaaa->get()}) {
      for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
        ldns_rr_list_push_rr(zone->glue_, ldns_rr_clone(ldns_rr_list_rr(list, i)));
      }
    }
    Zone::Node& n = node(*relative);
    n.a = keep(std::move(*a));
    n.aaaa = keep(std::move(*aaaa));
  }
  auto hinfo = make_rr(apex, LDNS_RR_TYPE_HINFO, s.ttl, {string_rdf("RFC8482"), string_rdf("")});
  if (!hinfo) return tl::unexpected(hinfo.error());
  zone->hinfo_ = hinfo->release();

  // The platform hosts of a scope share one list (the responder answers with the question's name
  // as owner), so a large zone costs a node per name, not records per name.
  struct ScopeLists {
    const ldns_rr_list* a = nullptr;
    const ldns_rr_list* aaaa = nullptr;
  };
  ScopeLists scopes[2];
  for (auto scope : {domain::Scope::external, domain::Scope::internal}) {
    const auto& addresses = scope == domain::Scope::external ? s.external : s.internal;
    auto a = address_list(apex, addresses, true, s.ttl);
    auto aaaa = address_list(apex, addresses, false, s.ttl);
    if (!a) return tl::unexpected(a.error());
    if (!aaaa) return tl::unexpected(aaaa.error());
    scopes[static_cast<int>(scope)] = {keep(std::move(*a)), keep(std::move(*aaaa))};
  }
  for (const auto& ep : endpoints_) {
    const std::string& id = ep.id;
    const domain::Scope scope = ep.scope;
    // A name server's own name keeps its glue; the configuration reader refuses that clash.
    if (!glued.contains(id)) {
      Zone::Node& host = node(id);
      host.a = scopes[static_cast<int>(scope)].a;
      host.aaaa = scopes[static_cast<int>(scope)].aaaa;
    }
    const std::string validation = "acme." + id;
    if (glued.contains(validation)) continue;
    Zone::Node& acme = node(validation);
    acme.validation_host = true;
    auto values = txt_.find(id);
    std::vector<std::string> answered;
    if (canaries_) answered.push_back(domain::canary_value(id));
    if (values != txt_.end()) answered.insert(answered.end(), values->second.begin(), values->second.end());
    if (answered.empty()) continue;
    auto list = txt_list(validation + "." + apex, answered, s.txt_ttl);
    if (!list) return tl::unexpected(list.error());
    acme.txt = keep(std::move(*list));
  }

  // Hostnames inside the zone: their addresses (a name that already has a meaning, a name
  // server or another endpoint's platform or validation host, keeps it; a wildcard gets none,
  // the zone has no wildcard records) and their `_acme-challenge` name, which exists (NODATA
  // with txt_ttl, not NXDOMAIN) before a value is set. The apex's is the platform wildcard's.
  std::map<std::string, std::vector<std::string>> challenge_values;  // relative owner -> values
  challenge_values.try_emplace("_acme-challenge");  // the apex's
  for (const auto& ep : endpoints_) {
    for (const auto& hostname : ep.in_zone) {
      if (auto owner = relative_to(domain::challenge_name(hostname), s.apex)) challenge_values.try_emplace(*owner);
      if (base::is_wildcard(hostname)) continue;
      auto relative = relative_to(hostname, s.apex);
      if (!relative) continue;
      Zone::Node& host = node(*relative);
      if (host.a || host.aaaa || host.txt || host.validation_host) continue;
      host.a = scopes[static_cast<int>(ep.scope)].a;
      host.aaaa = scopes[static_cast<int>(ep.scope)].aaaa;
    }
  }
  for (const auto& [owner, by_name] : challenge_txt_) {
    for (const auto& [name, values] : by_name) {
      auto relative = relative_to(domain::challenge_name(name), s.apex);
      if (!relative) continue;
      auto& merged = challenge_values[*relative];
      for (const auto& value : values) {
        if (std::find(merged.begin(), merged.end(), value) == merged.end()) merged.push_back(value);
      }
    }
  }
  for (const auto& [relative, values] : challenge_values) {
    if (glued.contains(relative)) continue;
    Zone::Node& challenge = node(relative);
    challenge.validation_host = true;
    if (values.empty()) continue;
    auto list = txt_list(relative + "." + apex, values, s.txt_ttl);
    if (!list) return tl::unexpected(list.error());
    challenge.txt = keep(std::move(*list));
  }
  zone->precomputed_ = PrecomputedAnswers::build(*zone, zone->lists_);
  return ZonePtr(std::move(zone));
}

}  // namespace portcullis::dns
