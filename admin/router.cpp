#include "admin/router.hpp"

#include <algorithm>

namespace portcullis::admin {
namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// True when `path` fits `pattern`, with the parameters into `params`.
bool fits(std::string_view pattern, std::string_view path, RouteParams& params) {
  const auto want = segments(pattern), have = segments(path);
  if (want.size() != have.size() || have.empty()) return false;
  RouteParams found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (is_parameter(want[i])) {
      if (have[i].empty()) return false;
      found.path.emplace(std::string(want[i].substr(1, want[i].size() - 2)), std::string(have[i]));
    } else if (want[i] != have[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

}  // namespace

void Router::add(http::verb method, std::string pattern, bool needs_token, Handler handler) {
  routes_.push_back({method, std::move(pattern), needs_token, std::move(handler)});
}

Router::Match Router::match(http::verb method, std::string_view path) const {
  Match m;
  for (const auto& route : routes_) {
    RouteParams params;
    if (!fits(route.pattern, path, params)) continue;
    if (std::find(m.allowed.begin(), m.allowed.end(), route.method) == m.allowed.end()) {
      m.allowed.push_back(route.method);
    }
    if (route.method == method && !m.route) {
      m.route = &route;
      m.params = std::move(params);
    }
  }
  return m;
}

std::string allow_header(const std::vector<http::verb>& methods) {
  std::string out;
  for (auto m : methods) {
    if (!out.empty()) out += ", ";
    out += std::string(http::to_string(m));
    // Every GET route answers HEAD too (AdminServer).
    if (m == http::verb::get) out += ", HEAD";
  }
  return out;
}

}  // namespace portcullis::admin
