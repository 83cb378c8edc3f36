// The platform zone as an immutable snapshot, and the builder that makes one. The zone holds the
// apex (SOA, NS), the name servers' glue, every endpoint's platform host `<id>.<zone>` (A/AAAA of
// its scope's addresses) and validation host `acme.<id>.<zone>` (the TXT values of a pending
// DNS-01 challenge), and for a hostname inside the zone itself its addresses and
// `_acme-challenge.<name>` (the TXT values of its own DNS-01 challenges; at the apex for the
// platform wildcard). Records are built once, as ldns RRs, when the snapshot is built, and so are
// the common answers in wire format; the responder (dns/responder.hpp) copies them into answers
// and never locks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "base/error.hpp"
#include "base/published.hpp"
#include "dns/precomputed_answers.hpp"
#include "domain/config.hpp"
#include "domain/endpoint.hpp"

struct ldns_struct_rr;
struct ldns_struct_rr_list;
struct ldns_struct_rdf;

namespace portcullis::dns {

using IpAddress = boost::asio::ip::address;

// The zone's own settings, with every address parsed. Built from [dns] by from_config().
struct ZoneSettings {
  struct NameServer {
    std::string name;                  // normalised host name
    std::vector<IpAddress> addresses;  // glue; empty for a name server outside the zone
  };
  std::string apex;                    // normalised: "edge.example.net"
  std::vector<NameServer> name_servers;  // at least one; the first is the SOA's MNAME
  std::string soa_email;               // "hostmaster@edge.example.net"; the SOA's RNAME
  std::uint32_t ttl = 300;
  std::uint32_t txt_ttl = 60;
  std::vector<IpAddress> external, internal;  // the platform hosts' addresses per scope

  // Errors name the key ("dns.ns[0].addresses[1]: ...") of an address that does not parse; the
  // TOML reader has checked them, so that is a broken invariant.
  static Result<ZoneSettings> from_config(const domain::DnsConfig& config);
};

// RFC 1982 serial: the build's time in seconds, strictly above the previous serial.
std::uint32_t next_serial(std::uint32_t previous, std::uint32_t now_seconds) noexcept;

// The snapshot. Immutable once built; shared by the DNS server thread (reader) and the control
// thread (which publishes the next one). Every accessor is noexcept and allocates nothing.
class Zone {
 public:
  // What is at a name of the zone. Lists are never null for the record types the name has;
  // nullptr means the name has no record of that type (NODATA).
  struct Node {
    const ldns_struct_rr_list* a = nullptr;
    const ldns_struct_rr_list* aaaa = nullptr;
    const ldns_struct_rr_list* txt = nullptr;
    bool apex = false;
    bool validation_host = false;  // acme.<id> or _acme-challenge.<name>: negative answers carry txt_ttl
  };

  // An empty zone: the apex is the root and no name exists. Answers REFUSED for everything.
  Zone();
  ~Zone();
  Zone(const Zone&) = delete;
  Zone& operator=(const Zone&) = delete;

  // The node at `relative` (lower-case labels below the apex, "." between them, "" for the apex
  // itself: "elb-1", "acme.elb-1", "ns1"), or nullptr when the zone has no such name (NXDOMAIN).
  // Names above a node (empty non-terminals) exist and have no records.
  const Node* find(std::string_view relative) const noexcept;

  // The apex as a wire-format name; nullptr for the empty zone.
  const ldns_struct_rdf* apex() const noexcept { return apex_; }
  bool empty() const noexcept { return apex_ == nullptr; }
  const ldns_struct_rr* soa() const noexcept { return soa_; }
  // The SOA for negative answers about a validation host: TTL txt_ttl, so a resolver that asked
  // before the value was set asks again soon (RFC 2308 §5: the negative TTL is the SOA's TTL
  // when that is below its MINIMUM).
  const ldns_struct_rr* soa_short() const noexcept { return soa_short_; }
  const ldns_struct_rr_list* ns() const noexcept { return ns_; }
  // The A/AAAA records of the name servers inside the zone, for the additional section.
  const ldns_struct_rr_list* glue() const noexcept { return glue_; }
  // RFC 8482's answer to ANY: one synthesised HINFO "RFC8482" "", owner the apex.
  const ldns_struct_rr* any_answer() const noexcept { return hinfo_; }

  std::uint32_t serial() const noexcept { return serial_; }
  std::size_t names() const noexcept { return nodes_.size(); }

  // The answers prepared in wire format when the snapshot was built (dns/precomputed_answers.hpp);
  // nullptr for the empty zone.
  const PrecomputedAnswers* precomputed() const noexcept { return precomputed_.get(); }

 private:
  friend class ZoneBuilder;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  ldns_struct_rdf* apex_ = nullptr;
  ldns_struct_rr* soa_ = nullptr;
  ldns_struct_rr* soa_short_ = nullptr;
  ldns_struct_rr* hinfo_ = nullptr;
  ldns_struct_rr_list* ns_ = nullptr;
  ldns_struct_rr_list* glue_ = nullptr;
  // Every RR list the nodes point at (per scope, per name server, per validation host).
  std::vector<ldns_struct_rr_list*> lists_;
  std::unordered_map<std::string, Node, Hash, std::equal_to<>> nodes_;
  std::uint32_t serial_ = 0;
  std::unique_ptr<const PrecomputedAnswers> precomputed_;
};

using ZonePtr = std::shared_ptr<const Zone>;
// Where the live zone is published: written by the control thread, read by the DNS server thread.
using ZoneRegistry = base::Published<Zone>;

// The zone's inputs, kept on the control thread, and the snapshots made from them.
//
// This is the API the control plane uses to answer a DNS-01 challenge:
//   builder.set_txt("elb-1", {value});                 // the CA may ask now
//   registry.publish(builder.build(next_serial(...)));
//   ...
//   builder.clear_txt("elb-1");                        // validated or abandoned
//   registry.publish(builder.build(next_serial(...)));
// Not thread-safe: call from one thread (the control thread). Nothing blocks.
class ZoneBuilder {
 public:
  // Settings and endpoints from a (re)loaded configuration. TXT values of endpoints still
  // present are kept; those of removed endpoints go. Challenge values at names inside the zone
  // (set_challenge_txt) are kept whatever the endpoints: their owner (an order in flight, or the
  // platform certificate, which is no endpoint) withdraws them.
  void configure(ZoneSettings settings, const std::vector<domain::EndpointConfig>& endpoints);

  // DNS-01 values for names inside the zone, which need no CNAME: `by_name` maps a name (the
  // authorization's identifier, without "*.", normalised) to the TXT values answered at
  // `_acme-challenge.<name>`; it replaces whatever `owner` (an endpoint id, or the platform
  // certificate's) had set before, and an empty map clears. Values several owners set at one
  // name are all answered. A name outside the zone is kept and answered once the zone contains it.
  using ChallengeValues = std::map<std::string, std::vector<std::string>>;
  void set_challenge_txt(std::string_view owner, ChallengeValues by_name);
  const ChallengeValues* challenge_txt(std::string_view owner) const;

  // The TXT values `acme.<id>.<zone>` answers (several at once: one per pending authorization,
  // e.g. a name and its wildcard). An empty list clears them. Values longer than 255 octets are
  // split into 255-octet strings of one record (RFC 1035 §3.3.14). An unknown id is kept and
  // answered once an endpoint with that id is configured.
  void set_txt(std::string_view endpoint_id, std::vector<std::string> values);
  void clear_txt(std::string_view endpoint_id);
  const std::vector<std::string>* txt(std::string_view endpoint_id) const;

  // On: every endpoint's validation host also answers its canary (domain::canary_value), beside
  // the DNS-01 values set_txt gave it, for the monitor to look up through the customer's CNAME.
  // Kept across configure(). Off by default.
  void set_canaries(bool on) noexcept { canaries_ = on; }
  bool canaries() const noexcept { return canaries_; }

  // A snapshot of the current inputs. Errors only for a name ldns cannot encode (a broken
  // invariant: the settings were validated); the previous snapshot should then stay live.
  Result<ZonePtr> build(std::uint32_t serial) const;

  const ZoneSettings& settings() const noexcept { return settings_; }

 private:
  struct EndpointNames {
    std::string id;
    domain::Scope scope = domain::Scope::external;
    std::vector<std::string> in_zone;  // its hostnames inside the zone, normalised (may be "*.x")
  };
  ZoneSettings settings_;
  std::vector<EndpointNames> endpoints_;
  std::unordered_map<std::string, std::vector<std::string>> txt_;
  std::map<std::string, ChallengeValues, std::less<>> challenge_txt_;  // owner -> name -> values
  bool canaries_ = false;
};

}  // namespace portcullis::dns
