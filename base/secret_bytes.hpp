// SecretBytes holds private key material: wiped on destruction, never printable. Keys travel in
// this type from the moment they are read or generated until OpenSSL parses them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <openssl/crypto.h>

namespace portcullis::base {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes& other) {
    if (this != &other) {
      wipe();
      bytes_ = other.bytes_;
    }
    return *this;
  }
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.wipe(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      wipe();
      bytes_ = std::move(other.bytes_);
      other.wipe();
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  // Deliberately named: every read of the secret is greppable.
  std::string_view reveal() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  bool empty() const noexcept { return bytes_.empty(); }

  friend bool operator==(const SecretBytes& a, const SecretBytes& b) {
    return a.bytes_.size() == b.bytes_.size() &&
           CRYPTO_memcmp(a.bytes_.data(), b.bytes_.data(), a.bytes_.size()) == 0;
  }

 private:
  void wipe() noexcept {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_.clear();
  }
  std::string bytes_;
};

}  // namespace portcullis::base
