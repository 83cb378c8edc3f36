// Durable file writes: temp file in the same directory -> write -> fsync -> rename -> fsync dir.
// Used for every file Portcullis writes (keys 0600, certificates).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "base/error.hpp"
#include "base/secret_bytes.hpp"

namespace portcullis::base {

// Blocking: call from the storage pool or at start-up. Creates the file with `mode` from the
// start (never briefly world-readable). Error messages name the path, never the content.
Status write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode);
inline Status write_secret_file(const std::filesystem::path& path, const SecretBytes& content) {
  return write_file_atomic(path, content.reveal(), 0600);
}

// Reads a whole file; "path: No such file or directory" style errors.
Result<std::string> read_file(const std::filesystem::path& path);
Result<SecretBytes> read_secret_file(const std::filesystem::path& path);
// read_secret_file for a file only its owner may read (a private key, a token): a file the group
// or others may read or write is refused with Errc::config naming the file, its mode and the fix.
Result<SecretBytes> read_private_file(const std::filesystem::path& path);

}  // namespace portcullis::base
