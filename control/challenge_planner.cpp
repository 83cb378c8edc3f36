#include "control/challenge_planner.hpp"

#include <algorithm>
#include <map>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "base/hostname.hpp"
#include "base/logging.hpp"
#include "control/endpoint_checks.hpp"
#include "domain/records.hpp"

namespace portcullis::control {
namespace asio = boost::asio;

namespace {

acme::ChallengeType to_acme(domain::ChallengeChoice choice) {
  return choice == domain::ChallengeChoice::dns_01 ? acme::ChallengeType::dns01 : acme::ChallengeType::http01;
}

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "\"" : ", \"") + v + "\"";
  return out.empty() ? "no TXT record" : out;
}

}  // namespace

ChallengePlanner::ChallengePlanner(base::BlockingPool& pool, ChallengePlannerSettings settings, dns::PlatformZone* zone)
    : pool_(pool), settings_(std::move(settings)), checker_(settings_.resolver), zone_(zone) {}

void ChallengePlanner::withdraw(const std::string& endpoint_id) {
  const bool delegated = published_.erase(endpoint_id) > 0;
  const bool in_zone = published_in_zone_.erase(endpoint_id) > 0;
  if (!zone_) return;
  if (delegated) {
    if (auto st = zone_->clear_txt(endpoint_id); !st)
      log::acme()->warn("dns-01 value not withdrawn endpoint={} error=\"{}\"", endpoint_id, st.error().message());
  }
  if (in_zone) {
    if (auto st = zone_->clear_challenge_txt(endpoint_id); !st)
      log::acme()->warn("dns-01 value not withdrawn endpoint={} error=\"{}\"", endpoint_id, st.error().message());
  }
}

asio::awaitable<domain::EndpointDecision> ChallengePlanner::decide(domain::EndpointConfig endpoint) {
  domain::EndpointDecision decision;
  if (!uses_dns()) {
    // No platform zone: no DNS-01 answer can be served, so HTTP-01 proves every name that can be.
    decision.ready = true;
    for (const auto& hostname : endpoint.hostnames) {
      domain::ChallengeDecision d;
      d.hostname = hostname;
      if (base::is_wildcard(hostname)) {
        d.choice = domain::ChallengeChoice::wait;
        d.reason = "a wildcard name is proved by DNS-01 only, and no platform zone is configured ([dns] zone)";
        decision.ready = false;
      } else {
        d.choice = domain::ChallengeChoice::http_01;
        d.reason = "no platform zone is configured ([dns] zone): HTTP-01";
      }
      decision.hostnames.push_back(std::move(d));
    }
    decision.reason = decision.ready ? "ready: http-01 (no platform zone)"
                                     : "waiting: a wildcard name needs DNS-01 and no platform zone is configured";
    co_return decision;
  }

  std::vector<domain::HostnameObservation> observed;
  for (const auto& hostname : endpoint.hostnames) {
    if (domain::in_platform_zone(hostname, settings_.zone)) {
      // Our own zone answers for it: there is no customer record to look at.
      observed.push_back({.hostname = hostname, .challenge = {}, .traffic = {}});
      continue;
    }
    const bool open_external = endpoint.scope == domain::Scope::external && endpoint.ip_allowlist.empty() &&
                               !base::is_wildcard(hostname);
    auto records = domain::records_for_hostname(endpoint, hostname, settings_.zone);
    auto check = [this, &records, &hostname, open_external] {
      domain::HostnameObservation o;
      o.hostname = hostname;
      for (const auto& record : records)
        if (record.purpose == domain::RecordPurpose::challenge) o.challenge = checker_.check(record);
      if (open_external) o.traffic = checker_.check_resolves_to(hostname, settings_.external_addresses);
      return o;
    };
    auto one = co_await pool_.run(check);
    if (one) {
      observed.push_back(std::move(*one));
    } else {
      domain::HostnameObservation o;
      o.hostname = hostname;
      o.challenge = {domain::RecordState::error, one.error().message()};
      observed.push_back(std::move(o));
    }
  }
  co_return domain::choose_challenges(endpoint, settings_.zone, observed);
}

asio::awaitable<Result<std::vector<domain::AlertFinding>>> ChallengePlanner::check_caa(
    domain::EndpointConfig endpoint, domain::EndpointDecision decision, domain::CaaContext caa) {
  std::vector<domain::AlertFinding> findings;
  if (caa.ca_identities.empty()) co_return findings;  // nothing to compare the records with
  for (const auto& d : decision.hostnames) {
    const std::string& hostname = d.hostname;
    if (domain::in_platform_zone(hostname, settings_.zone)) continue;  // the operator's name, not a customer's
    auto lookup = [this, &hostname] { return checker_.find_caa(hostname); };
    auto rrset = co_await pool_.run(lookup);
    if (!rrset) co_return tl::unexpected(rrset.error().with_context("caa: " + hostname));
    domain::CaaContext context = caa;
    context.validation_method = std::string(domain::to_string(d.choice));
    if (auto f = caa_finding(endpoint.id, hostname, *rrset, context)) findings.push_back(std::move(*f));
  }
  co_return findings;
}

void ChallengePlanner::apply(const domain::EndpointConfig& endpoint, const domain::EndpointDecision& decision,
                             acme::IssueRequest& request) {
  std::map<std::string, acme::ChallengeType, std::less<>> by_name;
  bool any_dns = false;
  for (const auto& d : decision.hostnames) {
    by_name[d.hostname] = to_acme(d.choice);
    any_dns = any_dns || d.choice == domain::ChallengeChoice::dns_01;
  }
  request.challenge = acme::ChallengeType::http01;
  request.challenge_for = [by_name = std::move(by_name)](std::string_view identifier, bool wildcard) {
    const std::string name = wildcard ? "*." + std::string(identifier) : std::string(identifier);
    auto it = by_name.find(name);
    if (it != by_name.end()) return it->second;
    // An identifier the decision did not name (the CA normalised it differently): DNS-01 when
    // the endpoint has a zone to answer it from, which is the type that works for every name.
    return wildcard ? acme::ChallengeType::dns01 : acme::ChallengeType::http01;
  };
  if (any_dns) {
    // A name in the platform zone is answered at its own _acme-challenge name; any other at the
    // endpoint's validation host, which the customer's CNAME leads to.
    request.dns01_owner = [zone = settings_.zone,
                           owner = domain::validation_host(endpoint.id, settings_.zone)](std::string_view identifier) {
      return domain::in_platform_zone(identifier, zone) ? domain::challenge_name(identifier) : owner;
    };
    request.publish = [this, id = endpoint.id](const std::vector<acme::PublishedAnswer>& answers) {
      return publish(id, answers);
    };
    request.before_validation = [this](const acme::PublishedAnswer& answer) { return before_validation(answer); };
  }
}

Status ChallengePlanner::publish(const std::string& endpoint_id, const std::vector<acme::PublishedAnswer>& answers) {
  // Every value of the order stays published until it ends (withdraw): a name and its wildcard
  // are validated at the same TXT name, each with its own value.
  std::vector<std::string> delegated;
  dns::ZoneBuilder::ChallengeValues in_zone;
  if (auto it = published_.find(endpoint_id); it != published_.end()) delegated = it->second;
  if (auto it = published_in_zone_.find(endpoint_id); it != published_in_zone_.end()) in_zone = it->second;
  bool any_delegated = false, any_in_zone = false;
  for (const auto& answer : answers) {
    if (answer.type != acme::ChallengeType::dns01) continue;
    const bool ours = domain::in_platform_zone(answer.identifier, settings_.zone);
    auto& values = ours ? in_zone[answer.identifier] : delegated;
    if (std::find(values.begin(), values.end(), answer.value) == values.end()) values.push_back(answer.value);
    (ours ? any_in_zone : any_delegated) = true;
  }
  if (any_delegated) {
    if (zone_) {
      if (auto st = zone_->set_txt(endpoint_id, delegated); !st) return st;
    }
    published_[endpoint_id] = std::move(delegated);
  }
  if (any_in_zone) {
    if (zone_) {
      if (auto st = zone_->set_challenge_txt(endpoint_id, in_zone); !st) return st;
    }
    published_in_zone_[endpoint_id] = std::move(in_zone);
  }
  return {};
}

asio::awaitable<Status> ChallengePlanner::before_validation(acme::PublishedAnswer answer) {
  if (answer.type != acme::ChallengeType::dns01) co_return Status{};
  co_return co_await wait_visible(answer.identifier, answer.value);
}

asio::awaitable<Status> ChallengePlanner::wait_visible(std::string name, std::string value) const {
  const std::string question = domain::challenge_name(name);
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + settings_.visibility_deadline;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::string seen = "no answer yet";
  for (;;) {
    auto lookup = [this, &question] { return checker_.lookup_txt(question); };
    auto txt = co_await pool_.run(lookup);
    if (txt) {
      if (std::find(txt->begin(), txt->end(), value) != txt->end()) {
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        log::acme()->info("dns-01 value visible name={} through={} after_ms={}", question,
                          settings_.resolver.address.to_string(), took.count());
        co_return Status{};
      }
      seen = join(*txt);
    } else {
      seen = txt.error().message();
    }
    if (std::chrono::steady_clock::now() + settings_.visibility_poll > deadline) break;
    timer.expires_after(settings_.visibility_poll);
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return fail(Errc::timeout,
                 fmt::format("dns-01: the value for {} was not visible through the resolver {} within {} s "
                             "(found: {}); check that {} CNAMEs to our validation host",
                             question, settings_.resolver.address.to_string(),
                             std::chrono::duration_cast<std::chrono::seconds>(settings_.visibility_deadline).count(),
                             seen, question));
}

}  // namespace portcullis::control
