// The TOML reader: portcullis.toml into domain::Config. Parsing is strict: an unknown key, a wrong
// type or a bad value is an error "file:line: key: expected ..., got ...", never silently ignored.
// The reference is docs/configuration.md; every file in examples/ must pass `portcullis check-config`.
#pragma once

#include <filesystem>
#include <string_view>

#include "base/error.hpp"
#include "domain/config.hpp"

namespace portcullis::app {

// Blocking (reads the file). Relative paths in the file are resolved against its directory.
Result<domain::Config> load_config(const std::filesystem::path& file);
// Parses TOML text; `filename` is used in messages only.
Result<domain::Config> parse_config(std::string_view text, std::string_view filename);
// The embedded defaults `portcullis run` uses without --config (see examples/portcullis.toml).
std::string_view embedded_config_text();

}  // namespace portcullis::app
