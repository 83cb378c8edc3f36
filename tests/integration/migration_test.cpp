// The zero-downtime migration from another platform, end to end on loopback with real servers. An
// "old PaaS" (a small TLS server in this process, on 127.0.0.2) serves app.example.com with a
// certificate from a CA of its own; the customer's DNS (Knot) points the name at it; Portcullis
// listens on 127.0.0.3, on the same port. A client loop resolves the name through Unbound (kdig),
// connects to the address DNS gives and requests https://app.example.com/ every few milliseconds,
// trusting both CAs and checking the name. Through the admin API the endpoint is created, the old
// certificate uploaded as transitional, the challenge CNAME added and the traffic record switched
// to the platform host by RFC 2136 updates, and the managed certificate awaited. Not one request
// may fail, and the client must see, in this order: the old PaaS, Portcullis with the transitional
// certificate, Portcullis with the managed one.
#include <catch2/catch.hpp>

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "domain/records.hpp"
#include "tests/support/dns_world.hpp"
#include "tests/support/kdig.hpp"
#include "tests/support/test_certs.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::testing;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using tcp = asio::ip::tcp;

constexpr const char* app_host = "app.example.com";
constexpr const char* old_paas_address = "127.0.0.2";
constexpr const char* portcullis_address = "127.0.0.3";

// Per client operation (resolve, connect, handshake, request) and for the whole run.
constexpr Millis client_timeout = 5s;
constexpr Millis run_deadline = 90s;
// How long the client waits between two requests: "every few milliseconds".
constexpr Millis request_interval = 5ms;
// Requests a phase must have before the next step: the client is seen to be there, not just once.
constexpr std::size_t settled_requests = 5;
// A first issuance from a local Pebble takes well under a second; this leaves room for a loaded machine.
constexpr Millis issuance_deadline = 30s;

// The old platform: HTTPS on host:port with its own certificate, one connection at a time, each
// answered "old-paas" and closed. Runs on a thread of its own until destroyed.
class OldPaas {
 public:
  OldPaas(const std::string& host, std::uint16_t port, const TestCert& cert) : tls_(asio::ssl::context::tls_server) {
    tls_.use_certificate_chain(asio::buffer(cert.chain_pem));
    tls_.use_private_key(asio::buffer(cert.key_pem.reveal().data(), cert.key_pem.reveal().size()),
                         asio::ssl::context::pem);
    tcp::endpoint where(asio::ip::make_address(host), port);
    acceptor_.open(where.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(where);
    acceptor_.listen();
    asio::co_spawn(io_, serve(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~OldPaas() {
    io_.stop();
    thread_.join();
  }
  OldPaas(const OldPaas&) = delete;
  OldPaas& operator=(const OldPaas&) = delete;

 private:
  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), tls_);
      beast::get_lowest_layer(stream).expires_after(client_timeout);
      auto [hs] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
      if (hs) continue;
      beast::flat_buffer buffer;
      beast::http::request<beast::http::string_body> req;
      auto [rd, n] = co_await beast::http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
      if (rd) continue;
      beast::http::response<beast::http::string_body> res{beast::http::status::ok, 11};
      res.set(beast::http::field::content_type, "text/plain");
      res.keep_alive(false);
      res.body() = "old-paas";
      res.prepare_payload();
      co_await beast::http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
    }
  }

  asio::io_context io_;
  asio::ssl::context tls_;
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
};

// What one request saw: where DNS sent it and the certificate it was served.
struct Seen {
  std::string address;
  std::string serial;  // upper-case hex, as normalize_serial gives
  std::string issuer;  // the issuer's CN
  bool operator==(const Seen&) const = default;
};

std::string issuer_cn(X509* cert) {
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_issuer_name(cert), NID_commonName, cn, sizeof cn);
  return cn;
}

std::string serial_of(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = normalize_serial(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

// One request as a browser would make it: resolve through `resolver`, connect to the first
// address, TLS with SNI, the chain verified against `trust` and the name checked, GET /.
// Returns what it saw, or the reason it failed. Each step is bounded by client_timeout.
using Outcome = std::variant<Seen, std::string>;

asio::awaitable<Outcome> fetch_at(std::string address, asio::ssl::context* trust, std::uint16_t port) {
  auto executor = co_await asio::this_coro::executor;
  beast::ssl_stream<beast::tcp_stream> stream(executor, *trust);
  SSL_set_tlsext_host_name(stream.native_handle(), app_host);
  stream.set_verify_callback(asio::ssl::host_name_verification(app_host));
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(client_timeout);
  auto [connected] = co_await tcp_layer.async_connect(tcp::endpoint(asio::ip::make_address(address), port),
                                                      asio::as_tuple(asio::use_awaitable));
  if (connected) co_return fmt::format("connect {}: {}", address, connected.message());
  tcp_layer.expires_after(client_timeout);
  auto [shaken] = co_await stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
  if (shaken) co_return fmt::format("handshake {}: {}", address, shaken.message());
  X509* peer = SSL_get0_peer_certificate(stream.native_handle());
  if (!peer) co_return fmt::format("handshake {}: no certificate", address);
  Seen seen{address, serial_of(peer), issuer_cn(peer)};
  beast::http::request<beast::http::empty_body> req{beast::http::verb::get, "/", 11};
  req.set(beast::http::field::host, app_host);
  req.keep_alive(false);
  tcp_layer.expires_after(client_timeout);
  auto [written, w] = co_await beast::http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (written) co_return fmt::format("write {}: {}", address, written.message());
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> res;
  auto [read, r] = co_await beast::http::async_read(stream, buffer, res, asio::as_tuple(asio::use_awaitable));
  if (read) co_return fmt::format("read {}: {}", address, read.message());
  if (res.result_int() != 200)
    co_return fmt::format("GET https://{}/ at {}: status {}", app_host, address, res.result_int());
  co_return seen;
}

Outcome fetch(const UnboundFixture& resolver, asio::ssl::context& trust, std::uint16_t port) {
  const auto dig = kdig(resolver.host(), resolver.port(), app_host, "A");
  if (!dig.answered || dig.status != "NOERROR" || dig.answers.empty())
    return fmt::format("resolve {}: status={} answers={}", app_host, dig.status, dig.answers.size());
  asio::io_context io;
  std::optional<Outcome> outcome;
  asio::co_spawn(io, fetch_at(dig.answers.front(), &trust, port), [&](std::exception_ptr e, Outcome o) {
    if (e) {
      outcome.emplace(std::string("exception in the client"));
    } else {
      outcome.emplace(std::move(o));
    }
  });
  io.run();
  return outcome ? std::move(*outcome) : Outcome{std::string("no outcome")};
}

// The client loop's record: the requests, the failures with their reasons, and the phases seen
// (a phase is a run of requests that saw the same address and certificate), in order.
struct ClientLog {
  struct Phase {
    Seen seen;
    std::size_t requests = 0;
  };
  std::size_t requests = 0, failures = 0;
  std::vector<std::string> errors;  // the first few
  std::vector<Phase> phases;
};

class Client {
 public:
  Client(const UnboundFixture& resolver, std::vector<std::string> trusted_pems, std::uint16_t port)
      : resolver_(resolver), port_(port) {
    trust_.set_verify_mode(asio::ssl::verify_peer);
    for (const auto& pem : trusted_pems) trust_.add_certificate_authority(asio::buffer(pem));
    thread_ = std::thread([this] { loop(); });
  }
  ~Client() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ClientLog log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  // Requests of the current phase, when it is at `address` with `serial`.
  std::size_t requests_in(const std::string& address, const std::string& serial) const {
    std::lock_guard lock(mutex_);
    if (log_.phases.empty()) return 0;
    const auto& last = log_.phases.back();
    return last.seen.address == address && last.seen.serial == serial ? last.requests : 0;
  }

 private:
  void loop() {
    const auto end = std::chrono::steady_clock::now() + run_deadline;
    while (!stop_ && std::chrono::steady_clock::now() < end) {
      auto result = fetch(resolver_, trust_, port_);
      {
        std::lock_guard lock(mutex_);
        ++log_.requests;
        if (auto* error = std::get_if<std::string>(&result)) {
          ++log_.failures;
          if (log_.errors.size() < 10) log_.errors.push_back(*error);
        } else {
          const auto& seen = std::get<Seen>(result);
          if (log_.phases.empty() || !(log_.phases.back().seen == seen)) log_.phases.push_back({seen, 0});
          ++log_.phases.back().requests;
        }
      }
      std::this_thread::sleep_for(request_interval);  // pacing, not synchronisation
    }
  }

  const UnboundFixture& resolver_;
  std::uint16_t port_;
  asio::ssl::context trust_{asio::ssl::context::tls_client};
  mutable std::mutex mutex_;
  ClientLog log_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

json::object json_of(const CurlResult& r) {
  INFO("status " << r.status << " body: " << r.body.substr(0, 800));
  auto v = json::parse(r.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

// The state GET .../dns gives the record of `purpose` for app.example.com.
std::string record_state(PortcullisFixture& px, const std::string& token, const std::string& purpose) {
  auto doc = json_of(px.admin("GET", "/api/v1/endpoints/app/dns", token));
  for (const auto& r : doc.at("records").as_array()) {
    const auto& o = r.as_object();
    if (o.at("hostname") == app_host && o.at("purpose").as_string() == purpose)
      return std::string(o.at("state").as_string());
  }
  return "absent";
}

std::string describe(const ClientLog& log) {
  std::string out = fmt::format("requests={} failures={}\n", log.requests, log.failures);
  for (const auto& p : log.phases)
    out += fmt::format("  {} serial={} issuer=\"{}\" requests={}\n", p.seen.address, p.seen.serial, p.seen.issuer,
                       p.requests);
  for (const auto& e : log.errors) out += "  error: " + e + "\n";
  return out;
}

}  // namespace

TEST_CASE("a customer moves app.example.com from another platform to Portcullis without one failed request",
          "[integration][admin][dns][migration]") {
  const auto started = std::chrono::steady_clock::now();
  DnsWorld world({fmt::format("app 0 A {}", old_paas_address)});
  UpstreamServer upstream;
  auto old_root = TestCa::create("Old PaaS Root");
  const TestCert old_cert = old_root.intermediate("Old PaaS Intermediate").issue({app_host});

  FixtureOptions options = world.portcullis({});
  options.admin = true;
  options.log_level = "info";
  options.https_host = portcullis_address;
  // The platform hosts resolve to the https listener only (not to the plain listener's 127.0.0.1).
  options.extra_toml += fmt::format("\n[dns.addresses]\nexternal = [\"{}\"]\n", portcullis_address);
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  OldPaas old_paas(old_paas_address, px.https_port(), old_cert);

  Client client(world.unbound, {old_root.root_pem(), world.pebble.root_pem()}, px.https_port());
  const Seen at_old{old_paas_address, old_cert.serial_hex, "Old PaaS Intermediate"};
  const Seen transitional{portcullis_address, old_cert.serial_hex, "Old PaaS Intermediate"};
  // Waits until the client's current phase is `address` with `serial`, for settled_requests.
  auto require_phase = [&](const std::string& address, const std::string& serial, const char* what) {
    if (!wait_until([&] { return client.requests_in(address, serial) >= settled_requests; }, client_timeout))
      FAIL("the client did not settle on " << what << ": " << describe(client.log()));
  };
  require_phase(old_paas_address, old_cert.serial_hex, "the old PaaS");

  // 1. The endpoint. Nothing points at Portcullis yet, so no order is placed: it waits.
  auto created = px.admin("POST", "/api/v1/endpoints", token,
                          fmt::format(R"({{"id": "app", "hostnames": ["{}"], "upstreams": ["{}"]}})", app_host,
                                      upstream.address()));
  REQUIRE(created.status == 201);
  require_log(px, "issuance waiting endpoint=app", client_timeout);

  // 2. The certificate the old platform serves, as transitional: served by Portcullis at once.
  auto put = px.admin("PUT", "/api/v1/endpoints/app/transitional-certificate", token,
                      json::serialize(json::object{{"certificate", old_cert.chain_pem},
                                                   {"private_key", old_cert.key_pem.reveal()},
                                                   {"allow_untrusted", true}}));
  REQUIRE(put.status == 201);
  CHECK(px.served_serial(app_host) == std::optional<std::string>(old_cert.serial_hex));
  CHECK(json_of(px.admin("GET", "/api/v1/endpoints/app/certificate", token))
            .at("served").as_array()[0].as_object().at("source") == "transitional");

  // 3. The challenge CNAME (RFC 2136), checked through the API.
  const std::string challenge = domain::challenge_name(app_host);
  world.knot.update("example.com", {fmt::format("add {}. 0 CNAME {}.", challenge,
                                                domain::validation_host("app", DnsWorld::zone))});
  world.unbound.flush();
  CHECK(record_state(px, token, "challenge") == "ok");
  CHECK(record_state(px, token, "traffic") == "wrong_target");

  // 4. The traffic record to the platform host, in one update: the A record goes, the CNAME comes.
  world.knot.update("example.com", {fmt::format("delete {}. A", app_host),
                                    fmt::format("add {}. 0 CNAME app.{}.", app_host, DnsWorld::zone)});
  world.unbound.flush();
  require_phase(portcullis_address, old_cert.serial_hex, "Portcullis with the transitional certificate");
  CHECK(record_state(px, token, "traffic") == "ok");

  // 5. The managed certificate: asked for now (the customer fixed the records) rather than at the
  // next re-check, then served.
  auto renew = px.admin("POST", "/api/v1/endpoints/app/renew?force=true", token);
  CHECK((renew.status == 202 || renew.status == 409));
  std::string managed_serial;
  REQUIRE(wait_until(
      [&] {
        auto r = px.admin("GET", "/api/v1/endpoints/app/certificate", token);
        if (r.status != 200) return false;
        const auto managed = json::parse(r.body).as_object().at("managed").as_object();
        if (!managed.contains("certificate")) return false;
        managed_serial = normalize_serial(managed.at("certificate").as_object().at("serial").as_string());
        return true;
      },
      issuance_deadline, 100ms));
  require_phase(portcullis_address, managed_serial, "Portcullis with the managed certificate");
  client.stop();

  const auto log = client.log();
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  CHECK(log.failures == 0);
  REQUIRE(log.phases.size() == 3);
  CHECK(log.phases[0].seen == at_old);
  CHECK(log.phases[1].seen == transitional);
  CHECK(log.phases[2].seen.address == portcullis_address);
  CHECK(log.phases[2].seen.serial == managed_serial);
  CHECK(log.phases[2].seen.issuer != "Old PaaS Intermediate");
  const auto status = json_of(px.admin("GET", "/api/v1/endpoints/app/certificate", token));
  CHECK(status.at("served").as_array()[0].as_object().at("source") == "managed");
  // The timeline tells the same story, newest first: issued, then the upload, then the first
  // certificate the endpoint was served with.
  std::vector<std::string> timeline;
  for (const auto& e : status.at("timeline").as_array()) {
    timeline.push_back(std::string(e.as_object().at("reason").as_string()) + " " +
                       normalize_serial(e.as_object().at("serial").as_string()));
  }
  REQUIRE(timeline.size() == 3);
  CHECK(timeline[0] == "issued " + managed_serial);
  CHECK(timeline[1] == "transitional uploaded " + normalize_serial(old_cert.serial_hex));
  CHECK(timeline[2].starts_with("endpoint added "));
  // Every request that reached Portcullis went to the upstream.
  CHECK(upstream.request_count() == log.phases[1].requests + log.phases[2].requests);
  WARN("migration: " << describe(log) << "duration_ms=" << elapsed.count());
}
