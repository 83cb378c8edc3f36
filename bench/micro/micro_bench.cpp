// Microbenchmarks of two steps of the hot path, runnable alone (no sockets):
//   sni:     CertSnapshot::select over N certificates (default 100,000): exact hits, a wildcard
//            parent, and an unknown name (default certificate);
//   forward: Beast parse of a typical browser request, the framing checks and the header rewrite
//            the session applies before forwarding, and serialising the rewritten header (with
//            Beast's serializer, as a request with a body is, and with append_request_head, as
//            one without is).
//   snapshot: reading a published snapshot per request from two threads at once, through
//            Published::current() (spin lock + shared reference count) and through a worker's
//            SnapshotCache lease (one version load, a thread-local count);
//   route:   route_request for a proxied request (Host with a port, SNI, an allowlisted peer).
// Each case runs in rounds of a fixed count; the median, min and max ns per operation of the
// rounds are printed. Usage: micro_bench [certificates] [rounds]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>

#include "base/snapshot_cache.hpp"
#include "certstore/cert_snapshot.hpp"
#include "certstore/pem.hpp"
#include "proxy/forward_headers.hpp"
#include "proxy/request_router.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using namespace portcullis;
using Clock = std::chrono::steady_clock;

volatile std::size_t sink;

void report(const char* name, std::size_t per_round, int rounds, const std::function<void()>& round) {
  std::vector<double> ns;
  round();  // warm-up
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    round();
    auto t1 = Clock::now();
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(per_round));
  }
  std::sort(ns.begin(), ns.end());
  std::printf("%-44s median %9.1f ns/op  (min %.1f, max %.1f; %d rounds of %zu)\n", name, ns[ns.size() / 2],
              ns.front(), ns.back(), rounds, per_round);
}

std::string name_of(std::size_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "h%06zu.many.example.test", i);
  return buf;
}

int sni(std::size_t count, int rounds) {
  auto key = certstore::pem::generate_p256();
  if (!key) return std::fprintf(stderr, "key: %s\n", key.error().message().c_str()), 1;
  auto key_pem = certstore::pem::to_pem(key->get());
  auto make = [&](std::vector<std::string> names, certstore::CertSource source) -> certstore::CertBundlePtr {
    auto cert = certstore::pem::self_signed(key->get(), names, 90);
    if (!cert) return nullptr;
    auto b = certstore::CertBundle::from_pem(certstore::pem::to_pem(cert->get()), key_pem, source, "micro");
    return b ? *b : nullptr;
  };
  auto t0 = Clock::now();
  certstore::CertSnapshot::Builder builder;
  builder.default_cert(make({"default.invalid"}, certstore::CertSource::default_cert));
  builder.add(make({"*.wild.example.test"}, certstore::CertSource::transitional));
  for (std::size_t i = 0; i < count; ++i) {
    auto b = make({name_of(i)}, certstore::CertSource::transitional);
    if (!b) return std::fprintf(stderr, "certificate %zu failed\n", i), 1;
    builder.add(std::move(b));
  }
  auto t1 = Clock::now();
  auto snapshot = builder.build();
  auto t2 = Clock::now();
  std::printf("sni: %zu certificates generated in %.1f s, snapshot built in %.1f ms\n", count,
              std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double, std::milli>(t2 - t1).count());

  constexpr std::size_t lookups = 200'000;
  std::vector<std::string> names;
  std::mt19937_64 rng(42);
  for (std::size_t i = 0; i < 4096; ++i) names.push_back(name_of(rng() % count));
  report("sni select, exact (random of N)", lookups, rounds, [&] {
    std::size_t acc = 0;
    for (std::size_t i = 0; i < lookups; ++i) acc += reinterpret_cast<std::uintptr_t>(snapshot->select(names[i & 4095]));
    sink = acc;
  });
  report("sni select, wildcard parent", lookups, rounds, [&] {
    std::size_t acc = 0;
    for (std::size_t i = 0; i < lookups; ++i) acc += reinterpret_cast<std::uintptr_t>(snapshot->select("app.wild.example.test"));
    sink = acc;
  });
  report("sni select, unknown name (default)", lookups, rounds, [&] {
    std::size_t acc = 0;
    for (std::size_t i = 0; i < lookups; ++i) acc += reinterpret_cast<std::uintptr_t>(snapshot->select("nope.other.test"));
    sink = acc;
  });
  return 0;
}

constexpr std::string_view typical_request =
    "GET /api/v1/items?page=2 HTTP/1.1\r\n"
    "Host: app.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"
    "Accept: application/json, text/plain, */*\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Cookie: session=3f2a9c0d1e; theme=dark\r\n"
    "Referer: https://app.example.com/items\r\n"
    "Connection: keep-alive\r\n"
    "X-Forwarded-For: 203.0.113.9\r\n"
    "\r\n";

// The typical request parsed, its framing checked and its head rewritten for the upstream, as the
// session does before forwarding.
void parse_and_rewrite(http::request_parser<http::buffer_body>& parser) {
  beast::error_code ec;
  parser.put(boost::asio::buffer(typical_request.data(), typical_request.size()), ec);
  auto& req = parser.get();
  if (ec || proxy::request_head_problem(req, true)) std::abort();
  proxy::prepare_forward_request(req, proxy::ForwardFacts{"198.51.100.7", false, true, "app.example.com"});
}

void forward(int rounds) {
  constexpr std::size_t requests = 50'000;
  report("parse only (request_parser<buffer_body>)", requests, rounds, [&] {
    for (std::size_t i = 0; i < requests; ++i) {
      http::request_parser<http::buffer_body> parser;
      beast::error_code ec;
      parser.put(boost::asio::buffer(typical_request.data(), typical_request.size()), ec);
      sink = parser.is_header_done();
    }
  });
  report("parse + checks + rewrite + serialise header", requests, rounds, [&] {
    std::string out;
    out.reserve(1024);
    for (std::size_t i = 0; i < requests; ++i) {
      http::request_parser<http::buffer_body> parser;
      parse_and_rewrite(parser);
      auto& req = parser.get();
      beast::error_code ec;
      req.body().data = nullptr;
      req.body().more = false;
      http::serializer<true, http::buffer_body> sr{req};
      out.clear();
      sr.split(true);
      while (!sr.is_header_done()) {
        sr.next(ec, [&](beast::error_code&, const auto& buffers) {
          for (auto b : beast::buffers_range_ref(buffers)) out.append(static_cast<const char*>(b.data()), b.size());
          sr.consume(beast::buffer_bytes(buffers));
        });
      }
      sink = out.size();
    }
  });
  // What the data path does for a request with no body: the head serialised into one buffer by
  // append_request_head (the serializer above is what a request with a body still goes through).
  report("parse + checks + rewrite + append_request_head", requests, rounds, [&] {
    std::string out;
    out.reserve(1024);
    for (std::size_t i = 0; i < requests; ++i) {
      http::request_parser<http::buffer_body> parser;
      parse_and_rewrite(parser);
      out.clear();
      proxy::append_request_head(out, parser.get());
      sink = out.size();
    }
  });
}

// `per_thread` reads of the snapshot on each of two threads at once.
template <class Read>
void on_two_threads(std::size_t per_thread, const Read& read) {
  std::thread other([&] { read(per_thread); });
  read(per_thread);
  other.join();
}

void snapshot(int rounds) {
  constexpr std::size_t per_thread = 1'000'000;
  base::Published<proxy::RouteTable> routes;
  report("snapshot: Published::current(), 2 threads", 2 * per_thread, rounds, [&] {
    on_two_threads(per_thread, [&](std::size_t n) {
      std::size_t sum = 0;
      for (std::size_t i = 0; i < n; ++i) sum += routes.current()->limits().max_connections;
      sink = sum;
    });
  });
  report("snapshot: SnapshotCache::lease(), 2 threads", 2 * per_thread, rounds, [&] {
    on_two_threads(per_thread, [&](std::size_t n) {
      base::SnapshotCache<proxy::RouteTable> cache(routes);
      std::size_t sum = 0;
      for (std::size_t i = 0; i < n; ++i) sum += cache.lease()->limits().max_connections;
      sink = sum;
    });
  });
}

void route(int rounds) {
  domain::EndpointConfig app;
  app.id = "app";
  app.hostnames = {"app.example.com"};
  app.upstreams = {domain::HostPort{"127.0.0.1", 9000}};
  app.ip_allowlist = {*domain::Cidr::parse("10.0.0.0/8")};
  domain::EndpointConfig other = app;
  other.id = "other";
  other.hostnames = {"*.example.org"};
  const proxy::RouteTable table({app, other}, {});
  proxy::RouteQuery query;
  query.host_header = "app.example.com:443";
  query.sni = "app.example.com";
  query.target = "/";
  query.peer = boost::asio::ip::make_address("10.1.2.3");
  constexpr std::size_t count = 1'000'000;
  report("route_request, proxied", count, rounds, [&] {
    std::size_t hits = 0;
    for (std::size_t i = 0; i < count; ++i) hits += route_request(query, table).endpoint != nullptr;
    sink = hits;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100'000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 15;
  if (count == 0 || rounds <= 0) return std::fprintf(stderr, "usage: micro_bench [certificates] [rounds]\n"), 2;
  forward(rounds);
  snapshot(rounds);
  route(rounds);
  return sni(count, rounds);
}
