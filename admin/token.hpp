// The admin API's bearer token: from [admin] token or token_file, else generated at first start
// (32 random bytes, base64url) into <data_dir>/admin-token, mode 0600. Compared in constant time;
// never logged, never part of an error message.
#pragma once

#include <filesystem>
#include <string_view>

#include "base/error.hpp"
#include "base/secret_bytes.hpp"
#include "domain/config.hpp"

namespace portcullis::admin {

struct AdminToken {
  base::SecretBytes value;
  std::filesystem::path file;  // where it was read from or written to; empty when [admin] token gives it
  bool generated = false;      // written at this start
};

// Start-up (blocking: reads or writes a file). Errors name the file and what is wrong with it
// (missing, empty, unreadable), never its content.
Result<AdminToken> load_or_create_token(const domain::Config& config);

// True when `authorization` (the header's value) is "Bearer <token>" with this token (RFC 6750
// §2.1; the scheme is case-insensitive). The comparison takes the same time wherever the first
// difference is: both sides are hashed (SHA-256) and the digests compared with CRYPTO_memcmp.
bool bearer_matches(std::string_view authorization, const base::SecretBytes& token) noexcept;

}  // namespace portcullis::admin
