#include "control/endpoint_service.hpp"

#include <catch2/catch.hpp>

#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/unit/acme/memory_storage.hpp"

namespace {

namespace asio = boost::asio;
using namespace portcullis;
using control::EndpointService;
using namespace std::chrono_literals;

constexpr auto run_deadline = 10s;

// Runs `body` as a coroutine on `io` until it ends (bounded); true when it ended cleanly.
template <class F>
bool run_to_end(asio::io_context& io, F body) {
  bool ended = false;
  asio::co_spawn(io, std::move(body), [&ended](std::exception_ptr e) { ended = !e; });
  io.restart();
  io.run_for(run_deadline);
  return ended;
}

domain::EndpointConfig file_endpoint() {
  auto check = domain::validate({"app", std::vector<std::string>{"app.example.com"}, domain::Scope::external,
                                 std::vector<std::string>{"127.0.0.1:9901"}, {}, true});
  REQUIRE(check.ok());
  return check.endpoint;
}

domain::EndpointSpec spec(std::optional<std::string> id, std::vector<std::string> hostnames) {
  domain::EndpointSpec s;
  s.id = std::move(id);
  s.hostnames = std::move(hostnames);
  s.upstreams = std::vector<std::string>{"127.0.0.1:9902"};
  return s;
}

struct Harness {
  asio::io_context io;
  testing::MemoryStorage storage;
  base::BlockingPool pool;
  EndpointService service{storage, pool, io.get_executor()};
  std::vector<std::vector<domain::EndpointConfig>> applied;  // every list the apply path was given
  Status next_apply;                                         // what the next apply returns

  Harness() {
    service.set_file_endpoints({file_endpoint()});
    service.set_apply([this](std::vector<domain::EndpointConfig> endpoints) -> asio::awaitable<Status> {
      applied.push_back(std::move(endpoints));
      co_return next_apply;
    });
  }
};

std::vector<std::string> ids(const std::vector<domain::EndpointConfig>& list) {
  std::vector<std::string> out;
  for (const auto& e : list) out.push_back(e.id);
  return out;
}

}  // namespace

TEST_CASE("an endpoint created at run time is stored, then applied with the file's, and listed writable",
          "[unit][control]") {
  Harness h;
  control::ChangeResult<control::EndpointEntry> created;
  // Built outside the coroutine: GCC 12 mishandles an initializer list inside a co_await expression.
  auto api = spec(std::nullopt, {"API.example.com"});
  REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { created = co_await h.service.create(std::move(api)); }));
  REQUIRE(created);
  const auto id = created->endpoint.id;
  CHECK(id.size() == 11);
  CHECK(domain::valid_endpoint_id(id));
  CHECK(created->endpoint.hostnames == std::vector<std::string>{"api.example.com"});
  REQUIRE(h.applied.size() == 1);
  CHECK(ids(h.applied[0]) == std::vector<std::string>{"app", id});
  REQUIRE(h.storage.endpoints.count(id));
  CHECK(h.storage.endpoints.at(id).upstreams == std::vector<std::string>{"127.0.0.1:9902"});
  auto list = h.service.list();
  REQUIRE(list.size() == 2);
  CHECK(list[0].read_only);
  CHECK_FALSE(list[1].read_only);

  SECTION("a new service reads it back from the store and merges it after the file's") {
    asio::io_context io;
    EndpointService again(h.storage, h.pool, io.get_executor());
    REQUIRE(again.load());
    auto merged = again.merge({file_endpoint()});
    REQUIRE(merged);
    CHECK(ids(*merged) == std::vector<std::string>{"app", id});
    auto other = file_endpoint();
    other.id = "file2";
    other.hostnames = {"api.example.com"};
    auto clash = again.merge({file_endpoint(), other});
    REQUIRE_FALSE(clash);
    CHECK_THAT(clash.error().message(), Catch::Contains("created through the admin API"));
  }
  SECTION("a failed apply leaves the store and the list as they were") {
    h.next_apply = fail(Errc::io, "certificate file gone");
    control::ChangeResult<bool> removed;
    REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { removed = co_await h.service.remove(id); }));
    REQUIRE_FALSE(removed);
    CHECK(removed.error().code == Errc::io);
    CHECK(h.storage.endpoints.count(id) == 1);
    CHECK(h.service.find(id));
  }
  SECTION("deleted: gone from the store and the list") {
    control::ChangeResult<bool> removed;
    REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { removed = co_await h.service.remove(id); }));
    REQUIRE(removed);
    CHECK(h.storage.endpoints.empty());
    CHECK(ids(h.applied.back()) == std::vector<std::string>{"app"});
  }
}

TEST_CASE("changes are refused with the rule, the conflict or the read-only endpoint they hit", "[unit][control]") {
  Harness h;
  auto create = [&](domain::EndpointSpec s) {
    control::ChangeResult<control::EndpointEntry> out;
    REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { out = co_await h.service.create(std::move(s)); }));
    return out;
  };
  auto invalid = create(spec("ok-id", {"a..b", "*.x.example.com", "*.y.example.com"}));
  REQUIRE_FALSE(invalid);
  CHECK(invalid.error().code == Errc::invalid_input);
  REQUIRE(invalid.error().problems.size() == 2);
  CHECK(invalid.error().problems[0].field == "hostnames[0]");
  CHECK(invalid.error().problems[1].field == "hostnames[2]");

  auto taken = create(spec(std::nullopt, {"APP.example.com."}));
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code == Errc::invalid_input);
  REQUIRE(taken.error().problems.size() == 1);
  CHECK(taken.error().problems[0].field == "hostnames[0]");
  CHECK_THAT(taken.error().problems[0].detail, Catch::Contains("endpoint \"app\" of the configuration file"));

  auto same_id = create(spec("app", {"b.example.com"}));
  REQUIRE_FALSE(same_id);
  CHECK(same_id.error().code == Errc::conflict);

  control::ChangeResult<control::EndpointEntry> patched;
  control::EndpointPatch patch;
  patch.managed_https = false;
  REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { patched = co_await h.service.update("app", patch); }));
  REQUIRE_FALSE(patched);
  CHECK(patched.error().code == Errc::conflict);
  CHECK(patched.error().read_only);
  REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { patched = co_await h.service.update("nope", patch); }));
  CHECK(patched.error().code == Errc::not_found);
  CHECK(h.applied.empty());
  CHECK(h.storage.endpoints.empty());
}

TEST_CASE("generated endpoint ids are DNS labels that avoid the ids taken", "[unit][control]") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto id = EndpointService::generate_id([&](const std::string& candidate) { return seen.count(candidate) > 0; });
    CHECK(domain::valid_endpoint_id(id));
    CHECK(id.starts_with("ep-"));
    CHECK(seen.insert(id).second);
  }
  CHECK(EndpointService::generate_id([](const std::string&) { return true; }).empty());
}

TEST_CASE("a deleted id stays unusable for 30 days, across a restart, and frees up after", "[unit][control]") {
  Harness h;
  std::int64_t now = 1'700'000'000;
  h.service.set_clock([&] { return now; });
  auto create = [&](domain::EndpointSpec s) {
    control::ChangeResult<control::EndpointEntry> out;
    REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { out = co_await h.service.create(std::move(s)); }));
    return out;
  };
  REQUIRE(create(spec("shop", {"shop.example.com"})));
  control::ChangeResult<bool> removed;
  REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { removed = co_await h.service.remove("shop"); }));
  REQUIRE(removed);
  REQUIRE(h.storage.tombstones.count("shop"));
  CHECK(h.storage.tombstones["shop"].deleted_unix == now);

  now += 29LL * 24 * 3600;
  auto again = create(spec("shop", {"shop.example.com"}));
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::conflict);
  CHECK_THAT(again.error().detail, Catch::Contains("can be used again from 2023-12-14T22:13:20Z"));

  // A restart reads the tombstone back.
  Harness restarted;
  restarted.storage.tombstones = h.storage.tombstones;
  restarted.service.set_clock([&] { return now; });
  REQUIRE(restarted.service.load());
  control::ChangeResult<control::EndpointEntry> out;
  auto shop = spec("shop", {"shop.example.com"});
  REQUIRE(run_to_end(restarted.io, [&]() -> asio::awaitable<void> { out = co_await restarted.service.create(shop); }));
  CHECK_FALSE(out);

  // Its platform names are not another endpoint's hostnames meanwhile.
  domain::EndpointRules rules;
  rules.zone = "edge.example.net";
  h.service.set_rules(rules);
  for (const char* name : {"shop.edge.example.net", "acme.shop.edge.example.net", "*.shop.edge.example.net"}) {
    INFO(name);
    auto adopted = create(spec("other", {name}));
    REQUIRE_FALSE(adopted);
    CHECK(adopted.error().code == Errc::invalid_input);
    CHECK_THAT(adopted.error().problems.at(0).detail, Catch::Contains("deleted less than 30 days ago"));
  }

  now += 24LL * 3600;  // 30 days after the deletion
  CHECK(create(spec("shop", {"shop.example.com"})));
}

TEST_CASE("the deployment's rules and the endpoint limit apply to endpoints created at run time", "[unit][control]") {
  Harness h;
  domain::EndpointRules rules;
  rules.max_endpoints = 2;  // the file's "app" and one more
  rules.zone = "edge.example.net";
  h.service.set_rules(rules);
  auto create = [&](domain::EndpointSpec s) {
    control::ChangeResult<control::EndpointEntry> out;
    REQUIRE(run_to_end(h.io, [&]() -> asio::awaitable<void> { out = co_await h.service.create(std::move(s)); }));
    return out;
  };
  auto suffix = create(spec("wide", {"*.co.uk"}));
  REQUIRE_FALSE(suffix);
  CHECK(suffix.error().code == Errc::invalid_input);
  CHECK(suffix.error().problems.at(0).field == "hostnames[0]");

  auto platform = create(spec("steal", {"app.edge.example.net"}));
  REQUIRE_FALSE(platform);
  CHECK(platform.error().code == Errc::invalid_input);
  CHECK_THAT(platform.error().problems.at(0).detail, Catch::Contains("platform name of endpoint \"app\""));

  REQUIRE(create(spec("second", {"b.example.com"})));
  auto third = create(spec("third", {"c.example.com"}));
  REQUIRE_FALSE(third);
  CHECK(third.error().code == Errc::invalid_input);
  CHECK_THAT(third.error().detail, Catch::Contains("limits.max_endpoints"));
}
