#include "domain/caa.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "base/hostname.hpp"

namespace portcullis::domain {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// RFC 8659 §4.2: issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]].
struct IssueValue {
  std::string issuer;                             // lower-case, no trailing dot; empty: nobody
  std::map<std::string, std::string> parameters;  // tag (lower-case) -> value
};

std::optional<IssueValue> parse_issue_value(std::string_view text) {
  IssueValue out;
  const auto semicolon = text.find(';');
  out.issuer = lower(trim(text.substr(0, semicolon)));
  if (out.issuer.ends_with('.')) out.issuer.pop_back();
  if (out.issuer.find_first_of(" \t") != std::string::npos) return std::nullopt;
  if (semicolon == std::string_view::npos) return out;
  std::string_view rest = text.substr(semicolon + 1);
  while (!trim(rest).empty()) {
    const auto end = rest.find(';');
    const std::string_view parameter = trim(rest.substr(0, end));
    const auto equals = parameter.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const auto tag = lower(trim(parameter.substr(0, equals)));
    if (tag.empty()) return std::nullopt;
    out.parameters[tag] = std::string(trim(parameter.substr(equals + 1)));
    if (end == std::string_view::npos) break;
    rest = rest.substr(end + 1);
  }
  return out;
}

bool known_tag(std::string_view tag) {
  // RFC 8659 §4.2-4.4, and the tags registered since (IANA "Certification Authority Restriction
  // Properties"): a CA understands these, so their critical flag forbids nothing.
  static constexpr std::string_view known[] = {"issue", "issuewild", "iodef", "contactemail",
                                               "contactphone", "issuemail", "issuevmc"};
  return std::find(std::begin(known), std::end(known), tag) != std::end(known);
}

// Why `record` does not let our CA issue, or nullopt when it does.
std::optional<std::string> refusal(const CaaRecord& record, const CaaContext& context) {
  auto value = parse_issue_value(record.value);
  if (!value) return fmt::format("{} is malformed", record.text());
  if (value->issuer.empty()) return fmt::format("{} forbids every CA", record.text());
  const bool ours = std::any_of(context.ca_identities.begin(), context.ca_identities.end(),
                                [&](const std::string& id) { return base::normalize_hostname(id) == value->issuer; });
  if (!ours) return fmt::format("{} names another CA", record.text());
  // RFC 8657 §3: the account URI must equal ours exactly.
  if (auto it = value->parameters.find("accounturi"); it != value->parameters.end()) {
    if (context.account_uri.empty())
      return fmt::format("{} binds an account and ours is not known yet", record.text());
    if (it->second != context.account_uri)
      return fmt::format("{} names another account than ours ({})", record.text(), context.account_uri);
  }
  // RFC 8657 §4: a comma-separated list of ACME method labels.
  if (auto it = value->parameters.find("validationmethods"); it != value->parameters.end()) {
    bool listed = false;
    std::string_view methods = it->second;
    while (!methods.empty() && !listed) {
      const auto comma = methods.find(',');
      listed = lower(trim(methods.substr(0, comma))) == lower(context.validation_method);
      methods = comma == std::string_view::npos ? std::string_view() : methods.substr(comma + 1);
    }
    if (!listed || context.validation_method.empty())
      return fmt::format("{} does not allow the {} challenge", record.text(),
                         context.validation_method.empty() ? "chosen" : context.validation_method);
  }
  return std::nullopt;
}

}  // namespace

std::string CaaRecord::text() const { return fmt::format("{} {} \"{}\"", flags, tag, value); }

Result<CaaRrset> find_relevant_caa(std::string_view hostname, const CaaLookup& lookup) {
  std::string name = base::normalize_hostname(hostname);
  if (base::is_wildcard(name)) name = name.substr(2);
  // Bounded by the labels of the name: each step drops one.
  while (!name.empty()) {
    const auto dot = name.find('.');
    auto records = lookup(name);
    // A top-level domain that does not answer is taken to have no CAA (none has any): a resolver
    // that sees only private zones cannot ask the public root.
    if (!records && dot == std::string::npos) break;
    if (!records) return tl::unexpected(records.error());
    if (!records->empty()) return CaaRrset{name, std::move(*records)};
    if (dot == std::string::npos) break;  // a top-level domain: the root is not asked
    name = name.substr(dot + 1);
  }
  return CaaRrset{};
}

CaaVerdict evaluate_caa(std::string_view hostname, const CaaRrset& rrset, const CaaContext& context) {
  CaaVerdict verdict;
  if (rrset.records.empty()) return verdict;
  for (const auto& record : rrset.records) {
    if (record.critical() && !known_tag(lower(record.tag))) {
      verdict.permitted = false;
      verdict.found = fmt::format("{} CAA {}", rrset.owner, record.text());
      verdict.reason = fmt::format("the critical property \"{}\" is unknown, which forbids every CA (RFC 8659 §4.1)",
                                   record.tag);
      return verdict;
    }
  }
  const bool wildcard = base::is_wildcard(base::normalize_hostname(hostname));
  auto with_tag = [&](std::string_view tag) {
    std::vector<const CaaRecord*> out;
    for (const auto& record : rrset.records)
      if (lower(record.tag) == tag) out.push_back(&record);
    return out;
  };
  auto relevant = with_tag("issue");
  std::string_view tag = "issue";
  if (wildcard) {
    if (auto wild = with_tag("issuewild"); !wild.empty()) {
      relevant = std::move(wild);
      tag = "issuewild";
    }
  }
  if (relevant.empty()) return verdict;  // iodef, contacts only: no restriction on issuers
  std::vector<std::string> refusals;
  for (const auto* record : relevant) {
    auto why = refusal(*record, context);
    if (!why) return verdict;
    refusals.push_back(std::move(*why));
  }
  verdict.permitted = false;
  for (const auto* record : relevant)
    verdict.found += (verdict.found.empty() ? "" : ", ") + fmt::format("{} CAA {}", rrset.owner, record->text());
  std::string ids;
  for (const auto& id : context.ca_identities) ids += (ids.empty() ? "" : ", ") + id;
  verdict.reason = fmt::format("no {} record lets our CA ({}) issue: ", tag, ids.empty() ? "identity unknown" : ids);
  for (std::size_t i = 0; i < refusals.size(); ++i) verdict.reason += (i ? "; " : "") + refusals[i];
  return verdict;
}

}  // namespace portcullis::domain
