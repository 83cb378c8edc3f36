#include "control/challenge_planner.hpp"

#include <algorithm>
#include <map>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "base/hostname.hpp"
#include "base/logging.hpp"
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
  if (published_.erase(endpoint_id) == 0 || !zone_) return;
  if (auto st = zone_->clear_txt(endpoint_id); !st)
    log::acme()->warn("dns-01 value not withdrawn endpoint={} error=\"{}\"", endpoint_id, st.error().message());
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
    request.dns01_owner = [owner = domain::validation_host(endpoint.id, settings_.zone)](std::string_view) {
      return owner;
    };
    request.before_validation = [this, id = endpoint.id](const acme::PublishedAnswer& answer) {
      return before_validation(id, answer);
    };
  }
}

asio::awaitable<Status> ChallengePlanner::before_validation(std::string endpoint_id, acme::PublishedAnswer answer) {
  if (answer.type != acme::ChallengeType::dns01) co_return Status{};
  if (zone_) {
    // Every value of the order stays published until it ends: a name and its wildcard are
    // validated through the same validation host, each with its own value.
    auto& values = published_[endpoint_id];
    if (std::find(values.begin(), values.end(), answer.value) == values.end()) values.push_back(answer.value);
    if (auto st = zone_->set_txt(endpoint_id, values); !st) co_return tl::unexpected(st.error());
  }
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
