#include "proxy/upstream_exchange.hpp"

namespace portcullis::proxy {

std::optional<EdgeReply> reply_for(ExchangeError error) noexcept {
  namespace http = boost::beast::http;
  switch (error) {
    case ExchangeError::no_upstream_configured:
      return EdgeReply{http::status::bad_gateway, "no upstream configured\n"};
    case ExchangeError::upstream_unavailable:
      return EdgeReply{http::status::bad_gateway, "upstream unavailable\n"};
    case ExchangeError::upstream_send_failed:
      return EdgeReply{http::status::bad_gateway, "upstream failed while receiving the request\n"};
    case ExchangeError::upstream_timeout:
      return EdgeReply{http::status::gateway_timeout, "upstream timed out\n"};
    case ExchangeError::invalid_response:
      return EdgeReply{http::status::bad_gateway, "upstream sent no valid response\n"};
    case ExchangeError::bad_request_body:
      return EdgeReply{http::status::bad_request, "malformed request body\n"};
    case ExchangeError::none:
    case ExchangeError::client_failed:
      break;
  }
  return std::nullopt;
}

bool upstream_caused(ExchangeError error) noexcept {
  switch (error) {
    case ExchangeError::no_upstream_configured:
    case ExchangeError::upstream_unavailable:
    case ExchangeError::upstream_send_failed:
    case ExchangeError::upstream_timeout:
    case ExchangeError::invalid_response:
      return true;
    case ExchangeError::none:
    case ExchangeError::bad_request_body:
    case ExchangeError::client_failed:
      return false;
  }
  return false;
}

}  // namespace portcullis::proxy
