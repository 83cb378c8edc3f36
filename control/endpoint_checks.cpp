#include "control/endpoint_checks.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "base/hostname.hpp"
#include "domain/records.hpp"

namespace portcullis::control {
namespace {

using domain::AlertFinding;
using domain::AlertKind;
using domain::AlertSeverity;
using domain::Observation;
using domain::RecordState;

std::string quoted_values(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "\"" : ", \"") + v + "\"";
  return out.empty() ? "no TXT record" : out;
}

// A record that is missing or leads elsewhere, in the customer's terms.
AlertFinding record_finding(const std::string& endpoint_id, const domain::RequiredRecord& record,
                            const Observation& observed) {
  AlertFinding f;
  const bool missing = observed.state == RecordState::missing;
  f.kind = missing ? AlertKind::dns_record_missing : AlertKind::dns_record_wrong;
  f.severity = AlertSeverity::warning;
  f.endpoint_id = endpoint_id;
  f.subject = record.name + " " + record.type;
  f.expected = record.type + " " + record.target;
  f.found = observed.found;
  f.fix = missing ? fmt::format("Create {} {} {} at your DNS provider.", record.name, record.type, record.target)
                  : fmt::format("Change {} to {} {} at your DNS provider (it leads elsewhere now).", record.name,
                                record.type, record.target);
  return f;
}

bool is_error(const Observation& o) { return o.state == RecordState::error; }

void incomplete_dns(EndpointCheckResult& out, const std::string& error) {
  out.dns_complete = false;
  if (out.error.empty()) out.error = error;
}

}  // namespace

std::optional<AlertFinding> caa_finding(const std::string& endpoint_id, const std::string& hostname,
                                        const domain::CaaRrset& rrset, const domain::CaaContext& caa) {
  auto verdict = domain::evaluate_caa(hostname, rrset, caa);
  if (verdict.permitted) return std::nullopt;
  const bool wildcard = base::is_wildcard(hostname);
  const std::string identity = caa.ca_identities.empty() ? std::string("<our CA>") : caa.ca_identities.front();
  AlertFinding f;
  f.kind = AlertKind::caa_forbids_ca;
  f.severity = AlertSeverity::critical;
  f.endpoint_id = endpoint_id;
  f.subject = hostname + " CAA";
  f.expected = fmt::format("0 {} \"{}\"", wildcard ? "issuewild" : "issue", identity);
  f.found = verdict.found + " (" + verdict.reason + ")";
  f.fix = fmt::format("Add {}. CAA 0 {} \"{}\" beside the records there, or remove the records that exclude our CA, at "
                      "your DNS provider; until then no certificate can be issued for {}.",
                      rrset.owner, wildcard ? "issuewild" : "issue", identity, hostname);
  return f;
}

DnsChecks::DnsChecks(DnsChecksSettings settings) : settings_(std::move(settings)), checker_(settings_.resolver) {}

EndpointCheckResult DnsChecks::check(const domain::EndpointConfig& endpoint, const domain::CaaContext& caa) const {
  EndpointCheckResult out;
  for (const auto& hostname : endpoint.hostnames) check_hostname(endpoint, hostname, caa, out);
  return out;
}

void DnsChecks::check_hostname(const domain::EndpointConfig& endpoint, const std::string& hostname,
                               const domain::CaaContext& caa, EndpointCheckResult& out) const {
  const bool in_zone = domain::in_platform_zone(hostname, settings_.zone);
  const bool wildcard = base::is_wildcard(hostname);
  const bool external = endpoint.scope == domain::Scope::external;
  const bool open_external = external && endpoint.ip_allowlist.empty() && !wildcard;
  std::string method;  // the challenge this name would be proved by: "dns-01", "http-01", or "" (neither)

  if (in_zone) {
    method = "dns-01";  // our own zone answers it: no customer record
  } else {
    std::optional<domain::RequiredRecord> challenge, traffic;
    for (auto& record : domain::records_for_hostname(endpoint, hostname, settings_.zone))
      (record.purpose == domain::RecordPurpose::challenge ? challenge : traffic) = std::move(record);

    // The records of the challenge it uses (design §2): DNS-01 through its CNAME, else HTTP-01 for
    // an open external name that already resolves to our listeners, else the CNAME is what to fix.
    Observation resolves;  // unchecked unless asked
    if (endpoint.managed_https && challenge) {
      // Each failure ends the run at once: the resolver is likely down, every further query would
      // wait its timeout too.
      const Observation cname = checker_.check(*challenge);
      if (is_error(cname)) return incomplete_dns(out, cname.found);
      if (open_external) resolves = checker_.check_resolves_to(hostname, settings_.external_addresses);
      if (is_error(resolves)) return incomplete_dns(out, resolves.found);
      if (cname.state == RecordState::ok) {
        method = "dns-01";
      } else if (resolves.state == RecordState::ok) {
        method = "http-01";
      } else {
        out.dns.push_back(record_finding(endpoint.id, *challenge, cname));
      }
      // The canary: the value our zone answers at the validation host must show through the
      // customer's name, as the CA's resolver will see a DNS-01 answer.
      const bool leads_somewhere = cname.state == RecordState::ok || cname.state == RecordState::wrong_target;
      if (settings_.canary && leads_somewhere && method != "http-01") {
        const std::string canary = domain::canary_value(endpoint.id);
        auto txt = checker_.lookup_txt(challenge->name);
        if (!txt) return incomplete_dns(out, txt.error().message());
        if (std::find(txt->begin(), txt->end(), canary) == txt->end()) {
          AlertFinding f;
          f.kind = AlertKind::dns_record_wrong;
          f.endpoint_id = endpoint.id;
          f.subject = challenge->name + " TXT";
          f.expected = fmt::format("\"{}\" (through CNAME {})", canary, challenge->target);
          f.found = quoted_values(*txt);
          f.fix = fmt::format("The canary TXT is not seen through {}: make it a CNAME to {} and nothing else, at your "
                              "DNS provider (a DNS-01 validation would fail the same way).",
                              challenge->name, challenge->target);
          out.dns.push_back(std::move(f));
        }
      }
    }
    // An external endpoint's traffic CNAME (a wildcard's cannot be checked): our CNAME, or
    // addresses that are all ours, route its clients here.
    if (external && traffic && traffic->checkable) {
      const Observation cname = checker_.check(*traffic);
      if (is_error(cname)) return incomplete_dns(out, cname.found);
      if (cname.state != RecordState::ok) {
        if (resolves.state == RecordState::unchecked)
          resolves = checker_.check_resolves_to(hostname, settings_.external_addresses);
        if (is_error(resolves)) return incomplete_dns(out, resolves.found);
        if (resolves.state != RecordState::ok) out.dns.push_back(record_finding(endpoint.id, *traffic, cname));
      }
    }
  }

  // A name in our zone is the operator's, not a customer's: its CAA is the platform's business.
  if (!endpoint.managed_https || caa.ca_identities.empty() || in_zone) return;
  auto rrset = checker_.find_caa(hostname);
  if (!rrset) {
    out.caa_complete = false;
    if (out.error.empty()) out.error = rrset.error().message();
    return;
  }
  domain::CaaContext context = caa;
  // Waiting for a record: the challenge it would get once fixed (DNS-01 but for open names).
  context.validation_method = !method.empty() ? method : open_external ? std::string() : std::string("dns-01");
  if (auto f = caa_finding(endpoint.id, hostname, *rrset, context)) out.caa.push_back(std::move(*f));
}

std::vector<AlertFinding> DnsChecks::check_platform(const std::string& canary_endpoint_id) const {
  std::vector<AlertFinding> out;
  const std::string resolver = settings_.resolver.address.to_string();
  auto down = [&](std::string subject, std::string expected, std::string found) {
    AlertFinding f;
    f.kind = AlertKind::dns_server_down;
    f.severity = AlertSeverity::critical;
    f.subject = std::move(subject);
    f.expected = std::move(expected);
    f.found = std::move(found);
    f.fix = fmt::format("Check that the built-in DNS server answers on its [dns] listen addresses, that the zone {} is "
                        "delegated to it, and that the resolver {} can reach it; DNS-01 validations fail meanwhile.",
                        settings_.zone, resolver);
    out.push_back(std::move(f));
  };
  if (auto st = checker_.check_soa(settings_.zone); !st) {
    down(settings_.zone + " SOA", "an SOA answer through the resolver " + resolver, st.error().message());
    return out;
  }
  if (!settings_.canary || canary_endpoint_id.empty()) return out;
  const std::string host = domain::validation_host(canary_endpoint_id, settings_.zone);
  const std::string canary = domain::canary_value(canary_endpoint_id);
  auto txt = checker_.lookup_txt(host);
  if (!txt) {
    down(host + " TXT", fmt::format("\"{}\" through the resolver {}", canary, resolver), txt.error().message());
  } else if (std::find(txt->begin(), txt->end(), canary) == txt->end()) {
    down(host + " TXT", fmt::format("\"{}\" through the resolver {}", canary, resolver), quoted_values(*txt));
  }
  return out;
}

}  // namespace portcullis::control
