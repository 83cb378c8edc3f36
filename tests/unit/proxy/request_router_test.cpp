#include "proxy/request_router.hpp"

#include <catch2/catch.hpp>

using namespace portcullis::domain;
using namespace portcullis::proxy;
namespace http = boost::beast::http;

namespace {

EndpointConfig endpoint(std::string id, std::vector<std::string> names, Scope scope = Scope::external,
                        std::vector<std::string> allow = {}) {
  EndpointConfig e;
  e.id = std::move(id);
  e.hostnames = std::move(names);
  e.scope = scope;
  e.upstreams = {HostPort{"127.0.0.1", 9000}};
  for (const auto& cidr : allow) e.ip_allowlist.push_back(*Cidr::parse(cidr));
  return e;
}

RouteTable make_table() {
  return RouteTable(
      {
          endpoint("app", {"app.example.com", "www.example.com"}),
          endpoint("other", {"other.example.com"}),
          endpoint("wild", {"*.wild.example.com"}),
          endpoint("office", {"office.example.com"}, Scope::external, {"10.0.0.0/8", "2001:db8::/32"}),
          endpoint("int", {"svc.internal.example"}, Scope::internal),
      },
      {});
}

struct Row {
  const char* what;
  RouteQuery query;
  RouteAction action;
  const char* endpoint = "";  // proxy: the endpoint's id
  const char* host = "";      // the normalised host the decision carries
};

RouteQuery tls(std::string_view host, std::string_view sni, const char* peer = "192.0.2.7",
               Scope scope = Scope::external) {
  RouteQuery q;
  q.host_header = host;
  q.sni = sni;
  q.target = "/index.html";
  q.scope = scope;
  q.peer = boost::asio::ip::make_address(peer);
  return q;
}

RouteQuery with(RouteQuery q, std::size_t host_fields, unsigned version) {
  q.host_fields = host_fields;
  q.version = version;
  return q;
}

}  // namespace

TEST_CASE("the router decides every TLS request as the session always has", "[unit][proxy][router]") {
  using A = RouteAction;
  const Row rows[] = {
      {"Host and SNI name the same endpoint", tls("app.example.com", "app.example.com"), A::proxy, "app",
       "app.example.com"},
      {"Host and SNI are two names of one endpoint", tls("www.example.com", "app.example.com"), A::proxy, "app",
       "www.example.com"},
      {"no SNI: the Host alone routes", tls("app.example.com", ""), A::proxy, "app", "app.example.com"},
      {"Host in upper case", tls("APP.Example.COM", "app.example.com"), A::proxy, "app", "app.example.com"},
      {"Host with a trailing dot", tls("app.example.com.", "app.example.com"), A::proxy, "app", "app.example.com"},
      {"Host with a port", tls("app.example.com:8443", "app.example.com"), A::proxy, "app", "app.example.com"},
      {"Host under a wildcard", tls("x.wild.example.com", "x.wild.example.com"), A::proxy, "wild",
       "x.wild.example.com"},
      {"Host names another endpoint than SNI chose", tls("other.example.com", "app.example.com"), A::misdirected, "",
       "other.example.com"},
      {"SNI names no endpoint (fallback certificate)", tls("app.example.com", "edge.example.net"), A::misdirected,
       "", "app.example.com"},
      {"Host names no endpoint", tls("nobody.example.com", "app.example.com"), A::unknown_host, "",
       "nobody.example.com"},
      {"wildcard covers one label only", tls("a.b.wild.example.com", ""), A::unknown_host, "",
       "a.b.wild.example.com"},
      {"IPv6 literal Host", tls("[2001:db8::1]:443", ""), A::unknown_host, "", "2001:db8::1"},
      {"internal endpoint on an external listener", tls("svc.internal.example", "svc.internal.example"),
       A::unknown_host, "", "svc.internal.example"},
      {"internal endpoint on an internal listener",
       tls("svc.internal.example", "svc.internal.example", "192.0.2.7", Scope::internal), A::proxy, "int",
       "svc.internal.example"},
      {"external endpoint on an internal listener",
       tls("app.example.com", "app.example.com", "192.0.2.7", Scope::internal), A::unknown_host, "",
       "app.example.com"},
      {"allowlist holds the IPv4 client", tls("office.example.com", "office.example.com", "10.1.2.3"), A::proxy,
       "office", "office.example.com"},
      {"allowlist holds the IPv6 client", tls("office.example.com", "office.example.com", "2001:db8::5"), A::proxy,
       "office", "office.example.com"},
      {"allowlist does not hold the client", tls("office.example.com", "office.example.com", "192.0.2.7"),
       A::forbidden, "", "office.example.com"},
      {"allowlist checked for a client without SNI", tls("office.example.com", "", "192.0.2.7"), A::forbidden, "",
       "office.example.com"},
      {"HTTP/1.1 without Host", with(tls("", ""), 0, 11), A::bad_host},
      {"two Host fields", with(tls("app.example.com", ""), 2, 11), A::bad_host},
      {"Host that is not a host name", tls("a b", ""), A::bad_host},
      {"bare IPv6 Host without brackets", tls("2001:db8::1", ""), A::bad_host},
      {"HTTP/1.0 with an invalid Host", with(tls("evil/path", ""), 1, 10), A::bad_host},
      {"HTTP/1.0 without Host names no endpoint", with(tls("", ""), 0, 10), A::unknown_host},
  };
  const RouteTable routes = make_table();
  for (const auto& row : rows) {
    INFO(row.what);
    const auto decision = route_request(row.query, routes);
    CHECK(decision.action == row.action);
    CHECK(decision.host == row.host);
    if (row.action == A::proxy) {
      REQUIRE(decision.endpoint != nullptr);
      CHECK(decision.endpoint->id == row.endpoint);
    } else {
      CHECK(decision.endpoint == nullptr);
    }
  }
}

TEST_CASE("the router answers challenges and redirects on the plain listener", "[unit][proxy][router]") {
  struct PlainRow {
    const char* what;
    std::string_view host;
    std::string_view target;
    std::uint16_t redirect_port;
    RouteAction action;
    std::string_view out;  // the token or the Location
    std::size_t host_fields = 1;
    unsigned version = 11;
    http::verb method = http::verb::get;
  };
  using A = RouteAction;
  const PlainRow rows[] = {
      {"challenge path", "app.example.com", "/.well-known/acme-challenge/tok-1", 443, A::acme_challenge, "tok-1"},
      {"challenge path with a query", "app.example.com", "/.well-known/acme-challenge/tok-1?x=1", 443,
       A::acme_challenge, "tok-1"},
      {"challenge for a name no endpoint has", "nobody.test", "/.well-known/acme-challenge/t", 443, A::acme_challenge,
       "t"},
      {"anything else redirects", "App.Example.com:80", "/a?b=c", 443, A::redirect_https,
       "https://app.example.com/a?b=c"},
      {"redirect to another https port", "app.example.com", "/", 8443, A::redirect_https,
       "https://app.example.com:8443/"},
      {"IPv6 literal goes back into brackets", "[::1]:80", "/x", 443, A::redirect_https, "https://[::1]/x"},
      {"OPTIONS * redirects to /", "app.example.com", "*", 443, A::redirect_https, "https://app.example.com/", 1, 11,
       http::verb::options},
      {"asterisk-form with GET", "app.example.com", "*", 443, A::bad_target, ""},
      {"absolute-form: its path and query", "app.example.com", "http://app.example.com/a?b", 443, A::redirect_https,
       "https://app.example.com/a?b"},
      {"absolute-form: its authority names the host", "", "http://app.example.com/a", 443, A::redirect_https,
       "https://app.example.com/a", 0, 10},
      {"absolute-form: the challenge path", "app.example.com", "http://app.example.com/.well-known/acme-challenge/t2",
       443, A::acme_challenge, "t2"},
      {"absolute-form naming another host than Host", "app.example.com", "http://evil.example/a", 443,
       A::host_mismatch, ""},
      {"CONNECT", "app.example.com:443", "app.example.com:443", 443, A::not_allowed, "", 1, 11, http::verb::connect},
      {"a Host that would break out of Forwarded", "app.example.com:1\",for=6.6.6.6", "/", 443, A::bad_host, ""},
      {"HTTP/1.0 without Host: no name to redirect to", "", "/x", 443, A::bad_host, "", 0, 10},
      {"HTTP/1.0 without Host still gets its challenge token", "", "/.well-known/acme-challenge/t", 443,
       A::acme_challenge, "t", 0, 10},
      {"HTTP/1.1 without Host", "", "/x", 443, A::bad_host, "", 0, 11},
  };
  const RouteTable routes = make_table();
  for (const auto& row : rows) {
    INFO(row.what);
    RouteQuery q;
    q.tls = false;
    q.host_header = row.host;
    q.host_fields = row.host_fields;
    q.version = row.version;
    q.method = row.method;
    q.target = row.target;
    q.redirect_port = row.redirect_port;
    q.peer = boost::asio::ip::make_address("192.0.2.7");
    const auto decision = route_request(q, routes);
    CHECK(decision.action == row.action);
    CHECK(decision.endpoint == nullptr);
    if (row.action == A::acme_challenge) CHECK(decision.token == row.out);
    if (row.action == A::redirect_https) CHECK(decision.location == row.out);
  }
}

TEST_CASE("the plain listener holds an endpoint's allowlist on every path, the challenge path included",
          "[unit][proxy][router]") {
  struct AllowRow {
    const char* what;
    std::string_view host;
    std::string_view target;
    const char* peer;
    Scope scope;
    RouteAction action;
  };
  using A = RouteAction;
  const AllowRow rows[] = {
      {"outside the allowlist: no redirect", "office.example.com", "/a", "192.0.2.7", Scope::external, A::forbidden},
      {"outside the allowlist: no challenge answer", "office.example.com", "/.well-known/acme-challenge/t",
       "192.0.2.7", Scope::external, A::forbidden},
      {"outside the allowlist, Host with a port and in upper case", "OFFICE.example.com:80", "/", "192.0.2.7",
       Scope::external, A::forbidden},
      {"inside the allowlist (IPv4): redirected", "office.example.com", "/a", "10.9.8.7", Scope::external,
       A::redirect_https},
      {"inside the allowlist (IPv6): redirected", "office.example.com", "/a", "2001:db8::9", Scope::external,
       A::redirect_https},
      {"inside the allowlist: the challenge path is answered", "office.example.com",
       "/.well-known/acme-challenge/t", "10.9.8.7", Scope::external, A::acme_challenge},
      {"an open endpoint: anyone is redirected", "app.example.com", "/a", "192.0.2.7", Scope::external,
       A::redirect_https},
      {"a name no endpoint claims keeps the plain rules", "nobody.example.com", "/a", "192.0.2.7", Scope::external,
       A::redirect_https},
      {"an allowlisted endpoint of the other scope is invisible", "office.example.com", "/a", "192.0.2.7",
       Scope::internal, A::redirect_https},
  };
  const RouteTable routes = make_table();
  for (const auto& row : rows) {
    INFO(row.what);
    RouteQuery q;
    q.tls = false;
    q.host_header = row.host;
    q.target = row.target;
    q.scope = row.scope;
    q.peer = boost::asio::ip::make_address(row.peer);
    const auto decision = route_request(q, routes);
    CHECK(decision.action == row.action);
    CHECK(decision.endpoint == nullptr);
    if (row.action == A::forbidden) {
      CHECK(decision.host == "office.example.com");
      CHECK(decision.location.empty());
      CHECK(decision.token.empty());
    }
  }
}

TEST_CASE("each rejection of the router has its status and text", "[unit][proxy][router]") {
  CHECK(reply_for(RouteAction::bad_host).status == http::status::bad_request);
  CHECK(reply_for(RouteAction::bad_host).body == "missing or invalid Host\n");
  CHECK(reply_for(RouteAction::unknown_host).status == http::status::not_found);
  CHECK(reply_for(RouteAction::unknown_host).body == "unknown host\n");
  CHECK(reply_for(RouteAction::misdirected).status == http::status::misdirected_request);
  CHECK(reply_for(RouteAction::misdirected).body == "misdirected request\n");
  CHECK(reply_for(RouteAction::forbidden).status == http::status::forbidden);
  CHECK(reply_for(RouteAction::forbidden).body == "forbidden\n");
}

TEST_CASE("an absolute-form target's authority is the host and passes every check Host passes",
          "[unit][proxy][router][target]") {
  struct TargetRow {
    const char* what;
    std::string_view host;  // "" with host_fields 0
    std::string_view target;
    std::string_view sni;
    RouteAction action;
    const char* forward = "";    // proxy: the target the upstream gets ("" = as received)
    const char* authority = "";  // proxy: what Host and the forwarding fields carry
    http::verb method = http::verb::get;
    unsigned version = 11;
    const char* peer = "192.0.2.7";
  };
  using A = RouteAction;
  const TargetRow rows[] = {
      {"origin-form: Host routes", "app.example.com", "/x", "app.example.com", A::proxy, "", "app.example.com"},
      {"absolute-form matching Host: origin-form upstream", "app.example.com", "http://app.example.com/x?y",
       "app.example.com", A::proxy, "/x?y", "app.example.com"},
      {"absolute-form https with the Host's port", "app.example.com:8443", "https://APP.example.com:8443/",
       "app.example.com", A::proxy, "/", "app.example.com:8443"},
      {"absolute-form without a port, Host with one", "app.example.com:8443", "https://app.example.com/p",
       "app.example.com", A::proxy, "/p", "app.example.com"},
      {"absolute-form naming another endpoint than Host", "app.example.com", "http://other.example.com/admin",
       "app.example.com", A::host_mismatch},
      {"absolute-form naming an internal endpoint", "app.example.com", "http://svc.internal.example/admin",
       "app.example.com", A::host_mismatch},
      {"absolute-form and Host both name another endpoint than SNI", "other.example.com",
       "http://other.example.com/admin", "app.example.com", A::misdirected},
      {"absolute-form and Host both name an internal endpoint", "svc.internal.example",
       "http://svc.internal.example/admin", "", A::unknown_host},
      {"absolute-form to an allowlisted endpoint from outside", "office.example.com",
       "http://office.example.com/", "office.example.com", A::forbidden},
      {"ports differ", "app.example.com:8443", "https://app.example.com:443/", "app.example.com", A::host_mismatch},
      {"HTTP/1.0 without Host: the authority routes", "", "http://app.example.com/old", "app.example.com", A::proxy,
       "/old", "app.example.com", http::verb::get, 10},
      {"HTTP/1.1 without Host, absolute-form", "", "http://app.example.com/", "app.example.com", A::bad_host},
      {"absolute-form with a bad port", "app.example.com", "http://app.example.com:0/", "app.example.com",
       A::bad_target},
      {"absolute-form with userinfo", "app.example.com", "http://u:p@app.example.com/", "app.example.com",
       A::bad_target},
      {"authority-form with GET", "app.example.com", "app.example.com:443", "app.example.com", A::bad_target},
      {"CONNECT", "app.example.com", "app.example.com:443", "app.example.com", A::not_allowed, "", "",
       http::verb::connect},
      {"asterisk with GET", "app.example.com", "*", "app.example.com", A::bad_target},
      {"asterisk with OPTIONS is relayed as is", "app.example.com", "*", "app.example.com", A::proxy, "",
       "app.example.com", http::verb::options},
      {"absolute-form OPTIONS with an empty path: asterisk", "app.example.com", "http://app.example.com",
       "app.example.com", A::proxy, "*", "app.example.com", http::verb::options},
      {"Host with a quote and a Forwarded parameter", "app.example.com:1\",for=6.6.6.6", "/", "app.example.com",
       A::bad_host},
      {"Host port 0", "app.example.com:0", "/", "app.example.com", A::bad_host},
      {"Host port 65536", "app.example.com:65536", "/", "app.example.com", A::bad_host},
      {"Host port in letters", "app.example.com:https", "/", "app.example.com", A::bad_host},
      {"Host with a comma", "app.example.com,evil", "/", "app.example.com", A::bad_host},
      {"Host in upper case is canonical downstream", "APP.example.com:443", "/", "app.example.com", A::proxy, "",
       "app.example.com:443"},
  };
  const RouteTable routes = make_table();
  for (const auto& row : rows) {
    INFO(row.what);
    RouteQuery q = tls(row.host, row.sni, row.peer);
    q.host_fields = row.host.empty() ? 0 : 1;
    q.target = row.target;
    q.method = row.method;
    q.version = row.version;
    const auto decision = route_request(q, routes);
    CHECK(decision.action == row.action);
    if (row.action == A::proxy) {
      REQUIRE(decision.endpoint != nullptr);
      CHECK(decision.forward_target == row.forward);
      CHECK(decision.authority == row.authority);
    } else {
      CHECK(decision.endpoint == nullptr);
      CHECK(decision.forward_target.empty());
    }
    if (row.action == A::bad_target || row.action == A::bad_host || row.action == A::host_mismatch ||
        row.action == A::not_allowed) {
      CHECK(!decision.why.empty());
    }
  }
}

TEST_CASE("the request target's rejections have their status and text", "[unit][proxy][router][target]") {
  CHECK(reply_for(RouteAction::bad_target).status == http::status::bad_request);
  CHECK(reply_for(RouteAction::not_allowed).status == http::status::method_not_allowed);
  CHECK(reply_for(RouteAction::host_mismatch).status == http::status::bad_request);
  CHECK(reply_for(RouteAction::host_mismatch).body == "Host does not match the request target\n");
}
