// ChallengeBoard: the ACME challenge answers — HTTP-01 key authorizations by token (served inline
// on the plain HTTP listener) and DNS-01 TXT values by owner name (no DNS server in Portcullis
// reads them: the proxy orders over HTTP-01 only). Writers (ACME solvers, control thread) take a
// mutex and publish a new immutable ChallengeSnapshot; readers (workers) never lock.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/published.hpp"

namespace portcullis::certstore {

struct ChallengeSnapshot {
  std::unordered_map<std::string, std::string> http01;                // token -> key authorization
  std::unordered_map<std::string, std::vector<std::string>> dns01;    // fqdn (lower, no dot) -> TXT values

  // nullptr when the token is unknown.
  const std::string* http01_answer(std::string_view token) const;
};

class ChallengeBoard : public base::Published<ChallengeSnapshot> {
 public:
  // Thread-safe; each call publishes a new snapshot.
  void put_http01(std::string token, std::string key_authorization);
  void remove_http01(const std::string& token);
  void put_dns01(std::string fqdn, std::string txt_value);
  void remove_dns01(const std::string& fqdn, const std::string& txt_value);

 private:
  std::mutex mutex_;
};

}  // namespace portcullis::certstore
