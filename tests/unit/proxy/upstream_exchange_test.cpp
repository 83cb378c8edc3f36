#include "proxy/upstream_exchange.hpp"

#include <catch2/catch.hpp>

using namespace portcullis::proxy;
namespace http = boost::beast::http;

TEST_CASE("every exchange error has one reply, and only upstream failures count as upstream errors",
          "[unit][proxy]") {
  struct Row {
    ExchangeError error;
    bool replied;
    http::status status;
    std::string_view body;
    bool upstream;
  };
  const Row rows[] = {
      {ExchangeError::no_upstream_configured, true, http::status::bad_gateway, "no upstream configured\n", true},
      {ExchangeError::upstream_unavailable, true, http::status::bad_gateway, "upstream unavailable\n", true},
      {ExchangeError::upstream_send_failed, true, http::status::bad_gateway,
       "upstream failed while receiving the request\n", true},
      {ExchangeError::upstream_timeout, true, http::status::gateway_timeout, "upstream timed out\n", true},
      {ExchangeError::invalid_response, true, http::status::bad_gateway, "upstream sent no valid response\n", true},
      {ExchangeError::bad_request_body, true, http::status::bad_request, "malformed request body\n", false},
      {ExchangeError::client_failed, false, http::status::ok, "", false},
      {ExchangeError::none, false, http::status::ok, "", false},
  };
  for (const auto& row : rows) {
    INFO(static_cast<int>(row.error));
    const auto reply = reply_for(row.error);
    REQUIRE(reply.has_value() == row.replied);
    if (reply) {
      CHECK(reply->status == row.status);
      CHECK(reply->body == row.body);
    }
    CHECK(upstream_caused(row.error) == row.upstream);
  }
}
