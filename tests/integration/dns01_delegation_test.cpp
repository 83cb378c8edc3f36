// DNS-01 through the customer's CNAME, end to end with real servers: Knot serves the customer's
// zone (example.com, with `_acme-challenge.<name> CNAME acme.<id>.<zone>.`) and, standing in for
// the platform zone, edge.example.net; Unbound resolves both and is Pebble's resolver
// (PebbleOptions::dns_server). The TXT value is put at the validation host, the delegation check
// sees it through the CNAME, and Pebble validates through the same chain and issues.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "acme/acme_client.hpp"
#include "acme/issuer.hpp"
#include "certstore/challenge_board.hpp"
#include "certstore/sqlite_storage.hpp"
#include "base/blocking_pool.hpp"
#include "dns/delegation_check.hpp"
#include "domain/records.hpp"
#include "tests/support/knot.hpp"
#include "tests/support/pebble.hpp"
#include "tests/support/unbound.hpp"

namespace {

using namespace portcullis;
using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr const char* platform_zone = "edge.example.net";

template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out.emplace(std::move(value));
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  REQUIRE(out);
  return std::move(*out);
}

}  // namespace

TEST_CASE("Pebble validates DNS-01 through the customer's CNAME into the platform zone", "[integration][dns]") {
  const std::string id = "elb-1";
  const std::string name = fmt::format("app-{}.example.com", ::getpid());
  const std::string validation_host = domain::validation_host(id, platform_zone);

  testing::KnotFixture knot({.zones = {{"example.com",
                                        {fmt::format("{}. 0 CNAME {}.", domain::challenge_name(name), validation_host)}},
                                       {platform_zone, {}}}});
  testing::UnboundFixture unbound({.zones = {{"example.com", knot.host(), knot.port()},
                                             {platform_zone, knot.host(), knot.port()}}});
  testing::PebbleOptions pebble_options;
  pebble_options.dns_server = unbound.host_port();
  testing::PebbleFixture pebble(std::move(pebble_options));
  INFO("knot log:\n" << knot.log() << "\nunbound log:\n" << unbound.log());

  dns::DelegationChecker checker({.address = {unbound.host(), unbound.port()}, .timeout = 2s, .attempts = 2});
  CHECK(checker.check_cname(domain::challenge_name(name), validation_host + ".").state == domain::RecordState::ok);

  certstore::ChallengeBoard board;
  auto storage = certstore::SqliteStorage::open(pebble.dir() / "portcullis.db");
  REQUIRE(storage);
  asio::io_context io;
  base::BlockingPool pool;
  acme::AcmeClientOptions options;
  options.directory_url = pebble.directory_url();
  options.ca_bundle = pebble.ca_bundle();
  options.timeouts.connect = 2s;
  options.timeouts.request = 10s;
  options.poll_deadline = 20s;
  auto client = acme::AcmeClient::create(io.get_executor(), options, **storage, pool);
  REQUIRE(client);
  acme::Issuer issuer(**client, **storage, board, pool);

  acme::IssueRequest request;
  request.endpoint_id = id;
  request.names = {name};
  request.challenge = acme::ChallengeType::dns01;
  request.dns01_owner = [&](std::string_view) { return validation_host; };
  std::vector<std::string> seen_values;
  // Stands in for the platform DNS server: the board's answer goes into the platform zone, and
  // the check the solver makes before validation reads it back through the customer's CNAME.
  request.before_validation = [&](const acme::PublishedAnswer& answer) -> asio::awaitable<Status> {
    CHECK(answer.key == validation_host);
    knot.update(platform_zone, {fmt::format("add {}. 0 TXT \"{}\"", answer.key, answer.value)});
    unbound.flush();
    auto values = checker.lookup_txt(domain::challenge_name(name));
    if (!values) co_return tl::unexpected(values.error());
    seen_values = *values;
    co_return Status{};
  };
  auto cert = run(io, issuer.issue(request));
  if (!cert) FAIL(cert.error().message() << "\npebble log:\n" << pebble.pebble_log());
  REQUIRE(seen_values.size() == 1);
  auto facts = acme::leaf_facts(cert->stored.chain_pem);
  REQUIRE(facts);
  CHECK(facts->names == std::vector<std::string>{name});
}
