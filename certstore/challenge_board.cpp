#include "certstore/challenge_board.hpp"

#include <algorithm>

#include "base/hostname.hpp"

namespace portcullis::certstore {

const std::string* ChallengeSnapshot::http01_answer(std::string_view token) const {
  // Tokens are few (one per authorization in flight): the copy for the lookup is not worth a
  // transparent hash here.
  auto it = http01.find(std::string(token));
  return it == http01.end() ? nullptr : &it->second;
}

// Each writer copies the live snapshot under the mutex, edits the copy and publishes it, so two
// solvers changing the board at once cannot lose each other's entries. The maps are small.

void ChallengeBoard::put_http01(std::string token, std::string key_authorization) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<ChallengeSnapshot>(*current());
  next->http01[std::move(token)] = std::move(key_authorization);
  publish(std::move(next));
}

void ChallengeBoard::remove_http01(const std::string& token) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<ChallengeSnapshot>(*current());
  next->http01.erase(token);
  publish(std::move(next));
}

void ChallengeBoard::put_dns01(std::string fqdn, std::string txt_value) {
  std::string key = base::normalize_hostname(fqdn);
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<ChallengeSnapshot>(*current());
  // Several values may be live at once for one name (RFC 8555 §8.4: a wildcard and its base name
  // validate through the same _acme-challenge owner).
  auto& values = next->dns01[key];
  if (std::find(values.begin(), values.end(), txt_value) == values.end()) values.push_back(std::move(txt_value));
  publish(std::move(next));
}

void ChallengeBoard::remove_dns01(const std::string& fqdn, const std::string& txt_value) {
  std::string key = base::normalize_hostname(fqdn);
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<ChallengeSnapshot>(*current());
  if (auto it = next->dns01.find(key); it != next->dns01.end()) {
    auto& values = it->second;
    values.erase(std::remove(values.begin(), values.end(), txt_value), values.end());
    if (values.empty()) next->dns01.erase(it);
  }
  publish(std::move(next));
}

}  // namespace portcullis::certstore
