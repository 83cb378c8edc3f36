// control::ChallengePlanner without a platform zone: no DNS is asked, HTTP-01 proves plain names.
#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "control/challenge_planner.hpp"

namespace {

using namespace portcullis;
using domain::ChallengeChoice;

domain::EndpointConfig endpoint(std::vector<std::string> hostnames) {
  domain::EndpointConfig e;
  e.id = "elb-1";
  e.hostnames = std::move(hostnames);
  return e;
}

}  // namespace

TEST_CASE("without a platform zone every plain name is proved by http-01 and a wildcard waits", "[unit][dns]") {
  base::BlockingPool pool{1};
  control::ChallengePlanner planner{pool, {}};
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(io, planner.decide(endpoint({"app.example.com", "*.example.com"})),
                                      boost::asio::use_future);
  io.run();
  auto d = result.get();
  CHECK_FALSE(d.ready);
  CHECK(d.hostnames.at(0).choice == ChallengeChoice::http_01);
  CHECK(d.hostnames.at(1).choice == ChallengeChoice::wait);
}
