#include "base/loop_lag.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include "base/blocking_pool.hpp"
#include "tests/unit/acme/memory_storage.hpp"

namespace {

namespace asio = boost::asio;
using portcullis::Result;
using portcullis::Status;
using portcullis::base::BlockingPool;
using portcullis::base::LoopLagProbe;
using namespace std::chrono_literals;

// How long every call of the slow store takes: a synchronous=FULL commit on a slow disk.
constexpr auto store_call_time = 300ms;
// Bound on io_context::run_for: the sequences below take a few seconds.
constexpr auto run_deadline = 30s;

// A Storage whose every call blocks its thread for store_call_time, then answers from memory.
class SlowStorage final : public portcullis::certstore::Storage {
 public:
  using StoredCertificate = portcullis::certstore::StoredCertificate;
  using StoredOrder = portcullis::certstore::StoredOrder;
  using StoredEndpoint = portcullis::certstore::StoredEndpoint;
  using RenewalState = portcullis::certstore::RenewalState;
  Status put_certificate(const StoredCertificate& c) override { return slow(), inner.put_certificate(c); }
  Result<std::vector<StoredCertificate>> load_certificates() override { return slow(), inner.load_certificates(); }
  Result<std::optional<StoredCertificate>> get_certificate(const std::string& k) override {
    return slow(), inner.get_certificate(k);
  }
  Status delete_certificate(const std::string& k) override { return slow(), inner.delete_certificate(k); }
  Status mark_certificate_removed(const std::string& k, std::int64_t when) override {
    return slow(), inner.mark_certificate_removed(k, when);
  }
  Status put_value(const std::string& k, const portcullis::base::SecretBytes& v) override {
    return slow(), inner.put_value(k, v);
  }
  Result<std::optional<portcullis::base::SecretBytes>> get_value(const std::string& k) override {
    return slow(), inner.get_value(k);
  }
  Status put_endpoint(const StoredEndpoint& e) override { return slow(), inner.put_endpoint(e); }
  Result<std::vector<StoredEndpoint>> load_endpoints() override { return slow(), inner.load_endpoints(); }
  Status delete_endpoint(const std::string& id) override { return slow(), inner.delete_endpoint(id); }
  Status put_endpoint_tombstone(const portcullis::certstore::EndpointTombstone& t) override {
    return slow(), inner.put_endpoint_tombstone(t);
  }
  Result<std::vector<portcullis::certstore::EndpointTombstone>> load_endpoint_tombstones(std::int64_t since) override {
    return slow(), inner.load_endpoint_tombstones(since);
  }
  Status put_order(const StoredOrder& o) override { return slow(), inner.put_order(o); }
  Result<std::vector<StoredOrder>> load_orders() override { return slow(), inner.load_orders(); }
  Status delete_order(const std::string& id) override { return slow(), inner.delete_order(id); }
  Status put_renewal_state(const RenewalState& s) override { return slow(), inner.put_renewal_state(s); }
  Result<std::vector<RenewalState>> load_renewal_states() override { return slow(), inner.load_renewal_states(); }
  Status append_certificate_swap(const portcullis::certstore::CertificateSwap& s, std::size_t keep) override {
    return slow(), inner.append_certificate_swap(s, keep);
  }
  Result<std::vector<portcullis::certstore::CertificateSwap>> load_certificate_swaps() override {
    return slow(), inner.load_certificate_swaps();
  }
  Result<bool> try_acquire_lease(const std::string& n, const std::string& h, std::chrono::seconds ttl) override {
    return slow(), inner.try_acquire_lease(n, h, ttl);
  }
  Status release_lease(const std::string& n, const std::string& h) override {
    return slow(), inner.release_lease(n, h);
  }
  Status put_alert(const portcullis::certstore::StoredAlert& a) override { return slow(), inner.put_alert(a); }
  Result<std::vector<portcullis::certstore::StoredAlert>> load_alerts() override {
    return slow(), inner.load_alerts();
  }
  Status prune_alerts(std::int64_t before, std::int64_t keep) override {
    return slow(), inner.prune_alerts(before, keep);
  }
  Status put_delivery(const portcullis::certstore::StoredDelivery& d) override {
    return slow(), inner.put_delivery(d);
  }
  Result<std::vector<portcullis::certstore::StoredDelivery>> load_deliveries(const std::string& s) override {
    return slow(), inner.load_deliveries(s);
  }

  portcullis::testing::MemoryStorage inner;

 private:
  static void slow() { std::this_thread::sleep_for(store_call_time); }
};

struct CapturedLog {
  std::ostringstream text;
  std::shared_ptr<spdlog::logger> logger = [this] {
    auto l = std::make_shared<spdlog::logger>("loop_lag_test", std::make_shared<spdlog::sinks::ostream_sink_mt>(text));
    l->set_pattern("%l %v");
    return l;
  }();
};

// The store calls of one issuance, in its order: lease, order lookup, order row written before and
// after the CA hears of it, certificate stored, order row dropped, lease released.
asio::awaitable<bool> issuance_like(BlockingPool& pool, SlowStorage& storage) {
  using portcullis::certstore::StoredCertificate;
  using portcullis::certstore::StoredOrder;
  bool ok = true;
  auto leased = co_await pool.store([&] { return storage.try_acquire_lease("app.example.com", "node", 600s); });
  ok = ok && leased && *leased;
  auto orders = co_await pool.store([&] { return storage.load_orders(); });
  ok = ok && orders && orders->empty();
  StoredOrder order{"app", "", {"app.example.com"}, "new", {}, "", 1, 1};
  auto created = co_await pool.store([&] { return storage.put_order(order); });
  order.status = "valid";
  auto updated = co_await pool.store([&] { return storage.put_order(order); });
  StoredCertificate cert;
  cert.name_key = cert.endpoint_id = "app";
  auto stored = co_await pool.store([&] { return storage.put_certificate(cert); });
  auto dropped = co_await pool.store([&] { return storage.delete_order("app"); });
  auto released = co_await pool.store([&] { return storage.release_lease("app.example.com", "node"); });
  co_return ok && created && updated && stored && dropped && released;
}

}  // namespace

TEST_CASE("store calls of 300 ms each made through the pool leave the control loop's lag well under 100 ms",
          "[unit][base]") {
  asio::io_context io;
  BlockingPool pool;
  SlowStorage storage;
  CapturedLog log;
  LoopLagProbe probe(io.get_executor(), log.logger);
  probe.start();
  bool ok = false;
  asio::co_spawn(io, issuance_like(pool, storage), [&](std::exception_ptr e, bool result) {
    ok = !e && result;
    probe.stop();
  });
  const auto started = std::chrono::steady_clock::now();
  io.run_for(run_deadline);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(ok);
  CHECK(took >= 7 * store_call_time);  // the calls really blocked, on the pool
  CHECK(storage.inner.certificates.count("app") == 1);
  auto s = probe.summary();
  CHECK(s.samples >= 20);  // the probe ran all along: ~2.1 s at 50 ms
  CHECK(s.max < 100ms);
  probe.log_summary();
  CHECK(log.text.str().find("control loop lag p99=") != std::string::npos);
  CHECK(log.text.str().find("lag_ms=") == std::string::npos);  // no lag past the threshold was reported
}

TEST_CASE("a store call made on the control loop itself shows up as lag and is reported", "[unit][base]") {
  asio::io_context io;
  SlowStorage storage;
  CapturedLog log;
  LoopLagProbe probe(io.get_executor(), log.logger);
  probe.start();
  asio::steady_timer blocker(io, 60ms);
  blocker.async_wait([&](boost::system::error_code) {
    (void)storage.put_order({"app", "", {"app.example.com"}, "new", {}, "", 1, 1});  // blocks the loop
    asio::post(io, [&] {
      // The probe's next firing comes after this, already late: stop once it has recorded it.
      auto stop_when_seen = std::make_shared<asio::steady_timer>(io, 80ms);
      stop_when_seen->async_wait([&, stop_when_seen](boost::system::error_code) { probe.stop(); });
    });
  });
  io.run_for(run_deadline);
  auto s = probe.summary();
  CHECK(s.max >= 200ms);
  CHECK(log.text.str().find("warning control loop lag lag_ms=") != std::string::npos);
}
