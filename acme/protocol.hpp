// RFC 8555 wire objects and the parsing around them: directory, order, authorization, challenge,
// problem documents, Retry-After, Link headers, ARI (RFC 9773) certificate ids and renewal windows.
// Pure functions over bytes and JSON, no I/O; safe on any thread; unit-tested with canned answers.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "base/error.hpp"
#include "base/ossl.hpp"

namespace portcullis::acme {

using base::AcmeProblem;
using Clock = std::chrono::system_clock;

// RFC 8555 §7.1.1.
struct Directory {
  std::string new_nonce;
  std::string new_account;
  std::string new_order;
  std::string revoke_cert;
  std::string key_change;
  std::string renewal_info;                      // RFC 9773; empty when the CA has no ARI
  std::map<std::string, std::string> profiles;   // meta.profiles: name -> description
  std::vector<std::string> caa_identities;        // meta.caaIdentities (RFC 8555 §7.1.1); may be empty
  bool external_account_required = false;
  std::string terms_of_service;
};

struct Challenge {
  std::string type;    // "http-01", "dns-01", ...
  std::string url;
  std::string status;  // pending, processing, valid, invalid
  std::string token;
  std::optional<AcmeProblem> error;
};

struct Authorization {
  std::string url;
  std::string status;  // pending, valid, invalid, deactivated, expired, revoked
  std::string identifier;  // the DNS name, without "*." even for wildcards (RFC 8555 §7.1.4)
  bool wildcard = false;
  std::vector<Challenge> challenges;

  const Challenge* challenge(std::string_view type) const;
};

struct Order {
  std::string url;     // from the Location header of new-order; kept by the caller afterwards
  std::string status;  // pending, ready, processing, valid, invalid
  std::vector<std::string> names;
  std::vector<std::string> authorizations;
  std::string finalize;
  std::string certificate;
  std::string replaces;
  std::string profile;
  std::optional<AcmeProblem> error;
};

// RFC 9773 §4.2.
struct RenewalInfo {
  Clock::time_point window_start;
  Clock::time_point window_end;
  std::string explanation_url;
  std::optional<std::chrono::seconds> retry_after;  // when to ask again
};

Result<Directory> parse_directory(std::string_view body);
Result<Order> parse_order(std::string_view body);
Result<Authorization> parse_authorization(std::string_view body);
Result<Challenge> parse_challenge(std::string_view body);
Result<RenewalInfo> parse_renewal_info(std::string_view body);

// RFC 7807 / RFC 8555 §6.7 problem document (with subproblems). A body that is not a problem
// document still yields a problem: type empty, detail = the first 200 bytes of the body.
AcmeProblem parse_problem(int status, std::string_view body);
AcmeProblem problem_from_json(const boost::json::value& value, int status);

// The Error for a problem answer: Errc::acme and the message
//   acme: <step> <url>: <status> <type> "<detail>"[; <identifier>: <type> "<detail>"]...
Error problem_error(std::string_view step, std::string_view url, AcmeProblem problem);

// RFC 9110 §10.2.3: delay-seconds or an HTTP-date; a date in the past gives 0 s. nullopt when
// absent or malformed.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, Clock::time_point now);

// RFC 8288: the targets of every link with `rel` among the given Link header values
// (each value may hold several comma-separated links).
std::vector<std::string> parse_link_header(const std::vector<std::string>& values, std::string_view rel);

// RFC 3339 timestamp ("2025-01-02T03:04:05Z", fractions and numeric offsets accepted).
std::optional<Clock::time_point> parse_rfc3339(std::string_view text);

// RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial number DER content bytes).
Result<std::string> ari_certificate_id(X509* cert);

}  // namespace portcullis::acme
