// Issuer: one certificate order for one endpoint, from start to stored certificate. It persists
// the order before acting on it and resumes a stored order after a restart, publishes challenge
// answers on the ChallengeBoard (and removes them afterwards), holds a lease per name so that one
// order per name is in flight, and stores the issued certificate with its fresh key.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "acme/acme_client.hpp"
#include "base/blocking_pool.hpp"
#include "base/error.hpp"
#include "certstore/challenge_board.hpp"
#include "certstore/storage.hpp"

namespace portcullis::acme {

enum class ChallengeType { http01, dns01 };
std::string_view to_string(ChallengeType type) noexcept;  // "http-01", "dns-01"

// An answer the Issuer put on the board, about to be validated by the CA.
struct PublishedAnswer {
  ChallengeType type = ChallengeType::http01;
  std::string identifier;  // the authorization's name (without "*.")
  std::string key;         // http-01: the token; dns-01: the owner name of the TXT record
  std::string value;       // http-01: the key authorization; dns-01: the TXT value
};

struct IssueRequest {
  std::string endpoint_id;
  std::vector<std::string> names;  // every hostname of the endpoint; lower-cased, deduplicated here
  ChallengeType challenge = ChallengeType::http01;  // wildcard names always use dns-01
  // The challenge for each authorization, by its identifier (the base name, without "*.") and
  // whether the order named it as a wildcard; one order may mix types (e.g. from
  // domain::choose_challenges). Empty: `challenge` for every authorization. A wildcard
  // authorization given anything but dns-01 fails the attempt before the CA is told to validate.
  std::function<ChallengeType(std::string_view identifier, bool wildcard)> challenge_for;
  std::string replaces;            // ARI id of the certificate this one renews (RFC 9773 §5), or ""
  // DNS-01: the owner name that carries the TXT value for an authorization's identifier (the
  // base name, without "*."), such as the target of the customer's _acme-challenge CNAME. Empty:
  // "_acme-challenge.<name>".
  std::function<std::string(std::string_view name)> dns01_owner;
  // Runs once, when every answer of the order is on the board and before any before_validation:
  // the place to publish them elsewhere all at once (DNS-01 values in a zone). A name and its
  // wildcard are validated at one TXT name with two values: both must be there before the CA (or
  // a resolver) looks for either, or a cached answer with one value fails the other. An error
  // aborts this attempt (the order is kept).
  std::function<Status(const std::vector<PublishedAnswer>&)> publish;
  // Runs for each answer after `publish` and before the CA is told to validate any: the place to
  // check that the answer is visible from outside (CNAME followed, TXT served), because CAs pause
  // names after repeated failed validations. An error aborts this attempt (the order is kept).
  std::function<boost::asio::awaitable<Status>(const PublishedAnswer&)> before_validation;
  // What the issued certificate is: managed (an endpoint's), or fallback (the platform's own
  // wildcard, served for names nothing else covers). The bundle and the stored row carry it.
  certstore::CertSource source = certstore::CertSource::managed;
};

struct IssuerOptions {
  std::string lease_holder = "portcullis";  // this node's identity in the lease table
  std::chrono::seconds lease_ttl{std::chrono::minutes(10)};
};

// An issued certificate: the row as stored, and the bundle parsed once from it (what the proxy
// serves; its validity and serial are what the row records).
struct IssuedCertificate {
  certstore::StoredCertificate stored;
  certstore::CertBundlePtr bundle;
};

class Issuer {
 public:
  // All four must outlive the Issuer. Runs on the AcmeClient's executor (control thread); every
  // store call runs on `pool`'s store lane and the certificate key is generated on `pool`.
  Issuer(AcmeClient& client, certstore::Storage& storage, certstore::ChallengeBoard& board, base::BlockingPool& pool,
         IssuerOptions options = {});

  // Obtains a certificate for request.names. Every pending authorization's answer is published
  // (board, then request.publish), then each is checked (request.before_validation), and only
  // then is the CA told to validate them. On success the certificate (chain PEM, key PEM in
  // SecretBytes, serial, not_after) is already stored with Storage::put_certificate under
  // name_key = endpoint id, the order row is deleted and the board is clean; the caller publishes
  // the returned bundle (parsed once, on the pool). On failure the board is clean too, and the order row stays when the order may
  // still complete (network failure, timeout), so the next call resumes it.
  // Errors: Errc::conflict (another order holds one of the names), Errc::acme (the CA's problem,
  // with the failed validation's own problem when there is one), Errc::network / Errc::timeout,
  // Errc::storage, Errc::crypto, Errc::cancelled (the calling task was cancelled, e.g. at
  // shutdown: the step in flight is abandoned, the names' leases are released and the board
  // cleaned as on any failure, and the order row stays so that the next start resumes it).
  boost::asio::awaitable<Result<IssuedCertificate>> issue(IssueRequest request);

 private:
  AcmeClient& client_;
  certstore::Storage& storage_;
  certstore::ChallengeBoard& board_;
  base::BlockingPool& pool_;
  IssuerOptions options_;
  std::set<std::string> in_flight_names_;  // leases held by this process (the store's lease is per holder)
};

// Facts of a PEM chain's leaf as stored: upper-case hex serial and notAfter (Unix seconds).
struct LeafFacts {
  std::string serial_hex;
  std::int64_t not_before_unix = 0;
  std::int64_t not_after_unix = 0;
  std::vector<std::string> names;
};
Result<LeafFacts> leaf_facts(std::string_view chain_pem);

}  // namespace portcullis::acme
