// The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core from
// tests/browser/dashboard.mjs. This test starts the servers (Knot, Unbound, Pebble through
// DnsWorld, an upstream, Portcullis with [admin]) and runs the script against the admin listener;
// when the script says it waits for the customer's records, the test creates them in Knot, as the
// customer would, and tells the script so by a file. ctest runs it after its fixture "browser: npm
// ci" (tests/CMakeLists.txt); by hand: `npm ci` in tests/browser, then integration_tests "[browser]".
#include <catch2/catch.hpp>

#include <cstdlib>

#include <fmt/format.h>

#include "tests/support/dns_world.hpp"

using namespace portcullis::testing;
using namespace std::chrono_literals;

namespace {

// The whole script: the records, two uploads, an issuance through Pebble and the screenshots.
constexpr Millis script_deadline = 120s;
constexpr Millis records_wanted_deadline = 60s;

// Where the screenshots go: $PORTCULLIS_SCREENSHOTS (docs/images to refresh the README's), else
// a folder beside the test's own files.
std::string screenshot_dir(const TempDir& fallback) {
  if (const char* dir = std::getenv("PORTCULLIS_SCREENSHOTS"); dir && *dir) return dir;
  return (fallback / "screenshots").string();
}

}  // namespace

TEST_CASE("the dashboard creates an endpoint, shows its records live, refuses a bad transitional certificate "
          "inline and serves a good one until the managed one is issued",
          "[integration][browser]") {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) FAIL("chromium is not installed (make test installs it)");
  const std::filesystem::path script = source_dir() / "tests/browser/dashboard.mjs";
  if (!std::filesystem::exists(source_dir() / "tests/browser/node_modules/playwright-core"))
    FAIL("tests/browser/node_modules is missing: run `npm ci` in tests/browser (ctest's \"browser: npm ci\")");

  DnsWorld world({});
  UpstreamServer upstream;
  // A file endpoint beside the one the browser creates: listed read-only.
  auto options = world.portcullis({EndpointSpec("docs", {"docs.example.com"}, {upstream.address()})});
  options.admin = true;
  PortcullisFixture px(options);
  StandardCerts certs;  // app.example.com from a CA of its own: the "other platform's" certificate

  TempDir work{"portcullis-browser"};
  std::vector<std::string> env = {
      "PORTCULLIS_ADMIN_URL=" + fmt::format("http://127.0.0.1:{}", px.admin_port()),
      "PORTCULLIS_ADMIN_TOKEN=" + px.admin_token(),
      "PORTCULLIS_UPSTREAM=" + upstream.address(),
      "PORTCULLIS_GOOD_CERT=" + certs.app.cert.string(),
      "PORTCULLIS_GOOD_KEY=" + certs.app.key.string(),
      // Valid, but for other names and with another certificate's key: refused for both reasons.
      "PORTCULLIS_BAD_CERT=" + certs.api.cert.string(),
      "PORTCULLIS_BAD_KEY=" + certs.wildcard.key.string(),
      "PORTCULLIS_SCREENSHOTS=" + screenshot_dir(work),
      "PORTCULLIS_PROFILE_PARENT=" + work.path().string(),
  };
  ChildProcess node({"node", script.string()}, work.path(), env);
  // What went on, for a failure's message (read when it is needed, not before).
  auto report = [&] {
    return fmt::format("script output:\n{}{}\nportcullis log (tail):\n{}\ndns logs:\n{}", node.stdout_text(),
                       node.stderr_text(), px.log().substr(px.log().size() > 6000 ? px.log().size() - 6000 : 0),
                       world.logs());
  };

  // The customer's two records, once the script has seen them missing.
  const bool wanted = wait_until(
      [&] { return node.stdout_text().find("waiting for the records") != std::string::npos || !node.running(); },
      records_wanted_deadline, 50ms);
  if (!wanted || !node.running()) FAIL("the script did not reach the records step\n" << report());
  world.knot.set_cname("example.com", "app.example.com", "app.edge.example.net.");
  world.knot.set_cname("example.com", "_acme-challenge.app.example.com", "acme.app.edge.example.net.");
  world.unbound.flush();
  replace_file(work / "records-created", "");

  const auto code = node.wait_exit(script_deadline);
  if (!code) FAIL("the script did not finish within its deadline\n" << report());
  INFO(report());
  CHECK(*code == 0);
  CHECK(node.stdout_text().find("dashboard test passed") != std::string::npos);
  CHECK(px.log().find("certificate issued endpoint=app ") != std::string::npos);
  CHECK(px.log().find("certificate swapped endpoint=app source=managed") != std::string::npos);
}
