// `portcullis dns-check`: the records each endpoint needs, checked through a real recursive
// resolver (Unbound) in front of the customer's zone (Knot), printed as a table or JSON.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "tests/support/knot.hpp"
#include "tests/support/process.hpp"
#include "tests/support/unbound.hpp"

using namespace portcullis::testing;
using namespace std::chrono_literals;

TEST_CASE("dns-check prints each record with its live state and exits 1 while one is missing",
          "[integration][dns]") {
  KnotFixture knot{{.zones = {{"example.com", {"app 0 CNAME elb-1.edge.example.net."}}}}};
  UnboundFixture unbound{{.zones = {{"example.com", knot.host(), knot.port()}}}};
  INFO("knot log:\n" << knot.log() << "\nunbound log:\n" << unbound.log());
  TempDir dir("portcullis-dns-check");
  const auto config = dir.path() / "portcullis.toml";
  write_file(config, fmt::format(R"([server]
data_dir = "{}"

[[listener]]
name = "https"
address = "127.0.0.1:{}"
protocol = "https"

[dns]
zone = "edge.example.net"
listen = ["127.0.0.1:{}"]
resolver = "{}:{}"

[[endpoint]]
id = "elb-1"
hostnames = ["app.example.com"]
upstreams = ["127.0.0.1:9"]

[[endpoint]]
id = "internal-1"
scope = "internal"
hostnames = ["services.example.com"]
upstreams = ["127.0.0.1:9"]
)",
                                 (dir.path() / "data").string(), free_port(), free_port(), unbound.host(),
                                 unbound.port()));

  auto table = run_command({portcullis_binary().string(), "dns-check", "--config", config.string()}, 30s);
  INFO(table.out << table.err);
  CHECK(table.exit_code == 1);  // two challenge CNAMEs are missing
  CHECK_THAT(table.out, Catch::Contains("app.example.com") && Catch::Contains("elb-1.edge.example.net."));
  CHECK(count_occurrences(table.out, " ok ") == 1);  // the traffic CNAME
  CHECK(count_occurrences(table.out, "missing") == 2);
  CHECK_THAT(table.out, Catch::Contains("_acme-challenge.services.example.com"));

  knot.set_cname("example.com", "_acme-challenge.app.example.com", "acme.elb-1.edge.example.net.");
  knot.set_cname("example.com", "_acme-challenge.services.example.com", "acme.internal-1.edge.example.net.");
  unbound.flush();
  auto json = run_command({portcullis_binary().string(), "dns-check", "--config", config.string(), "--json"}, 30s);
  INFO(json.out << json.err);
  CHECK(json.exit_code == 0);
  CHECK_THAT(json.out, Catch::StartsWith("{\"ok\":true"));

  auto one = run_command({portcullis_binary().string(), "dns-check", "--config", config.string(), "--endpoint", "internal-1"}, 30s);
  CHECK(one.exit_code == 0);
  CHECK(count_occurrences(one.out, "\n") == 2);  // the header and the one record of an internal endpoint

  auto unknown = run_command({portcullis_binary().string(), "dns-check", "--config", config.string(), "--endpoint", "nope"}, 30s);
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("no endpoint with id \"nope\""));
}
