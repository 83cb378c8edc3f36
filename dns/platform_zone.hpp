// PlatformZone: the live platform zone. Keeps the zone's inputs (ZoneBuilder) and the published
// snapshot (ZoneRegistry, which the DNS server reads) in step: every change builds and publishes
// a new snapshot with a new serial. This is what the composition root configures and what the
// control plane calls to answer a DNS-01 challenge:
//   zone.set_txt("elb-1", {value});   // acme.elb-1.<zone> answers it from now on
//   zone.clear_txt("elb-1");          // after validation
// and, for a name inside the zone (no CNAME: we are its authority),
//   zone.set_challenge_txt("_platform", {{"edge.example.net", {v1, v2}}});  // _acme-challenge.edge.example.net
//   zone.clear_challenge_txt("_platform");
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "dns/zone.hpp"
#include "domain/config.hpp"

namespace portcullis::dns {

// Not thread-safe: call from one thread (the control thread). Nothing blocks. The registry may
// be read from any thread.
class PlatformZone {
 public:
  using SecondsClock = std::function<std::uint32_t()>;
  // `clock`: seconds since the epoch, for the SOA serial (tests inject their own).
  explicit PlatformZone(SecondsClock clock = {});

  // From a (re)loaded configuration. On error (an address that does not parse: the reader has
  // checked them, so a broken invariant) the previous zone stays live and nothing changes.
  Status configure(const domain::DnsConfig& config, const std::vector<domain::EndpointConfig>& endpoints);

  // The TXT values acme.<endpoint_id>.<zone> answers, published at once; an empty list clears.
  Status set_txt(std::string_view endpoint_id, std::vector<std::string> values);
  Status clear_txt(std::string_view endpoint_id);

  // The TXT values `_acme-challenge.<name>` answers for each name of `by_name` (identifiers
  // without "*.", inside the zone), replacing what `owner` set before; published at once. An
  // empty map clears. Errors: Errc::invalid_input for a name outside the zone (nothing changes).
  Status set_challenge_txt(std::string_view owner, ZoneBuilder::ChallengeValues by_name);
  Status clear_challenge_txt(std::string_view owner);

  // Every validation host answers its endpoint's canary too (ZoneBuilder::set_canaries); published
  // at once when the zone is configured, else with the first configure().
  Status set_canaries(bool on);

  const ZoneRegistry& registry() const noexcept { return registry_; }
  ZonePtr current() const { return registry_.current(); }

 private:
  Status publish(const ZoneBuilder& next);

  SecondsClock clock_;
  ZoneBuilder builder_;
  ZoneRegistry registry_;
  std::uint32_t serial_ = 0;
};

}  // namespace portcullis::dns
