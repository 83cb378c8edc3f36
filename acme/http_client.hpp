// HttpClient: the small HTTPS client the ACME client talks to its CA with. Boost.Beast over
// asio::ssl, C++20 coroutines, peer verification against the system trust store or a configured
// CA bundle, SNI, a named deadline on every step, and keep-alive reuse of idle connections per
// origin. Plain http:// is accepted too (test helpers, local management APIs).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include "base/error.hpp"

namespace portcullis::acme {

struct HttpTimeouts {
  std::chrono::milliseconds connect{10'000};   // resolve + TCP connect + TLS handshake
  std::chrono::milliseconds request{30'000};   // write the request and read the whole response
  std::chrono::milliseconds idle{30'000};      // an idle keep-alive connection older than this is dropped
};

struct HttpClientOptions {
  std::filesystem::path ca_bundle;  // PEM file of trusted roots; empty: the system trust store
  HttpTimeouts timeouts;
  std::size_t body_limit = 4 * 1024 * 1024;
  std::size_t max_idle_per_origin = 4;
  std::string user_agent = "portcullis-acme/0.1";
};

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string url;
  std::string body;
  std::string content_type;  // set when body is not empty
  std::string accept;        // empty: no Accept header
  std::vector<std::pair<std::string, std::string>> headers;  // further fields (name, value), sent as given
};

struct HttpResponse {
  int status = 0;
  boost::beast::http::fields headers;
  std::string body;

  std::string header(std::string_view name) const;  // first value, "" when absent
  std::vector<std::string> header_values(std::string_view name) const;
};

class HttpClient {
 public:
  // Fails (Errc::config) when the CA bundle cannot be loaded.
  static Result<std::unique_ptr<HttpClient>> create(boost::asio::any_io_executor executor,
                                                    HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Call from coroutines running on the executor given to create(); several may be in flight at
  // once (each takes its own connection). The client must outlive every request in flight.
  // Errors: Errc::network (resolve, connect, TLS, I/O; the message names the step and peer),
  // Errc::timeout (a deadline expired; the message names it), Errc::invalid_input (bad URL),
  // Errc::cancelled (the calling task was cancelled: its pending step was aborted).
  // Any HTTP status is a successful response.
  boost::asio::awaitable<Result<HttpResponse>> request(HttpRequest request);

  // Drops every idle keep-alive connection.
  void close_idle();

  boost::asio::any_io_executor executor() const { return executor_; }

 private:
  struct Connection;
  HttpClient(boost::asio::any_io_executor executor, HttpClientOptions options);
  boost::asio::awaitable<Result<std::unique_ptr<Connection>>> connect(const std::string& scheme,
                                                                     const std::string& host,
                                                                     const std::string& port);

  boost::asio::any_io_executor executor_;
  HttpClientOptions options_;
  boost::asio::ssl::context tls_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;  // origin -> connections
};

}  // namespace portcullis::acme
