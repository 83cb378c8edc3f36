// Router: the admin API's routes as data — method, path pattern ("/api/v1/endpoints/{id}"), whether
// the bearer token is required, and the handler — matched against a request's path. The route list
// is also what the OpenAPI document is checked against.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "admin/problem.hpp"

namespace portcullis::admin {

// The values of a matched pattern's {name} segments, and the request's query parameters.
struct RouteParams {
  std::map<std::string, std::string, std::less<>> path;
  std::map<std::string, std::string, std::less<>> query;
  // A path parameter the pattern has (a route's handler only asks for its own).
  const std::string& operator[](std::string_view name) const { return path.find(name)->second; }
};

using Handler = std::function<boost::asio::awaitable<Response>(const Request& request, const RouteParams& params)>;

struct Route {
  http::verb method = http::verb::get;
  std::string pattern;       // "/api/v1/endpoints/{id}": literal segments and {name} segments
  bool needs_token = true;
  Handler handler;
};

class Router {
 public:
  // Adds a route. A pattern is absolute, and each {name} is a whole segment.
  void add(http::verb method, std::string pattern, bool needs_token, Handler handler);

  struct Match {
    const Route* route = nullptr;     // the route for this method and path, or none
    RouteParams params;               // when `route`: its path parameters (query not filled here)
    std::vector<http::verb> allowed;  // the methods the path has: none = 404, some but not this = 405
  };
  // `path` is the decoded path without the query. A {name} segment matches one non-empty
  // segment; a trailing slash is a different path. Pure.
  Match match(http::verb method, std::string_view path) const;

  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  std::vector<Route> routes_;
};

// "GET, PATCH" for an Allow header.
std::string allow_header(const std::vector<http::verb>& methods);

}  // namespace portcullis::admin
