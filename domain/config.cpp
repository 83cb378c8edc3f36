#include "domain/config.hpp"

namespace portcullis::domain {

std::filesystem::path Config::resolve(const std::filesystem::path& p) const {
  // "<embedded>" and other bracketed sources are not files: their paths are relative to the cwd.
  if (p.empty() || p.is_absolute() || source.empty() || source.native().starts_with('<')) return p;
  return source.parent_path() / p;
}

}  // namespace portcullis::domain
