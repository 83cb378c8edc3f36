// AcmeClient against a canned CA on loopback: the paths Pebble 2.4 cannot show — profiles, the
// `replaces` field and ARI renewalInfo — plus a deterministic badNonce retry and problem errors.
#include "acme/acme_client.hpp"

#include <catch2/catch.hpp>

#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "acme/jws.hpp"
#include "certstore/pem.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/unit/acme/memory_storage.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::acme;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

class CannedCa {
 public:
  CannedCa() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CannedCa() {
    io_.stop();
    thread_.join();
  }
  std::string base() const { return fmt::format("http://127.0.0.1:{}", acceptor_.local_endpoint().port()); }

  struct Seen {
    std::vector<std::string> order_nonces;
    std::vector<std::string> bad_nonce_replay_nonces;  // Replay-Nonce of each badNonce answer
    json::object order_payload;
    std::string ari_path;
    int new_account_requests = 0;
  };
  Seen seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  int bad_nonces_to_send = 1;
  bool offer_ari = true;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      asio::co_spawn(io_, session(std::move(socket)), asio::detached);
    }
  }

  http::response<http::string_body> answer(const http::request<http::string_body>& req) {
    http::response<http::string_body> res{http::status::ok, 11};
    const std::string replay_nonce = fmt::format("nonce-{}", ++nonce_counter_);
    res.set("Replay-Nonce", replay_nonce);
    const std::string target(req.target());
    if (target == "/dir") {
      json::object dir{{"newNonce", base() + "/nonce"}, {"newAccount", base() + "/acct"},
                       {"newOrder", base() + "/order"}, {"revokeCert", base() + "/revoke"},
                       {"meta", json::object{{"profiles", json::object{{"shortlived", "6 days"}}}}}};
      if (offer_ari) dir["renewalInfo"] = base() + "/ari";
      res.body() = json::serialize(dir);
    } else if (target == "/nonce") {
    } else if (target == "/acct") {
      {
        std::lock_guard lock(mutex_);
        ++seen_.new_account_requests;
      }
      res.result(http::status::created);
      res.set(http::field::location, base() + "/acct/1");
      res.body() = R"({"status":"valid"})";
    } else if (target == "/order") {
      auto jws = json::parse(req.body()).as_object();
      auto header = json::parse(base64url_decode(jws.at("protected").as_string()).value()).as_object();
      std::lock_guard lock(mutex_);
      seen_.order_nonces.emplace_back(header.at("nonce").as_string());
      if (bad_nonces_to_send > 0) {
        --bad_nonces_to_send;
        seen_.bad_nonce_replay_nonces.push_back(replay_nonce);
        res.result(http::status::bad_request);
        res.set(http::field::content_type, "application/problem+json");
        res.body() = R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"})";
      } else {
        seen_.order_payload = json::parse(base64url_decode(jws.at("payload").as_string()).value()).as_object();
        res.result(http::status::created);
        res.set(http::field::location, base() + "/order/1");
        res.body() = R"({"status":"pending","identifiers":[{"type":"dns","value":"a.example"}],
                         "authorizations":[],"finalize":")" + base() + R"(/finalize/1"})";
      }
    } else if (target == "/revoke") {
      res.result(http::status::forbidden);
      res.set(http::field::content_type, "application/problem+json");
      res.body() = R"({"type":"urn:ietf:params:acme:error:unauthorized","detail":"not your certificate"})";
    } else if (target.rfind("/ari/", 0) == 0) {
      std::lock_guard lock(mutex_);
      seen_.ari_path = target;
      res.set(http::field::retry_after, "21600");
      res.body() = R"({"suggestedWindow":{"start":"2030-01-01T00:00:00Z","end":"2030-01-02T00:00:00Z"}})";
    } else {
      res.result(http::status::not_found);
    }
    res.prepare_payload();
    return res;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      stream.expires_after(5s);
      auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
      if (ec) co_return;
      auto res = answer(req);
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if (wec) co_return;
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  Seen seen_;
  int nonce_counter_ = 0;
};

template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out.emplace(std::move(value));
  });
  io.run();
  io.restart();
  REQUIRE(out);
  return std::move(*out);
}

// A client of `ca` with `options` (its directory set to the canned one), on `io`.
// `pool` (each test's own, declared before the client so it outlives it) runs the store calls and
// key generation.
std::unique_ptr<AcmeClient> client_of(const CannedCa& ca, testing::MemoryStorage& storage, asio::io_context& io,
                                      base::BlockingPool& pool, AcmeClientOptions options = {}) {
  options.directory_url = ca.base() + "/dir";
  auto client = AcmeClient::create(io.get_executor(), options, storage, pool);
  REQUIRE(client);
  return std::move(*client);
}

// A leaf with an authority key identifier and serial 0x87654321 (RFC 9773's example serial).
std::string leaf_pem_with_aki() {
  base::PkeyPtr key(EVP_EC_gen("P-256"));
  base::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), 0x87654321);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_key_identifier, "hash"}, std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  return certstore::pem::to_pem(cert.get());
}

}  // namespace

TEST_CASE("new-order sends the profile and replaces when the CA offers them, after a badNonce retry",
          "[unit][acme]") {
  CannedCa ca;
  testing::MemoryStorage storage;
  asio::io_context io;
  base::BlockingPool pool;
  AcmeClientOptions options;
  options.profile = "shortlived";
  auto client = client_of(ca, storage, io, pool, options);

  auto order = run(io, client->new_order({"a.example"}, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"));
  if (!order) FAIL(order.error().message());
  CHECK(order->url == ca.base() + "/order/1");
  CHECK(client->stats().bad_nonce_retries == 1);
  auto seen = ca.seen();
  REQUIRE(seen.order_nonces.size() == 2);
  REQUIRE(seen.bad_nonce_replay_nonces.size() == 1);
  CHECK(seen.order_nonces[0] != seen.order_nonces[1]);
  CHECK(seen.order_nonces[1] == seen.bad_nonce_replay_nonces[0]);  // the retry used the nonce from the badNonce answer
  CHECK(seen.order_payload.at("profile").as_string() == "shortlived");
  CHECK(seen.order_payload.at("replaces").as_string() == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  CHECK(storage.values.count(std::string(account_key_storage_key)) == 1);
  CHECK(storage.values.at(account_url_storage_key(ca.base() + "/dir")).reveal() == ca.base() + "/acct/1");
}

TEST_CASE("orders starting together share one new-account request", "[unit][acme]") {
  CannedCa ca;
  testing::MemoryStorage storage;
  asio::io_context io;
  base::BlockingPool pool;
  auto client = client_of(ca, storage, io, pool);

  constexpr int callers = 5;
  std::vector<std::string> urls;
  for (int i = 0; i < callers; ++i) {
    asio::co_spawn(io, client->account(), [&](std::exception_ptr e, Result<Account> account) {
      if (e) std::rethrow_exception(e);
      urls.push_back(account ? account->url : "error: " + account.error().message());
    });
  }
  io.run();
  REQUIRE(urls.size() == callers);
  for (const auto& url : urls) CHECK(url == ca.base() + "/acct/1");
  CHECK(ca.seen().new_account_requests == 1);
  CHECK(client->stats().accounts_created == 1);
}

TEST_CASE("new-order leaves out replaces without ARI and an unlisted profile", "[unit][acme]") {
  CannedCa ca;
  ca.offer_ari = false;
  ca.bad_nonces_to_send = 0;
  testing::MemoryStorage storage;
  asio::io_context io;
  base::BlockingPool pool;
  AcmeClientOptions options;
  options.profile = "tlsserver";
  auto client = client_of(ca, storage, io, pool, options);
  auto order = run(io, client->new_order({"a.example"}, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"));
  REQUIRE(order);
  auto payload = ca.seen().order_payload;
  CHECK_FALSE(payload.contains("replaces"));
  CHECK_FALSE(payload.contains("profile"));

  SECTION("and renewalInfo is reported as not offered") {
    auto info = run(io, client->renewal_info(leaf_pem_with_aki()));
    REQUIRE_FALSE(info);
    CHECK(info.error().code() == Errc::not_found);
  }
}

TEST_CASE("renewalInfo is fetched by ARI certificate id with its Retry-After", "[unit][acme]") {
  CannedCa ca;
  testing::MemoryStorage storage;
  asio::io_context io;
  base::BlockingPool pool;
  auto client = client_of(ca, storage, io, pool);
  const std::string pem = leaf_pem_with_aki();
  auto info = run(io, client->renewal_info(pem));
  if (!info) FAIL(info.error().message());
  CHECK(info->window_start == parse_rfc3339("2030-01-01T00:00:00Z").value());
  CHECK(info->window_end == parse_rfc3339("2030-01-02T00:00:00Z").value());
  CHECK(info->retry_after == std::chrono::seconds(21600));
  auto leaf = certstore::pem::parse_chain(pem).value();
  CHECK(ca.seen().ari_path == "/ari/" + ari_certificate_id(leaf.front().get()).value());
  CHECK(ca.seen().ari_path.ends_with(".AIdlQyE"));
}

TEST_CASE("renewalInfo for a certificate already parsed asks by the same ARI id, parsing no PEM", "[unit][acme]") {
  CannedCa ca;
  testing::MemoryStorage storage;
  asio::io_context io;
  base::BlockingPool pool;
  auto client = client_of(ca, storage, io, pool);
  const auto root = testing::TestCa::create("ARI Test Root");
  const auto bundle = root.issue({"app.example.com"}).bundle(certstore::CertSource::managed);
  auto info = run(io, client->renewal_info(bundle));
  if (!info) FAIL(info.error().message());
  CHECK(info->window_start == parse_rfc3339("2030-01-01T00:00:00Z").value());
  CHECK(ca.seen().ari_path == "/ari/" + ari_certificate_id(bundle->leaf()).value());
}

TEST_CASE("a problem answer becomes an acme Error naming the step and URL", "[unit][acme]") {
  CannedCa ca;
  testing::MemoryStorage storage;
  asio::io_context io;
  base::BlockingPool pool;
  auto client = client_of(ca, storage, io, pool);
  auto revoked = run(io, client->revoke(leaf_pem_with_aki(), 4));
  REQUIRE_FALSE(revoked);
  CHECK(revoked.error().code() == Errc::acme);
  CHECK(revoked.error().message() == fmt::format("acme: revoke {}/revoke: 403 urn:ietf:params:acme:error:unauthorized "
                                                 "\"not your certificate\"",
                                                 ca.base()));
  REQUIRE(revoked.error().problem());
  CHECK(revoked.error().problem()->status == 403);
}

TEST_CASE("an unreachable CA is a network error that names the step and URL", "[unit][acme]") {
  testing::MemoryStorage storage;
  asio::io_context io;
  base::BlockingPool pool;
  AcmeClientOptions options;
  options.directory_url = "http://127.0.0.1:1/dir";
  auto client = AcmeClient::create(io.get_executor(), options, storage, pool);
  REQUIRE(client);
  auto dir = run(io, (*client)->directory());
  REQUIRE_FALSE(dir);
  CHECK(dir.error().code() == Errc::network);
  CHECK(dir.error().message().rfind("acme: directory http://127.0.0.1:1/dir: connect 127.0.0.1:1: ", 0) == 0);
}
