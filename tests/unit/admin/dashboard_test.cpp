#include "admin/dashboard.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <string>

using portcullis::admin::dashboard_files;
using portcullis::admin::dashboard_response;
using portcullis::admin::DashboardFile;

namespace {

const DashboardFile* file(std::string_view path) {
  for (const auto& f : dashboard_files())
    if (f.path == path) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("the dashboard's page, style sheet and script are embedded with their content types", "[unit][admin]") {
  REQUIRE(dashboard_files().size() == 3);
  REQUIRE(file("/"));
  REQUIRE(file("/dashboard.css"));
  REQUIRE(file("/dashboard.js"));
  CHECK(file("/")->content_type == "text/html; charset=utf-8");
  CHECK(file("/dashboard.css")->content_type == "text/css; charset=utf-8");
  CHECK(file("/dashboard.js")->content_type == "text/javascript; charset=utf-8");
  CHECK(file("/")->body.find("<script src=\"/dashboard.js\"") != std::string_view::npos);
  CHECK(file("/dashboard.js")->body.find("sessionStorage") != std::string_view::npos);
}

TEST_CASE("the dashboard needs nothing its content security policy forbids", "[unit][admin]") {
  const std::string html(file("/")->body);
  // No inline script or style, no event handler attribute, nothing from another host.
  CHECK_FALSE(std::regex_search(html, std::regex("<script(?![^>]*\\bsrc=)[^>]*>")));
  CHECK_FALSE(std::regex_search(html, std::regex("<style|\\sstyle=|\\son[a-z]+=", std::regex::icase)));
  for (const auto& f : dashboard_files()) {
    INFO(f.path);
    CHECK_FALSE(std::regex_search(std::string(f.body), std::regex("(src|href|url)\\s*[=(]\\s*[\"']?(https?:)?//")));
    CHECK(std::string(f.body).find("innerHTML") == std::string::npos);
  }
}

TEST_CASE("a dashboard file is served with a strict content security policy", "[unit][admin]") {
  auto res = dashboard_response(*file("/"), 11, true);
  CHECK(res.result_int() == 200);
  CHECK(res[boost::beast::http::field::content_type] == "text/html; charset=utf-8");
  const std::string csp(res["Content-Security-Policy"]);
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(res["X-Content-Type-Options"] == "nosniff");
  CHECK(res.body() == file("/")->body);
}
