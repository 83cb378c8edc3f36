#include "proxy/request_target.hpp"

#include <catch2/catch.hpp>

using namespace portcullis::proxy;
namespace http = boost::beast::http;

TEST_CASE("a request target is classified by RFC 9112 §3.2 and the upstream gets origin-form",
          "[unit][proxy][target]") {
  struct Row {
    const char* what;
    http::verb method;
    const char* target;
    TargetProblem problem;
    TargetForm form = TargetForm::origin;
    const char* forward = "";    // what the upstream gets
    const char* authority = "";  // absolute-form: the canonical authority
  };
  using P = TargetProblem;
  using F = TargetForm;
  const Row rows[] = {
      {"origin-form", http::verb::get, "/a/b?c=d&e", P::none, F::origin, "/a/b?c=d&e"},
      {"origin-form with percent-encoding", http::verb::get, "/%7Euser/x%20y", P::none, F::origin, "/%7Euser/x%20y"},
      {"origin-form, an empty first segment", http::verb::get, "//x", P::none, F::origin, "//x"},
      {"bad percent-encoding", http::verb::get, "/a%zz", P::malformed},
      {"a quote in the path", http::verb::get, "/a\"b", P::malformed},
      {"absolute-form", http::verb::get, "http://App.Example.com/x?y=1", P::none, F::absolute, "/x?y=1",
       "app.example.com"},
      {"absolute-form https with a port", http::verb::post, "HTTPS://app.example.com:8443/", P::none, F::absolute, "/",
       "app.example.com:8443"},
      {"absolute-form, empty path", http::verb::get, "http://app.example.com", P::none, F::absolute, "/",
       "app.example.com"},
      {"absolute-form, empty path with a query", http::verb::get, "http://app.example.com?q", P::none, F::absolute,
       "/?q", "app.example.com"},
      {"absolute-form OPTIONS, empty path: asterisk (§3.2.4)", http::verb::options, "http://app.example.com:80",
       P::none, F::absolute, "*", "app.example.com:80"},
      {"absolute-form IPv6", http::verb::get, "http://[::1]:8080/p", P::none, F::absolute, "/p", "[::1]:8080"},
      {"absolute-form with userinfo", http::verb::get, "http://user@app.example.com/", P::malformed},
      {"absolute-form with a fragment", http::verb::get, "http://app.example.com/#f", P::malformed},
      {"absolute-form, port 0", http::verb::get, "http://app.example.com:0/", P::malformed},
      {"absolute-form, port 65536", http::verb::get, "http://app.example.com:65536/", P::malformed},
      {"absolute-form, empty host", http::verb::get, "http:///x", P::malformed},
      {"absolute-form, another scheme", http::verb::get, "ftp://app.example.com/", P::malformed},
      {"absolute-form, no authority", http::verb::get, "http:/x", P::malformed},
      {"absolute-form, text after the port", http::verb::get, "http://a:443p//x.example.com", P::malformed},
      {"absolute-form, a host no DNS name has", http::verb::get, "http://a,b.example.com/", P::malformed},
      {"authority-form without CONNECT", http::verb::get, "app.example.com:443", P::malformed},
      {"CONNECT with authority-form", http::verb::connect, "app.example.com:443", P::connect_refused},
      {"CONNECT with anything", http::verb::connect, "/", P::connect_refused},
      {"asterisk with OPTIONS", http::verb::options, "*", P::none, F::asterisk, "*"},
      {"asterisk with GET", http::verb::get, "*", P::malformed},
      {"empty", http::verb::get, "", P::malformed},
      {"a bare word", http::verb::get, "index.html", P::malformed},
  };
  for (const auto& row : rows) {
    INFO(row.what << ": " << row.target);
    RequestTarget target;
    std::string_view why;
    const auto problem = parse_request_target(row.method, row.target, target, &why);
    REQUIRE(problem == row.problem);
    if (problem != P::none) {
      CHECK(!why.empty());
      continue;
    }
    CHECK(target.form == row.form);
    CHECK(target.forward() == row.forward);
    if (row.form == F::absolute) {
      REQUIRE(target.authority);
      CHECK(target.authority->text() == row.authority);
    } else {
      CHECK(!target.authority);
    }
  }
}
