#include "certstore/challenge_board.hpp"

#include <thread>

#include <catch2/catch.hpp>

using namespace portcullis::base;
using namespace portcullis::certstore;

TEST_CASE("the challenge board starts empty", "[unit][certstore]") {
  ChallengeBoard board;
  REQUIRE(board.current() != nullptr);
  CHECK(board.current()->http01_answer("token") == nullptr);
  CHECK(board.current()->dns01.empty());
}

TEST_CASE("http-01 answers appear and disappear with each publish", "[unit][certstore]") {
  ChallengeBoard board;
  auto before = board.current();
  auto v0 = board.version();
  board.put_http01("tok-1", "tok-1.thumbprint");
  REQUIRE(board.current()->http01_answer("tok-1") != nullptr);
  CHECK(*board.current()->http01_answer("tok-1") == "tok-1.thumbprint");
  CHECK(board.current()->http01_answer("tok-2") == nullptr);
  CHECK(board.version() == v0 + 1);
  // A reader holding the old snapshot is unaffected.
  CHECK(before->http01_answer("tok-1") == nullptr);

  board.put_http01("tok-1", "replaced");
  CHECK(*board.current()->http01_answer("tok-1") == "replaced");
  board.remove_http01("tok-1");
  CHECK(board.current()->http01_answer("tok-1") == nullptr);
  board.remove_http01("never-there");
  CHECK(board.current()->http01.empty());
}

TEST_CASE("dns-01 keeps several values per name, normalised", "[unit][certstore]") {
  ChallengeBoard board;
  board.put_dns01("ACME.elb-1.Edge.Example.NET.", "value-a");
  board.put_dns01("acme.elb-1.edge.example.net", "value-b");
  board.put_dns01("acme.elb-1.edge.example.net", "value-b");  // idempotent
  auto snap = board.current();
  REQUIRE(snap->dns01.count("acme.elb-1.edge.example.net") == 1);
  CHECK(snap->dns01.at("acme.elb-1.edge.example.net") == std::vector<std::string>{"value-a", "value-b"});

  board.remove_dns01("acme.elb-1.edge.example.net.", "value-a");
  CHECK(board.current()->dns01.at("acme.elb-1.edge.example.net") == std::vector<std::string>{"value-b"});
  board.remove_dns01("acme.elb-1.edge.example.net", "value-b");
  CHECK(board.current()->dns01.empty());
  board.remove_dns01("unknown.example.net", "x");
  CHECK(board.current()->dns01.empty());
}

TEST_CASE("concurrent writers do not lose each other's challenges", "[unit][certstore]") {
  ChallengeBoard board;
  constexpr int per_thread = 200;
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&board, t] {
      for (int i = 0; i < per_thread; ++i) {
        board.put_http01("t" + std::to_string(t) + "-" + std::to_string(i), "answer");
      }
    });
  }
  // Readers run alongside without locking.
  std::thread reader([&board] {
    for (int i = 0; i < 1000; ++i) (void)board.current()->http01_answer("t0-0");
  });
  for (auto& w : writers) w.join();
  reader.join();
  CHECK(board.current()->http01.size() == 4 * per_thread);
}
