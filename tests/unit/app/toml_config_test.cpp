#include "app/toml_config.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "domain/platform_certificate.hpp"
#include "domain/records.hpp"
#include "tests/support/process.hpp"

using namespace portcullis::domain;
using namespace portcullis::app;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// One string per line, so a test names line numbers by position: lines[0] is line 1.
std::string lines(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto line : items) out.append(line).push_back('\n');
  return out;
}

// Lines 1-3 of most inputs below: the one listener a valid file needs.
constexpr std::string_view listener_name = "[[listener]]";
constexpr std::string_view listener_https = "name = \"https\"";
constexpr std::string_view listener_addr = "address = \"127.0.0.1:8443\"";

Config parsed(const std::string& text) {
  auto cfg = parse_config(text, "t.toml");
  INFO(text);
  INFO((cfg ? std::string() : cfg.error().message()));
  REQUIRE(cfg);
  return *cfg;
}

std::string error_of(const std::string& text) {
  auto cfg = parse_config(text, "t.toml");
  INFO(text);
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().code() == portcullis::Errc::config);
  return cfg.error().message();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const fs::path source_dir = portcullis::testing::source_dir();

}  // namespace

TEST_CASE("the embedded defaults are examples/portcullis.toml byte for byte", "[unit][proxy]") {
  CHECK(std::string(embedded_config_text()) == read_file(source_dir / "examples" / "portcullis.toml"));
}

TEST_CASE("every example configuration loads", "[unit][proxy]") {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(source_dir / "examples")) {
    if (entry.path().extension() != ".toml") continue;
    ++count;
    auto cfg = load_config(entry.path());
    INFO(entry.path().string() << ": " << (cfg ? "" : cfg.error().message()));
    CHECK(cfg);
    if (cfg) {
      CHECK(cfg->source == entry.path());
      CHECK_FALSE(cfg->listeners.empty());
      CHECK_FALSE(cfg->endpoints.empty());
    }
  }
  CHECK(count >= 4);
}

TEST_CASE("the embedded defaults describe the make-run demo", "[unit][proxy]") {
  Config cfg = parsed(std::string(embedded_config_text()));
  CHECK(cfg.server.data_dir == "var");
  CHECK(cfg.server.workers == 0);
  CHECK(cfg.server.log_level == "info");
  CHECK(cfg.server.log_format == "text");
  CHECK_FALSE(cfg.admin.metrics_public);

  REQUIRE(cfg.listeners.size() == 3);
  CHECK(cfg.listeners[0].name == "https");
  CHECK(cfg.listeners[0].address.to_string() == "127.0.0.1:8443");
  CHECK(cfg.listeners[0].protocol == Protocol::https);
  CHECK(cfg.listeners[0].scope == Scope::external);
  CHECK(cfg.listeners[1].name == "http");
  CHECK(cfg.listeners[1].address.to_string() == "127.0.0.1:8080");
  CHECK(cfg.listeners[1].protocol == Protocol::http);
  CHECK(cfg.listeners[1].scope == Scope::external);
  CHECK(cfg.listeners[2].name == "internal");
  CHECK(cfg.listeners[2].address.to_string() == "127.0.0.1:8444");
  CHECK(cfg.listeners[2].protocol == Protocol::https);
  CHECK(cfg.listeners[2].scope == Scope::internal);

  CHECK(cfg.demo.enabled);
  CHECK(cfg.demo.listen.to_string() == "127.0.0.1:9901");
  CHECK(cfg.admin.enabled);
  CHECK(cfg.admin.listen.to_string() == "127.0.0.1:9900");
  CHECK(cfg.admin.token_file.empty());
  CHECK_FALSE(cfg.acme.enabled);
  CHECK(cfg.tls.default_cert.empty());
  CHECK(cfg.certificates.empty());

  REQUIRE(cfg.endpoints.size() == 2);
  const auto& demo = cfg.endpoints[0];
  CHECK(demo.id == "demo");
  CHECK(demo.hostnames == std::vector<std::string>{"localhost", "demo.localhost"});
  REQUIRE(demo.upstreams.size() == 1);
  CHECK(demo.upstreams[0].to_string() == "127.0.0.1:9901");
  CHECK(demo.ip_allowlist.empty());
  CHECK(demo.managed_https);  // ordered only when a CA is configured (make run)

  // The DNS-01 half of the demo: a platform zone on a local port, the resolver make run starts,
  // no fallback_cert (so the platform wildcard is the fallback), and an internal endpoint whose
  // name is in the zone (proved in our own zone, no record to create).
  CHECK(cfg.dns.enabled);
  CHECK(cfg.dns.zone == "portcullis.test");
  REQUIRE(cfg.dns.listen.size() == 1);
  CHECK(cfg.dns.listen[0].to_string() == "127.0.0.1:8053");
  REQUIRE(cfg.dns.resolver);
  CHECK(cfg.dns.resolver->to_string() == "127.0.0.1:8054");
  CHECK(cfg.dns.internal_addresses == std::vector<std::string>{"127.0.0.1"});
  CHECK(cfg.tls.fallback_cert.empty());
  CHECK(fallback_source(cfg) == FallbackSource::platform_wildcard);
  const auto& wiki = cfg.endpoints[1];
  CHECK(wiki.id == "wiki");
  CHECK(wiki.scope == Scope::internal);
  CHECK(wiki.managed_https);
  REQUIRE(wiki.hostnames.size() == 1);
  CHECK(in_platform_zone(wiki.hostnames[0], cfg.dns.zone));
  CHECK(records_for_endpoint(wiki, cfg.dns.zone).empty());

  SECTION("and its relative paths resolve against the working directory") {
    cfg.source = "<embedded>";
    CHECK(cfg.resolve(cfg.server.data_dir) == fs::path("var"));
  }
}

TEST_CASE("a minimal file takes every documented default", "[unit][proxy]") {
  Config cfg = parsed(read_file(source_dir / "examples" / "minimal.toml"));
  const ServerConfig server;
  CHECK(cfg.server.data_dir == server.data_dir);
  CHECK(cfg.server.workers == 0);
  CHECK(cfg.server.log_level == "info");
  CHECK(cfg.listeners[0].protocol == Protocol::https);
  CHECK(cfg.listeners[0].scope == Scope::external);
  CHECK(cfg.tls.min_version == "1.2");
  CHECK(cfg.tls.fallback_cert.empty());
  CHECK(cfg.limits.handshake_timeout == 10s);
  CHECK(cfg.limits.header_timeout == 30s);
  CHECK(cfg.limits.idle_timeout == 60s);
  CHECK(cfg.limits.upstream_connect_timeout == 5s);
  CHECK(cfg.limits.upstream_timeout == 60s);
  CHECK(cfg.limits.drain_timeout == 30s);
  CHECK(cfg.limits.max_header_bytes == 16 * 1024);
  CHECK(cfg.limits.max_connections == 20'000);
  CHECK_FALSE(cfg.acme.enabled);
  CHECK_FALSE(cfg.demo.enabled);
  REQUIRE(cfg.endpoints.size() == 1);
  CHECK(cfg.endpoints[0].scope == Scope::external);
  CHECK(cfg.endpoints[0].managed_https);
  CHECK(cfg.endpoints[0].ip_allowlist.empty());
}

TEST_CASE("the platform example reads every section", "[unit][proxy]") {
  auto cfg = load_config(source_dir / "examples" / "platform.toml");
  REQUIRE(cfg);
  CHECK(cfg->listeners.size() == 4);
  CHECK(cfg->listeners[1].address.host == "::");
  CHECK(cfg->listeners[3].scope == Scope::internal);
  CHECK(cfg->tls.fallback_cert == "/etc/portcullis/edge.example.net.crt");
  CHECK(cfg->certificates.size() == 1);
  CHECK(cfg->limits.idle_timeout == 2min);
  CHECK(cfg->limits.upstream_timeout == 90s);
  CHECK(cfg->limits.max_header_bytes == 32 * 1024);
  CHECK(cfg->endpoints.size() == 4);
  CHECK(cfg->endpoints[1].ip_allowlist.size() == 3);
  CHECK(cfg->endpoints[2].scope == Scope::internal);
  CHECK(cfg->endpoints[2].hostnames[1] == "*.wiki.corp.example.com");
  CHECK(cfg->endpoints[3].upstreams[0].to_string() == "[2001:db8::7]:8080");
  CHECK_FALSE(cfg->endpoints[3].managed_https);
  CHECK(cfg->acme.enabled);
  CHECK(cfg->acme.directory == "https://acme-v02.api.letsencrypt.org/directory");
  CHECK(cfg->acme.email == "ops@example.com");
  CHECK(cfg->acme.preferred_chain == "ISRG Root X1");
  CHECK(cfg->acme.renew_before_ratio == Approx(0.33));
}

TEST_CASE("relative paths resolve against the config file's directory", "[unit][proxy]") {
  Config cfg;
  cfg.source = "/etc/portcullis/portcullis.toml";
  CHECK(cfg.resolve("certs/a.pem") == fs::path("/etc/portcullis/certs/a.pem"));
  CHECK(cfg.resolve("/abs/a.pem") == fs::path("/abs/a.pem"));
  CHECK(cfg.resolve("") == fs::path());
  cfg.source = "portcullis.toml";
  CHECK(cfg.resolve("var") == fs::path("var"));
  cfg.source = "<embedded>";
  CHECK(cfg.resolve("var") == fs::path("var"));
}

TEST_CASE("an unknown key is an error that lists the known ones", "[unit][proxy]") {
  SECTION("in a section") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[server]", "wrokers = 2"})) ==
          "t.toml:5: server.wrokers: unknown key (known: data_dir, workers, log_level, log_format)");
  }
  SECTION("at the top level") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[servr]", "workers = 2"})) ==
          "t.toml:4: servr: unknown key (known: server, listener, tls, certificate, certificate_dir, limits, upstreams, "
          "endpoint, acme, dns, monitor, demo, admin, alerts)");
  }
  SECTION("in the second table of an array") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "", listener_name, "name = \"b\"",
                          "address = \"127.0.0.1:8444\"", "port = 80"})) ==
          "t.toml:8: listener[1].port: unknown key (known: name, address, protocol, scope)");
  }
  SECTION("a sub-table of a section") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[tls.extra]", "a = 1"})) ==
          "t.toml:4: tls.extra: unknown key (known: min_version, default_cert, default_key, fallback_cert, "
          "fallback_key)");
  }
  SECTION("in an endpoint") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[endpoint]]", "id = \"a\"",
                          "hostnames = [\"a.example.com\"]", "upstreams = [\"127.0.0.1:80\"]",
                          "allowlist = []"})) ==
          "t.toml:8: endpoint[0].allowlist: unknown key (known: id, hostnames, scope, upstreams, ip_allowlist, "
          "managed_https)");
  }
}

TEST_CASE("a value of the wrong type is an error that quotes it", "[unit][proxy]") {
  const auto with = [](std::string_view section, std::string_view line) {
    return error_of(lines({listener_name, listener_https, listener_addr, section, line}));
  };
  CHECK(with("[server]", "workers = \"four\"") ==
        "t.toml:5: server.workers: expected a number of worker threads from 0 (one per core) to 1024, got \"four\"");
  CHECK(with("[server]", "workers = -1") ==
        "t.toml:5: server.workers: expected a number of worker threads from 0 (one per core) to 1024, got -1");
  CHECK(with("[server]", "log_level = 3") ==
        "t.toml:5: server.log_level: expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", got 3");
  CHECK(with("[server]", "log_level = \"verbose\"") ==
        "t.toml:5: server.log_level: expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", got "
        "\"verbose\"");
  CHECK(with("[server]", "log_format = \"xml\"") ==
        "t.toml:5: server.log_format: expected \"text\" or \"json\", got \"xml\"");
  CHECK(with("[admin]", "metrics_public = \"yes\"") ==
        "t.toml:5: admin.metrics_public: expected true or false, got \"yes\"");
  CHECK(with("[server]", "data_dir = [\"a\"]") == "t.toml:5: server.data_dir: expected a file path, got an array");
  CHECK(with("[server]", "data_dir = \"\"") == "t.toml:5: server.data_dir: expected a file path, got \"\"");
  CHECK(with("[demo]", "enabled = \"yes\"") == "t.toml:5: demo.enabled: expected true or false, got \"yes\"");
  CHECK(with("[demo]", "listen = 9901") == "t.toml:5: demo.listen: expected \"ip:port\", got 9901");
  CHECK(with("[tls]", "min_version = 1.3") == "t.toml:5: tls.min_version: expected \"1.2\" or \"1.3\", got 1.3");
  CHECK(with("[tls]", "min_version = \"1.1\"") ==
        "t.toml:5: tls.min_version: expected \"1.2\" or \"1.3\", got \"1.1\"");

  SECTION("a section written as a value or an array") {
    CHECK(error_of(lines({"server = 1", listener_name, listener_https, listener_addr})) ==
          "t.toml:1: server: expected a table ([server]), got 1");
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[tls]]"})) ==
          "t.toml:4: tls: expected a table ([tls]), got an array");
  }
  SECTION("an array of tables written as a single table") {
    CHECK(error_of(lines({"[listener]", listener_https, listener_addr})) ==
          "t.toml:1: listener: expected an array of tables ([[listener]]), got a table");
  }
}

TEST_CASE("a TOML syntax error names the file, line and column", "[unit][proxy]") {
  CHECK(error_of(lines({"[server]", "workers = "})) ==
        "t.toml:2:11: missing value after key-value separator '=' (expected value, but got nothing)");
  CHECK(error_of(lines({"[server]", "workers = 1", "workers = 2"})) ==
        "t.toml:3:11: value (\"workers\") already exists (value defined twice)");
  CHECK(error_of(lines({"", "", "a = \"x"})).starts_with("t.toml:3:5: "));
}

TEST_CASE("listener addresses must be an IP address and a port", "[unit][proxy]") {
  const auto second_listener = [](std::string_view address) {
    return error_of(lines({listener_name, listener_https, listener_addr, "", listener_name, "name = \"b\"",
                           address}));
  };
  CHECK(second_listener("address = \"80\"") == "t.toml:7: listener[1].address: expected \"host:port\", got \"80\"");
  CHECK(second_listener("address = \"localhost:8080\"") ==
        "t.toml:7: listener[1].address: expected \"ip:port\" (an IP address to bind, \"[v6]:port\" for IPv6), got "
        "\"localhost:8080\"");
  CHECK(second_listener("address = \"::1:8080\"") ==
        "t.toml:7: listener[1].address: expected \"host:port\", got \"::1:8080\" (write an IPv6 address in "
        "brackets: \"[::1]:8080\")");
  CHECK(second_listener("address = \"127.0.0.1:70000\"") ==
        "t.toml:7: listener[1].address: expected \"host:port\", got \"127.0.0.1:70000\" (the port must be 1 to "
        "65535)");
  CHECK(second_listener("address = 8080") == "t.toml:7: listener[1].address: expected \"host:port\", got 8080");
  CHECK(second_listener("protocol = \"tcp\"") ==
        "t.toml:5: listener[1].address: expected \"host:port\", got nothing (the key is required)\n"
        "t.toml:7: listener[1].protocol: expected \"https\" or \"http\", got \"tcp\"");

  SECTION("IPv6 in brackets") {
    Config cfg = parsed(lines({listener_name, listener_https, "address = \"[::1]:8443\""}));
    CHECK(cfg.listeners[0].address.host == "::1");
    CHECK(cfg.listeners[0].address.port == 8443);
    CHECK(cfg.listeners[0].address.to_string() == "[::1]:8443");
  }
}

TEST_CASE("listener names and addresses are unique", "[unit][proxy]") {
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, listener_name, listener_https,
                        "address = \"127.0.0.1:8444\""})) ==
        "t.toml:5: listener[1].name: expected a unique listener name, got \"https\" (also listener[0].name, line 2)");
  CHECK(error_of(lines({listener_name, listener_https, "address = \"[::1]:8443\"", listener_name,
                        "name = \"b\"", "address = \"[0::1]:8443\""})) ==
        "t.toml:6: listener[1].address: expected an address no other listener uses, got \"[0::1]:8443\" (also "
        "listener[0].address, line 3)");
}

TEST_CASE("a configuration needs at least one listener", "[unit][proxy]") {
  CHECK(error_of(lines({"[server]", "workers = 1"})) ==
        "t.toml:1: listener: expected at least one [[listener]], got none");
  CHECK(error_of("listener = []\n") == "t.toml:1: listener: expected at least one [[listener]], got none");
  CHECK(error_of("") == "t.toml:1: listener: expected at least one [[listener]], got none");
}

TEST_CASE("certificate and key paths come in pairs", "[unit][proxy]") {
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[tls]", "default_cert = \"a.pem\""})) ==
        "t.toml:5: tls.default_cert: expected tls.default_key as well (both or neither), got default_cert alone");
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[tls]", "fallback_key = \"k.pem\""})) ==
        "t.toml:5: tls.fallback_key: expected tls.fallback_cert as well (both or neither), got fallback_key alone");
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[certificate]]", "cert_file = \"a.pem\""})) ==
        "t.toml:4: certificate[0].key_file: expected a file path (PEM private key), got nothing (the key is "
        "required)");

  SECTION("files need not exist to load") {
    Config cfg = parsed(lines({listener_name, listener_https, listener_addr, "[tls]", "default_cert = \"no/a.pem\"",
                               "default_key = \"no/a.key\"", "[[certificate]]", "cert_file = \"/no/b.pem\"",
                               "key_file = \"/no/b.key\""}));
    CHECK(cfg.tls.default_cert == "no/a.pem");
    CHECK(cfg.resolve(cfg.tls.default_key) == fs::path("no/a.key"));
    REQUIRE(cfg.certificates.size() == 1);
    CHECK(cfg.certificates[0].key_file == "/no/b.key");
  }
}

TEST_CASE("certificate folders are [[certificate_dir]] tables with a path", "[unit][proxy]") {
  SECTION("several folders, relative ones resolved against the file's directory") {
    Config cfg = parsed(lines({listener_name, listener_https, listener_addr, "[[certificate_dir]]",
                               "path = \"/etc/portcullis/certs\"", "[[certificate_dir]]", "path = \"more\""}));
    REQUIRE(cfg.certificate_dirs.size() == 2);
    CHECK(cfg.certificate_dirs[0].path == "/etc/portcullis/certs");
    CHECK(cfg.certificate_dirs[1].path == "more");
  }
  SECTION("the path is required") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[certificate_dir]]"})) ==
          "t.toml:4: certificate_dir[0].path: expected a folder path, got nothing (the key is required)");
  }
  SECTION("the path is a non-empty string") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[certificate_dir]]", "path = 3"})) ==
          "t.toml:5: certificate_dir[0].path: expected a folder path, got 3");
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[certificate_dir]]", "path = \"\""})) ==
          "t.toml:5: certificate_dir[0].path: expected a folder path, got \"\"");
  }
  SECTION("a folder named twice") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[certificate_dir]]", "path = \"/c\"",
                          "[[certificate_dir]]", "path = \"/c/\""})) ==
          "t.toml:7: certificate_dir[1].path: expected a folder no other [[certificate_dir]] names, got \"/c/\" "
          "(also certificate_dir[0].path, line 5)");
  }
  SECTION("an unknown key") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[certificate_dir]]", "path = \"/c\"",
                          "recursive = true"})) ==
          "t.toml:6: certificate_dir[0].recursive: unknown key (known: path)");
  }
  SECTION("not an array of tables") {
    CHECK(error_of(lines({"certificate_dir = \"/c\"", listener_name, listener_https, listener_addr})) ==
          "t.toml:1: certificate_dir: expected an array of tables ([[certificate_dir]]), got \"/c\"");
  }
}

TEST_CASE("durations are strings with a unit", "[unit][proxy]") {
  const auto limits = [](std::string_view line) {
    return lines({listener_name, listener_https, listener_addr, "[limits]", line});
  };
  CHECK(parsed(limits("handshake_timeout = \"500ms\"")).limits.handshake_timeout == 500ms);
  CHECK(parsed(limits("header_timeout = \"10s\"")).limits.header_timeout == 10s);
  CHECK(parsed(limits("idle_timeout = \"2m\"")).limits.idle_timeout == 2min);
  CHECK(parsed(limits("upstream_timeout = \"1h\"")).limits.upstream_timeout == 1h);
  CHECK(parsed(limits("drain_timeout = \"1m30s\"")).limits.drain_timeout == 90s);
  CHECK(parsed(limits("upstream_connect_timeout = \"1s500ms\"")).limits.upstream_connect_timeout == 1500ms);

  const std::string expected = "expected a duration such as \"10s\", \"500ms\", \"2m\" or \"1h\", got ";
  CHECK(error_of(limits("idle_timeout = 10")) == "t.toml:5: limits.idle_timeout: " + expected + "10");
  CHECK(error_of(limits("idle_timeout = \"10\"")) == "t.toml:5: limits.idle_timeout: " + expected + "\"10\"");
  CHECK(error_of(limits("idle_timeout = \"10 s\"")) == "t.toml:5: limits.idle_timeout: " + expected + "\"10 s\"");
  CHECK(error_of(limits("idle_timeout = \"1d\"")) == "t.toml:5: limits.idle_timeout: " + expected + "\"1d\"");
  CHECK(error_of(limits("idle_timeout = \"0s\"")) == "t.toml:5: limits.idle_timeout: " + expected + "\"0s\"");
  CHECK(error_of(limits("idle_timeout = \"-5s\"")) == "t.toml:5: limits.idle_timeout: " + expected + "\"-5s\"");
  CHECK(error_of(limits("idle_timeout = \"99999999999h\"")) ==
        "t.toml:5: limits.idle_timeout: " + expected + "\"99999999999h\"");
}

TEST_CASE("sizes are integers or strings with a binary unit", "[unit][proxy]") {
  const auto limits = [](std::string_view line) {
    return lines({listener_name, listener_https, listener_addr, "[limits]", line});
  };
  CHECK(parsed(limits("max_header_bytes = 8192")).limits.max_header_bytes == 8192);
  CHECK(parsed(limits("max_header_bytes = \"16KiB\"")).limits.max_header_bytes == 16384);
  CHECK(parsed(limits("max_header_bytes = \"1MiB\"")).limits.max_header_bytes == 1024 * 1024);
  CHECK(parsed(limits("max_header_bytes = \"512B\"")).limits.max_header_bytes == 512);
  CHECK(parsed(limits("max_connections = 100")).limits.max_connections == 100);
  CHECK(parsed(limits("max_connections_per_ip = 0")).limits.max_connections_per_ip == 0);
  CHECK(parsed(limits("max_connections_per_ip = 50")).limits.max_connections_per_ip == 50);
  CHECK(parsed(lines({listener_name, listener_https, listener_addr})).limits.max_connections_per_ip == 1000);
  CHECK(error_of(limits("max_connections_per_ip = -1")) ==
        "t.toml:5: limits.max_connections_per_ip: expected an integer from 0 to 10000000, such as 1000 (0: no cap), "
        "got -1");

  const std::string expected = "t.toml:5: limits.max_header_bytes: expected a size from 1 to 64MiB such as 16384 "
                               "or \"16KiB\", got ";
  CHECK(error_of(limits("max_header_bytes = \"16kb\"")) == expected + "\"16kb\"");
  CHECK(error_of(limits("max_header_bytes = 0")) == expected + "0");
  CHECK(error_of(limits("max_header_bytes = -1")) == expected + "-1");
  CHECK(error_of(limits("max_header_bytes = \"1GiB\"")) == expected + "\"1GiB\"");
  CHECK(error_of(limits("max_connections = \"many\"")) ==
        "t.toml:5: limits.max_connections: expected a number of connections from 1 to 10000000, got \"many\"");
}

namespace {

// Lines 4-7: an endpoint with the given id, hostnames and upstreams lines.
std::string endpoint_file(std::string_view id, std::string_view hostnames,
                          std::string_view upstreams = "upstreams = [\"127.0.0.1:3000\"]",
                          std::string_view extra = "") {
  return lines({listener_name, listener_https, listener_addr, "[[endpoint]]", id, hostnames, upstreams, extra});
}

}  // namespace

TEST_CASE("endpoint ids are DNS labels", "[unit][proxy]") {
  CHECK(parsed(endpoint_file("id = \"elb-1234\"", "hostnames = [\"a.example.com\"]")).endpoints[0].id == "elb-1234");
  CHECK(parsed(endpoint_file("id = \"7\"", "hostnames = [\"a.example.com\"]")).endpoints[0].id == "7");
  const std::string expected =
      "t.toml:5: endpoint[0].id: expected an id of 1 to 63 characters a-z, 0-9 and \"-\" (not first or last), got ";
  CHECK(error_of(endpoint_file("id = \"Demo\"", "hostnames = [\"a.example.com\"]")) == expected + "\"Demo\"");
  CHECK(error_of(endpoint_file("id = \"-a\"", "hostnames = [\"a.example.com\"]")) == expected + "\"-a\"");
  CHECK(error_of(endpoint_file("id = \"a-\"", "hostnames = [\"a.example.com\"]")) == expected + "\"a-\"");
  CHECK(error_of(endpoint_file("id = \"a_b\"", "hostnames = [\"a.example.com\"]")) == expected + "\"a_b\"");
  CHECK(error_of(endpoint_file("id = \"\"", "hostnames = [\"a.example.com\"]")) == expected + "\"\"");
  const std::string long_id(64, 'a');
  CHECK(error_of(endpoint_file("id = \"" + long_id + "\"", "hostnames = [\"a.example.com\"]")) ==
        expected + "\"" + long_id + "\"");
  CHECK(parsed(endpoint_file("id = \"" + long_id.substr(1) + "\"", "hostnames = [\"a.example.com\"]"))
            .endpoints[0]
            .id.size() == 63);
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[endpoint]]", "hostnames = [\"a.b.c\"]",
                        "upstreams = [\"127.0.0.1:1\"]"})) ==
        "t.toml:4: endpoint[0].id: expected an id of 1 to 63 characters a-z, 0-9 and \"-\" (not first or last), got "
        "nothing (the key is required)");
}

TEST_CASE("endpoint ids are unique", "[unit][proxy]") {
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[[endpoint]]", "id = \"a\"",
                        "hostnames = [\"a.example.com\"]", "upstreams = [\"127.0.0.1:1\"]", "[[endpoint]]",
                        "id = \"a\"", "hostnames = [\"b.example.com\"]", "upstreams = [\"127.0.0.1:1\"]"})) ==
        "t.toml:9: endpoint[1].id: expected a unique endpoint id, got \"a\" (also endpoint[0].id, line 5)");
}

TEST_CASE("hostnames are lower-cased DNS names without the trailing dot", "[unit][proxy]") {
  Config cfg = parsed(endpoint_file("id = \"a\"", "hostnames = [\"App.Example.COM.\", \"*.Apps.example.com\", "
                                                  "\"xn--bcher-kva.example\", \"localhost\"]"));
  CHECK(cfg.endpoints[0].hostnames ==
        std::vector<std::string>{"app.example.com", "*.apps.example.com", "xn--bcher-kva.example", "localhost"});

  const auto bad = [](std::string_view name) {
    return error_of(endpoint_file("id = \"a\"", "hostnames = [\"ok.example.com\", \"" + std::string(name) + "\"]"));
  };
  const std::string expected =
      "t.toml:6: endpoint[0].hostnames[1]: expected a hostname such as \"app.example.com\" or \"*.example.com\", got ";
  CHECK(bad("*foo.example.com") ==
        expected + "\"*foo.example.com\" (a wildcard \"*\" must be the whole leftmost label)");
  CHECK(bad("a.*.example.com") == expected + "\"a.*.example.com\" (a wildcard \"*\" must be the whole leftmost label)");
  CHECK(bad("*.com") == expected + "\"*.com\" (a wildcard needs at least two labels after \"*.\")");
  CHECK(bad("bad_name.example.com") ==
        expected + "\"bad_name.example.com\" (character \"_\" is not allowed in a hostname)");
  CHECK(bad("a..example.com") == expected + "\"a..example.com\" (empty label)");
  CHECK(bad("-a.example.com") == expected + "\"-a.example.com\" (a label may not start or end with \"-\")");
  CHECK(bad("127.0.0.1") == expected + "\"127.0.0.1\" (an IP address is not a hostname)");
  CHECK(bad("a.b.123") == expected + "\"a.b.123\" (the last label may not be all digits)");
  CHECK(bad("") == expected + "\"\" (empty)");
  CHECK(bad(std::string(64, 'a') + ".com") ==
        expected + "\"" + std::string(64, 'a') + ".com\" (a label is longer than 63 characters)");
  std::string too_long;
  for (int i = 0; i < 64; ++i) too_long += "abc.";
  too_long += "com";
  CHECK(bad(too_long) == expected + "\"" + too_long + "\" (longer than 253 characters)");

  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\", 5]")) ==
        "t.toml:6: endpoint[0].hostnames[1]: expected a hostname such as \"app.example.com\" or \"*.example.com\", "
        "got 5");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = \"a.example.com\"")) ==
        "t.toml:6: endpoint[0].hostnames: expected an array of hostnames, got \"a.example.com\"");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = []")) ==
        "t.toml:6: endpoint[0].hostnames: expected at least one hostname, got an empty array");
}

TEST_CASE("an endpoint has at most one wildcard hostname", "[unit][proxy]") {
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"*.a.example.com\", \"*.b.example.com\"]")) ==
        "t.toml:6: endpoint[0].hostnames[1]: expected at most one wildcard hostname per endpoint, got "
        "\"*.b.example.com\" (the other is \"*.a.example.com\")");
}

TEST_CASE("a hostname belongs to one endpoint and the error names both", "[unit][proxy]") {
  const std::string text = lines({listener_name, listener_https, listener_addr,        //
                                  "[[endpoint]]", "id = \"web\"",                       // 4-5
                                  "hostnames = [\"app.example.com\"]",                  // 6
                                  "upstreams = [\"127.0.0.1:1\"]",                      // 7
                                  "[[endpoint]]", "id = \"api\"",                       // 8-9
                                  "hostnames = [",                                      // 10
                                  "  \"api.example.com\",",                             // 11
                                  "  \"APP.example.com.\",",                            // 12
                                  "]",                                                  //
                                  "upstreams = [\"127.0.0.1:2\"]"});
  CHECK(error_of(text) ==
        "t.toml:12: endpoint[1].hostnames[1]: \"app.example.com\" belongs to endpoint \"web\" and to endpoint \"api\" "
        "(endpoint[0].hostnames[0]); a hostname may belong to only one endpoint");

  SECTION("even twice in the same endpoint") {
    CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\", \"A.example.com\"]")) ==
          "t.toml:6: endpoint[0].hostnames[1]: \"a.example.com\" is listed twice in endpoint \"a\" (also "
          "endpoint[0].hostnames[0])");
  }
}

TEST_CASE("upstreams are a non-empty list of host:port", "[unit][proxy]") {
  Config cfg = parsed(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]",
                                    "upstreams = [\"app.internal:8080\", \"10.0.0.1:80\", \"[fd00::1]:443\"]"));
  REQUIRE(cfg.endpoints[0].upstreams.size() == 3);
  CHECK(cfg.endpoints[0].upstreams[0].host == "app.internal");
  CHECK(cfg.endpoints[0].upstreams[0].port == 8080);
  CHECK(cfg.endpoints[0].upstreams[2].to_string() == "[fd00::1]:443");

  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "upstreams = []")) ==
        "t.toml:7: endpoint[0].upstreams: expected at least one \"host:port\", got an empty array");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "scope = \"external\"")) ==
        "t.toml:4: endpoint[0].upstreams: expected an array of \"host:port\", got nothing (the key is required)");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "upstreams = [\"app:0\"]")) ==
        "t.toml:7: endpoint[0].upstreams[0]: expected \"host:port\", got \"app:0\" (the port must be 1 to 65535)");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "upstreams = [\"app\"]")) ==
        "t.toml:7: endpoint[0].upstreams[0]: expected \"host:port\", got \"app\"");
}

TEST_CASE("upstreams.deny, the own listeners and the endpoint limits are checked at their lines",
          "[unit][proxy][upstream_deny]") {
  // The defaults: link-local and metadata addresses.
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "upstreams = [\"169.254.169.254:80\"]")) ==
        "t.toml:7: endpoint[0].upstreams[0]: expected an upstream Portcullis may connect to, got "
        "\"169.254.169.254:80\" (denied by 169.254.0.0/16 of upstreams.deny)");
  // The file's list replaces them; a bad CIDR is named at its line.
  const std::string denied = "upstreams = [\"10.9.0.1:80\", \"169.254.169.254:80\"]";
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", denied,
                               "[upstreams]\ndeny = [\"10.9.0.0/16\"]")) ==
        "t.toml:7: endpoint[0].upstreams[0]: expected an upstream Portcullis may connect to, got \"10.9.0.1:80\" "
        "(denied by 10.9.0.0/16 of upstreams.deny)");
  CHECK(parsed(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "upstreams = [\"169.254.1.1:80\"]",
                             "[upstreams]\ndeny = []"))
            .upstreams.deny.empty());
  CHECK_THAT(error_of(lines({listener_name, listener_https, listener_addr, "[upstreams]", "deny = [\"10.0.0.1/8\"]"})),
             Catch::StartsWith("t.toml:5: upstreams.deny[0]: 10.0.0.1/8: host bits set"));
  // The admin listener, by address and port.
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "upstreams = [\"127.0.0.1:9900\"]",
                               "[admin]\nlisten = \"127.0.0.1:9900\"")) ==
        "t.toml:7: endpoint[0].upstreams[0]: expected an upstream Portcullis may connect to, got \"127.0.0.1:9900\" "
        "(denied by the admin listener 127.0.0.1:9900)");
  // Public suffixes, and the limits.
  CHECK_THAT(error_of(endpoint_file("id = \"a\"", "hostnames = [\"*.co.uk\"]")),
             Catch::StartsWith("t.toml:6: endpoint[0].hostnames[0]: expected a wildcard below a registrable domain"));
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\", \"b.example.com\"]",
                               "upstreams = [\"127.0.0.1:3000\"]", "[limits]\nmax_hostnames_per_endpoint = 1")) ==
        "t.toml:6: endpoint[0].hostnames: expected at most 1 hostnames (limits.max_hostnames_per_endpoint), got 2");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "upstreams = [\"127.0.0.1:3000\"]",
                               "[[endpoint]]\nid = \"b\"\nhostnames = [\"b.example.com\"]\nupstreams = [\"127.0.0.1:3000\"]\n"
                               "[limits]\nmax_endpoints = 1")) ==
        "t.toml:8: endpoint[1]: expected at most 1 endpoints (limits.max_endpoints), got 2");
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[limits]", "max_endpoints = 0"})) ==
        "t.toml:5: limits.max_endpoints: expected a number from 1 to 10000000, got 0");
  const auto limits = parsed(lines({listener_name, listener_https, listener_addr, "[limits]",
                                    "max_hostnames_per_endpoint = 5", "max_endpoints = 7", "renew_now_interval = \"10s\""}))
                          .limits;
  CHECK(limits.max_hostnames_per_endpoint == 5);
  CHECK(limits.max_endpoints == 7);
  CHECK(limits.renew_now_interval == 10s);
}

TEST_CASE("endpoint scope, allowlist and managed_https are read", "[unit][proxy]") {
  Config cfg = parsed(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "scope = \"internal\"",
                                    "upstreams = [\"127.0.0.1:1\"]\nip_allowlist = [\"10.0.0.0/8\", \"2001:db8::/32\"]"
                                    "\nmanaged_https = false"));
  const auto& e = cfg.endpoints[0];
  CHECK(e.scope == Scope::internal);
  REQUIRE(e.ip_allowlist.size() == 2);
  CHECK(e.ip_allowlist[1].to_string() == "2001:db8::/32");
  CHECK_FALSE(e.managed_https);

  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]",
                               "ip_allowlist = [\"10.0.0.0/8\", \"10.0.0.1/8\"]", "upstreams = [\"127.0.0.1:1\"]")) ==
        "t.toml:7: endpoint[0].ip_allowlist[1]: 10.0.0.1/8: host bits set; did you mean 10.0.0.0/8?");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "ip_allowlist = [\"any\"]",
                               "upstreams = [\"127.0.0.1:1\"]")) ==
        "t.toml:7: endpoint[0].ip_allowlist[0]: expected a CIDR such as \"10.0.0.0/8\" or \"2001:db8::/32\", got "
        "\"any\" (not an IP address)");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "scope = \"public\"",
                               "upstreams = [\"127.0.0.1:1\"]")) ==
        "t.toml:7: endpoint[0].scope: expected \"external\" or \"internal\", got \"public\"");
  CHECK(error_of(endpoint_file("id = \"a\"", "hostnames = [\"a.example.com\"]", "managed_https = 1",
                               "upstreams = [\"127.0.0.1:1\"]")) ==
        "t.toml:7: endpoint[0].managed_https: expected true or false, got 1");
}

TEST_CASE("the acme section enables ACME and checks its values", "[unit][proxy]") {
  const auto acme = [](std::initializer_list<std::string_view> body) {
    std::string text = lines({listener_name, listener_https, listener_addr, "[acme]"});
    for (auto line : body) text.append(line).push_back('\n');
    return text;
  };
  Config cfg = parsed(acme({"directory = \"https://localhost:14000/dir\"", "ca_bundle = \"pebble.minica.pem\"",
                            "email = \"ops@example.com\"", "eab_kid = \"kid-1\"", "eab_hmac_key = \"c2VjcmV0X2tleQ\"",
                            "profile = \"shortlived\"", "preferred_chain = \"ISRG Root X1\"",
                            "renew_before_ratio = 0.5", "max_concurrent_orders = 4"}));
  CHECK(cfg.acme.enabled);
  CHECK(cfg.acme.max_concurrent_orders == 4);
  CHECK(cfg.acme.directory == "https://localhost:14000/dir");
  CHECK(cfg.acme.ca_bundle == "pebble.minica.pem");
  CHECK(cfg.acme.email == "ops@example.com");
  CHECK(cfg.acme.eab_kid == "kid-1");
  CHECK(cfg.acme.eab_hmac_key == "c2VjcmV0X2tleQ");
  CHECK(cfg.acme.profile == "shortlived");
  CHECK(cfg.acme.preferred_chain == "ISRG Root X1");
  CHECK(cfg.acme.renew_before_ratio == Approx(0.5));

  CHECK(parsed(acme({"directory = \"https://ca.example/dir\""})).acme.renew_before_ratio == Approx(1.0 / 3));
  CHECK(parsed(acme({"directory = \"https://ca.example/dir\""})).acme.max_concurrent_orders == 16);
  CHECK(error_of(acme({"directory = \"https://ca.example/dir\"", "max_concurrent_orders = 0"})) ==
        "t.toml:6: acme.max_concurrent_orders: expected an integer from 1 to 1000, such as 16, got 0");
  CHECK(error_of(acme({"directory = \"http://ca.example/dir\""})) ==
        "t.toml:5: acme.directory: expected the https URL of the CA's directory, got \"http://ca.example/dir\"");
  CHECK(error_of(acme({"directory = \"not a url\""})) ==
        "t.toml:5: acme.directory: expected the https URL of the CA's directory, got \"not a url\"");
  CHECK(error_of(acme({"email = \"ops@example.com\""})) ==
        "t.toml:4: acme.directory: expected the https URL of the CA's directory, got nothing (the key is required)");
  CHECK(error_of(acme({"directory = \"https://ca.example/dir\"", "email = \"ops\""})) ==
        "t.toml:6: acme.email: expected an e-mail address such as \"ops@example.com\", got \"ops\"");
  CHECK(error_of(acme({"directory = \"https://ca.example/dir\"", "eab_kid = \"kid\""})) ==
        "t.toml:6: acme.eab_kid: expected acme.eab_hmac_key as well (both or neither), got eab_kid alone");
  CHECK(error_of(acme({"directory = \"https://ca.example/dir\"", "renew_before_ratio = 1.0"})) ==
        "t.toml:6: acme.renew_before_ratio: expected a number between 0 and 1 (exclusive), such as 0.33, got 1.0");
  CHECK(error_of(acme({"directory = \"https://ca.example/dir\"", "renew_before_ratio = 0"})) ==
        "t.toml:6: acme.renew_before_ratio: expected a number between 0 and 1 (exclusive), such as 0.33, got 0");
  CHECK(error_of(acme({"directory = \"https://ca.example/dir\"", "dir = \"x\""})) ==
        "t.toml:6: acme.dir: unknown key (known: directory, ca_bundle, email, eab_kid, eab_hmac_key, profile, "
        "preferred_chain, renew_before_ratio, max_concurrent_orders, caa_identities)");
  CHECK(parsed(acme({"directory = \"https://acme-v02.api.letsencrypt.org/directory\""})).acme.caa_identities ==
        std::vector<std::string>{"letsencrypt.org"});
  CHECK(parsed(acme({"directory = \"https://ca.example/dir\""})).acme.caa_identities.empty());
  CHECK(parsed(acme({"directory = \"https://ca.example/dir\"", "caa_identities = [\"CA.Example.\"]"}))
            .acme.caa_identities == std::vector<std::string>{"ca.example"});
  CHECK(error_of(acme({"directory = \"https://ca.example/dir\"", "caa_identities = [\"not a name\"]"})) ==
        "t.toml:6: acme.caa_identities[0]: expected an issuer domain name such as \"letsencrypt.org\", got "
        "\"not a name\"");

  SECTION("the EAB key is a secret and never quoted") {
    const std::string error = error_of(acme({"directory = \"https://ca.example/dir\"", "eab_kid = \"kid\"",
                                             "eab_hmac_key = \"s3cr3t+/key\""}));
    CHECK(error == "t.toml:7: acme.eab_hmac_key: expected a base64url string, got a value with other characters");
    CHECK(error.find("s3cr3t") == std::string::npos);
  }
}

TEST_CASE("the monitor is on with [dns], checks every 24h by default, and refuses an interval under 1s",
          "[unit][proxy][monitor]") {
  const std::string dns = lines({listener_name, listener_https, listener_addr, "[dns]",
                                 "zone = \"edge.example.net\"", "listen = [\"127.0.0.1:8053\"]"});
  const Config defaults = parsed(dns);
  CHECK(defaults.monitor.enabled);
  CHECK(defaults.monitor.check_interval == std::chrono::hours(24));
  CHECK(defaults.monitor.pre_renewal_days == 14);
  CHECK_FALSE(parsed(lines({listener_name, listener_https, listener_addr})).monitor.enabled);

  const Config cfg = parsed(dns + lines({"[monitor]", "check_interval = \"1s\"", "pre_renewal_days = 7"}));
  CHECK(cfg.monitor.check_interval == std::chrono::seconds(1));
  CHECK(cfg.monitor.pre_renewal_days == 7);
  CHECK_FALSE(parsed(dns + lines({"[monitor]", "enabled = false"})).monitor.enabled);

  CHECK(error_of(dns + lines({"[monitor]", "check_interval = \"500ms\""})) ==
        "t.toml:8: monitor.check_interval: expected an interval of at least 1s (every endpoint's records are looked "
        "up once per interval), got \"500ms\"");
  CHECK(error_of(dns + lines({"[monitor]", "check_interval = 60"})) ==
        "t.toml:8: monitor.check_interval: expected a duration such as \"24h\", \"30m\" or \"1s\", got 60");
  CHECK(error_of(dns + lines({"[monitor]", "pre_renewal_days = -1"})) ==
        "t.toml:8: monitor.pre_renewal_days: expected a number of days from 0 (no such check) to 365, got -1");
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[monitor]", "enabled = true"})) ==
        "t.toml:5: monitor.enabled: expected [dns] as well: the monitor checks records against the platform zone");
}

TEST_CASE("demo listen addresses are checked", "[unit][proxy]") {
  Config cfg = parsed(lines({listener_name, listener_https, listener_addr, "[demo]", "enabled = true",
                             "listen = \"[::1]:9999\""}));
  CHECK(cfg.demo.enabled);
  CHECK(cfg.demo.listen.to_string() == "[::1]:9999");
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[demo]", "listen = \"9900\""})) ==
        "t.toml:5: demo.listen: expected \"host:port\", got \"9900\"");
  CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[demo]", "listen = \"demo:80\""})) ==
        "t.toml:5: demo.listen: expected \"ip:port\" (an IP address to bind, \"[v6]:port\" for IPv6), got "
        "\"demo:80\"");
}

TEST_CASE("an admin section turns the admin API on, with its listener and token", "[unit][proxy]") {
  const std::string token(40, 'x');
  SECTION("absent: off") {
    Config cfg = parsed(lines({listener_name, listener_https, listener_addr}));
    CHECK_FALSE(cfg.admin.enabled);
  }
  SECTION("present and empty: the default address, a generated token") {
    Config cfg = parsed(lines({listener_name, listener_https, listener_addr, "[admin]"}));
    CHECK(cfg.admin.enabled);
    CHECK(cfg.admin.listen.to_string() == "127.0.0.1:9900");
    CHECK(cfg.admin.token.empty());
    CHECK(cfg.admin.token_file.empty());
  }
  SECTION("every key") {
    Config cfg = parsed(lines({listener_name, listener_https, listener_addr, "[admin]", "listen = \"[::1]:9911\"",
                               "token = \"" + token + "\""}));
    CHECK(cfg.admin.listen.to_string() == "[::1]:9911");
    CHECK(cfg.admin.token == token);
    cfg = parsed(lines({listener_name, listener_https, listener_addr, "[admin]", "token_file = \"admin.token\""}));
    CHECK(cfg.admin.token_file == "admin.token");
  }
  SECTION("mistakes, without repeating the token") {
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[admin]", "listen = 9900"})) ==
          "t.toml:5: admin.listen: expected \"ip:port\", got 9900");
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[admin]", "token = \"secret\""})) ==
          "t.toml:5: admin.token: expected a token of at least 32 characters, got 6");
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[admin]", "token = \"" + token + "\"",
                          "token_file = \"t\""})) ==
          "t.toml:6: admin.token_file: expected either admin.token or admin.token_file, got both");
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[admin]", "port = 1"})) ==
          "t.toml:5: admin.port: unknown key (known: listen, token, token_file, metrics_public, cert_file, key_file, "
          "allowed_hosts, max_connections_per_ip)");
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[admin]", "cert_file = \"a.pem\""})) ==
          "t.toml:5: admin.cert_file: expected admin.key_file as well (both or neither), got cert_file alone");
    CHECK(error_of(lines({listener_name, listener_https, listener_addr, "[admin]",
                          "allowed_hosts = [\"admin.example.net\", \"user@x:1\"]"})) ==
          "t.toml:5: admin.allowed_hosts[1]: expected a Host value: \"name\", \"name:port\" or \"[v6]:port\", got "
          "\"user@x:1\"");
  }
  SECTION("TLS and the hosts") {
    Config cfg = parsed(lines({listener_name, listener_https, listener_addr, "[admin]", "cert_file = \"a.pem\"",
                               "key_file = \"a.key\"", "allowed_hosts = [\"admin.example.net\", \"[::1]:9900\"]"}));
    CHECK(cfg.admin.cert_file == "a.pem");
    CHECK(cfg.admin.key_file == "a.key");
    CHECK(cfg.admin.allowed_hosts == std::vector<std::string>{"admin.example.net", "[::1]:9900"});
  }
}

TEST_CASE("every problem in a file is reported, in line order", "[unit][proxy]") {
  CHECK(error_of(lines({"[server]", "workers = \"x\"", "colour = 1", listener_name, listener_https,
                        "address = \"80\"", "[limits]", "idle_timeout = 5"})) ==
        "t.toml:2: server.workers: expected a number of worker threads from 0 (one per core) to 1024, got \"x\"\n"
        "t.toml:3: server.colour: unknown key (known: data_dir, workers, log_level, log_format)\n"
        "t.toml:6: listener[0].address: expected \"host:port\", got \"80\"\n"
        "t.toml:8: limits.idle_timeout: expected a duration such as \"10s\", \"500ms\", \"2m\" or \"1h\", got 5");
}

TEST_CASE("host:port parsing accepts names, IPv4 and bracketed IPv6", "[unit][proxy]") {
  auto v4 = parse_host_port("10.0.0.1:80");
  REQUIRE(v4);
  CHECK(v4->host == "10.0.0.1");
  CHECK(v4->port == 80);
  auto v6 = parse_host_port("[2001:db8::1]:443");
  REQUIRE(v6);
  CHECK(v6->host == "2001:db8::1");
  CHECK(v6->to_string() == "[2001:db8::1]:443");
  auto name = parse_host_port("upstream.internal:65535");
  REQUIRE(name);
  CHECK(name->to_string() == "upstream.internal:65535");

  for (std::string_view bad : {"", ":80", "host:", "host:http", "[::1]", "[::1]80", "[nope]:80", "a b:80", "h:+80"}) {
    auto r = parse_host_port(bad);
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message().starts_with("expected \"host:port\", got \"" + std::string(bad) + "\""));
  }
}

TEST_CASE("loading a missing file names it", "[unit][proxy]") {
  auto cfg = load_config("/nonexistent/portcullis.toml");
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().code() == portcullis::Errc::io);
  CHECK(cfg.error().message().starts_with("/nonexistent/portcullis.toml: cannot open: "));
}

TEST_CASE("the log format and a public /metrics are read", "[unit][proxy]") {
  auto cfg = parsed(lines({listener_name, listener_https, listener_addr, "[server]", "log_format = \"json\"",
                           "[admin]", "metrics_public = true"}));
  CHECK(cfg.server.log_format == "json");
  CHECK(cfg.admin.metrics_public);
}

TEST_CASE("[alerts] reads the thresholds and webhooks, and names each problem with its line", "[unit][alerts]") {
  SECTION("defaults") {
    Config cfg = parsed(lines({listener_name, listener_https, listener_addr}));
    CHECK(cfg.alerts.expiring_days == std::vector<std::uint32_t>{14, 7, 3});
    CHECK(cfg.alerts.renewal_failures == 3);
    CHECK(cfg.alerts.webhooks.empty());
  }
  SECTION("every key") {
    Config cfg = parsed(lines({listener_name, listener_https, listener_addr, "[alerts]", "expiring_days = [3, 21, 7]",
                               "renewal_failures = 2", "keep_resolved_days = 7", "[[alerts.webhook]]",
                               "url = \"https://hooks.example.com/a\"", "format = \"slack\"", "secret = \"k\"",
                               "[[alerts.webhook]]", "url = \"http://127.0.0.1:9/b\"", "secret_file = \"s.txt\""}));
    CHECK(cfg.alerts.expiring_days == std::vector<std::uint32_t>{21, 7, 3});
    CHECK(cfg.alerts.renewal_failures == 2);
    CHECK(cfg.alerts.keep_resolved_days == 7);
    REQUIRE(cfg.alerts.webhooks.size() == 2);
    CHECK(cfg.alerts.webhooks[0].format == portcullis::domain::WebhookFormat::slack);
    CHECK(cfg.alerts.webhooks[0].secret == "k");
    CHECK(cfg.alerts.webhooks[1].format == portcullis::domain::WebhookFormat::json);
    CHECK(cfg.alerts.webhooks[1].secret_file == "s.txt");
  }
  SECTION("problems") {
    auto error = error_of(lines({listener_name, listener_https, listener_addr, "[alerts]", "expiring_days = [0]",
                                 "[[alerts.webhook]]", "url = \"ftp://x/secret-path\"", "format = \"xml\"",
                                 "secret = \"a\"", "secret_file = \"b\"", "[[alerts.webhook]]", "retries = 3"}));
    CHECK(error.find("t.toml:5: alerts.expiring_days: expected a non-empty array of days from 1 to 365") !=
          std::string::npos);
    CHECK(error.find("t.toml:7: alerts.webhook[0].url: expected an http:// or https:// URL") != std::string::npos);
    CHECK(error.find("secret-path") == std::string::npos);  // a URL may hold a secret: never quoted
    CHECK(error.find("t.toml:8: alerts.webhook[0].format: expected \"json\" or \"slack\"") != std::string::npos);
    CHECK(error.find("t.toml:10: alerts.webhook[0].secret_file: expected either secret or secret_file") !=
          std::string::npos);
    CHECK(error.find("t.toml:12: alerts.webhook[1].retries: unknown key") != std::string::npos);
    CHECK(error.find("alerts.webhook[1].url: expected an http:// or https:// URL, got nothing") != std::string::npos);
  }
}
