#include "control/reload.hpp"

#include <catch2/catch.hpp>

namespace {

using portcullis::control::keep_start_only;
using portcullis::domain::Config;
using portcullis::domain::ListenerConfig;

Config running() {
  Config c;
  c.source = "/etc/portcullis/portcullis.toml";
  c.server.data_dir = "var";
  c.server.workers = 2;
  ListenerConfig https;
  https.name = "https";
  https.address = {"127.0.0.1", 8443};
  c.listeners = {https};
  return c;
}

}  // namespace

TEST_CASE("a reload keeps the start-only settings and names those the new file changed", "[unit][control]") {
  const Config now = running();
  Config next = running();
  SECTION("nothing start-only changed") {
    next.server.log_level = "debug";
    CHECK(keep_start_only(now, next).empty());
    CHECK(next.server.log_level == "debug");  // not start-only: applied
  }
  SECTION("every start-only setting changed") {
    next.server.data_dir = "elsewhere";
    next.server.workers = 8;
    next.tls.min_version = "1.3";
    next.demo.enabled = true;
    next.listeners[0].address.port = 9443;
    CHECK(keep_start_only(now, next) ==
          std::vector<std::string>{"server.data_dir", "server.workers", "tls.min_version", "demo", "listener"});
    CHECK(next.server.data_dir == now.resolve(now.server.data_dir));
    CHECK(next.server.workers == 2);
    CHECK(next.tls.min_version == "1.2");
    CHECK_FALSE(next.demo.enabled);
    CHECK(next.listeners[0].address.port == 8443);
  }
  SECTION("the admin listener and its token wait for a restart") {
    next.admin.enabled = true;
    next.admin.listen = {"127.0.0.1", 9911};
    next.admin.token_file = "token";
    CHECK(keep_start_only(now, next) == std::vector<std::string>{"admin"});
    CHECK_FALSE(next.admin.enabled);
    CHECK(next.admin.listen.port == 9900);
    CHECK(next.admin.token_file.empty());
  }
  SECTION("whether /metrics needs the token waits for a restart, with the admin listener") {
    next.admin.metrics_public = true;
    CHECK(keep_start_only(now, next) == std::vector<std::string>{"admin"});
    CHECK_FALSE(next.admin.metrics_public);
  }
  SECTION("the log format is applied at once") {
    next.server.log_format = "json";
    CHECK(keep_start_only(now, next).empty());
    CHECK(next.server.log_format == "json");
  }
  SECTION("the same data folder written another way is no change") {
    next.server.data_dir = now.resolve(now.server.data_dir);
    CHECK(keep_start_only(now, next).empty());
  }
}
