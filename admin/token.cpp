#include "admin/token.hpp"

#include <array>
#include <cctype>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <fmt/format.h>

#include "acme/jws.hpp"
#include "base/atomic_file.hpp"
#include "base/logging.hpp"

namespace portcullis::admin {
namespace {

namespace fs = std::filesystem;

// RFC 6750 gives no length; 32 random bytes are 256 bits, as an ACME account key's strength.
constexpr std::size_t generated_token_bytes = 32;
constexpr std::string_view default_token_file = "admin-token";

// The shortest token accepted from a file, as for [admin] token: 128 bits in hex.
constexpr std::size_t min_token_length = 32;

// The token in a file: its content without the trailing line break an editor adds. The file must
// be readable by its owner only and hold at least min_token_length characters.
Result<base::SecretBytes> read_token_file(const fs::path& file) {
  auto text = base::read_private_file(file);
  if (!text) return tl::unexpected(text.error().with_context("admin.token_file"));
  std::string value(text->reveal());
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.size() < min_token_length) {
    const auto size = value.size();
    OPENSSL_cleanse(value.data(), value.size());
    return fail(Errc::config, fmt::format("admin.token_file: {}: expected a token of at least {} characters, got {} "
                                          "(generate one: umask 077; openssl rand -hex 32 > {})",
                                          file.string(), min_token_length, size, file.string()));
  }
  base::SecretBytes token(std::move(value));
  OPENSSL_cleanse(value.data(), value.size());
  return token;
}

using Digest = std::array<unsigned char, EVP_MAX_MD_SIZE>;

bool sha256(std::string_view bytes, Digest& out) noexcept {
  unsigned int size = 0;
  return EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, EVP_sha256(), nullptr) == 1 && size == 32;
}

}  // namespace

Result<AdminToken> load_or_create_token(const domain::Config& config) {
  AdminToken token;
  if (!config.admin.token.empty()) {
    token.value = base::SecretBytes(config.admin.token);
    return token;
  }
  if (!config.admin.token_file.empty()) {
    token.file = config.resolve(config.admin.token_file);
    auto value = read_token_file(token.file);
    if (!value) return tl::unexpected(value.error());
    token.value = std::move(*value);
    return token;
  }
  token.file = config.resolve(config.server.data_dir) / default_token_file;
  std::error_code ec;
  if (fs::exists(token.file, ec)) {
    auto value = read_token_file(token.file);
    if (!value) return tl::unexpected(value.error());
    token.value = std::move(*value);
    return token;
  }
  std::array<unsigned char, generated_token_bytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return fail(Errc::crypto, "admin token: the random generator failed");
  }
  token.value = base::SecretBytes(
      acme::base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  if (auto st = base::write_secret_file(token.file, token.value); !st) {
    return tl::unexpected(st.error().with_context("admin token"));
  }
  token.generated = true;
  return token;
}

bool bearer_matches(std::string_view authorization, const base::SecretBytes& token) noexcept {
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size() || authorization[scheme.size()] != ' ') return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return false;
  }
  std::string_view given = authorization.substr(scheme.size() + 1);
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  while (!given.empty() && given.back() == ' ') given.remove_suffix(1);
  Digest a{}, b{};
  if (!sha256(given, a) || !sha256(token.reveal(), b)) return false;
  const bool same = CRYPTO_memcmp(a.data(), b.data(), 32) == 0;
  OPENSSL_cleanse(a.data(), a.size());
  OPENSSL_cleanse(b.data(), b.size());
  return same && !token.reveal().empty();
}

}  // namespace portcullis::admin
