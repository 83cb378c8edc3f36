// The admin API's certificate routes against the real binary: a transitional certificate uploaded
// for an endpoint is checked (wrong key, chain out of order, expired, names not covered, encrypted
// key: 422 naming each, all at once), served at once for the endpoint's names and withdrawn on
// DELETE; the certificate status and renewal routes; the timeline of swaps (transitional, then
// managed, kept across a restart); the private key in no response and no log line.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include <fmt/format.h>

#include "certstore/pem.hpp"
#include "tests/support/pebble.hpp"
#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace json = boost::json;

json::object json_of(const CurlResult& r) {
  INFO("status " << r.status << " body: " << r.body.substr(0, 800));
  auto v = json::parse(r.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

// The upload body. The test CAs are private ones, so the chain is accepted without a root of the
// system trust store unless `allow_untrusted` is false.
std::string upload(const std::string& chain, std::string_view key, bool allow_untrusted = true) {
  json::object body{{"certificate", chain}, {"private_key", key}};
  if (allow_untrusted) body["allow_untrusted"] = true;
  return json::serialize(body);
}

// Every error's field and detail, "field: detail" each.
std::vector<std::string> errors_of(const CurlResult& r) {
  std::vector<std::string> out;
  auto doc = json_of(r);
  if (!doc.contains("errors")) return out;
  for (const auto& e : doc.at("errors").as_array()) {
    out.push_back(std::string(e.as_object().at("field").as_string()) + ": " +
                  std::string(e.as_object().at("detail").as_string()));
  }
  return out;
}

bool any_contains(const std::vector<std::string>& items, std::string_view field, std::string_view needle) {
  return std::any_of(items.begin(), items.end(), [&](const std::string& s) {
    return s.starts_with(std::string(field) + ": ") && s.find(needle) != std::string::npos;
  });
}

// The key as PKCS#8 encrypted with a passphrase (what `openssl pkey -aes256` writes).
std::string encrypted(const portcullis::base::SecretBytes& key_pem) {
  auto key = portcullis::certstore::pem::parse_private_key(key_pem);
  REQUIRE(key);
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "passphrase";
  REQUIRE(PEM_write_bio_PKCS8PrivateKey(bio, key->get(), EVP_aes_256_cbc(), pass, sizeof pass - 1, nullptr,
                                        nullptr) == 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// The base64 body of a PEM key: what would show if the key leaked anywhere, whatever the framing.
std::string key_material(const portcullis::base::SecretBytes& key_pem) {
  std::string_view text = key_pem.reveal();
  const auto start = text.find('\n') + 1;
  return std::string(text.substr(start, 40));
}

// A first issuance from a local Pebble takes well under a second; this leaves room for a loaded machine.
constexpr Millis issuance_deadline = 30s;

// The managed certificate's serial in GET .../certificate, "" before there is one.
std::string managed_serial(PortcullisFixture& px, const std::string& token, const std::string& id) {
  auto r = px.admin("GET", "/api/v1/endpoints/" + id + "/certificate", token);
  if (r.status != 200) return {};
  const auto managed = json::parse(r.body).as_object().at("managed").as_object();
  if (!managed.contains("certificate")) return {};
  return std::string(managed.at("certificate").as_object().at("serial").as_string());
}

// The timeline of GET .../certificate as "reason source serial", newest first.
std::vector<std::string> timeline(PortcullisFixture& px, const std::string& token, const std::string& id) {
  std::vector<std::string> out;
  auto doc = json_of(px.admin("GET", "/api/v1/endpoints/" + id + "/certificate", token));
  for (const auto& e : doc.at("timeline").as_array()) {
    const auto& swap = e.as_object();
    out.push_back(fmt::format("{} {} {}", std::string_view(swap.at("reason").as_string()),
                              std::string_view(swap.at("source").as_string()),
                              std::string_view(swap.at("serial").as_string())));
  }
  return out;
}

}  // namespace

TEST_CASE("an endpoint created through the admin API gets its managed certificate, and a renewal on request "
          "replaces it",
          "[integration][admin][acme]") {
  UpstreamServer upstream;
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  FixtureOptions options;
  options.admin = true;
  options.http_port = http_port;
  options.extra_toml = fmt::format("[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n", pebble.directory_url(),
                                   pebble.ca_bundle().string());
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  REQUIRE(px.admin("POST", "/api/v1/endpoints", token,
                   R"({"id": "shop", "hostnames": ["shop.example.com"], "upstreams": [")" + upstream.address() +
                       R"("]})")
              .status == 201);
  std::string first;
  REQUIRE(wait_until([&] { return !(first = managed_serial(px, token, "shop")).empty(); }, issuance_deadline, 100ms));
  CHECK(px.served_serial("shop.example.com") == std::optional<std::string>(normalize_serial(first)));
  auto status = json_of(px.admin("GET", "/api/v1/endpoints/shop/certificate", token));
  CHECK(status.at("served").as_array()[0].as_object().at("source") == "managed");
  const auto& managed = status.at("managed").as_object();
  CHECK(managed.at("enabled") == true);
  CHECK(managed.at("challenge").as_string().find("http-01") != std::string::npos);
  CHECK(managed.at("next_renewal").is_string());
  CHECK(managed.at("consecutive_failures") == 0);

  auto renew = px.admin("POST", "/api/v1/endpoints/shop/renew", token);
  CHECK(renew.status == 202);
  std::string second;
  REQUIRE(wait_until(
      [&] {
        second = managed_serial(px, token, "shop");
        return !second.empty() && second != first;
      },
      issuance_deadline, 100ms));
  CHECK(px.served_serial("shop.example.com") == std::optional<std::string>(normalize_serial(second)));
  CHECK(px.log().find("renewal requested endpoint=shop force=false") != std::string::npos);
}

TEST_CASE("a transitional certificate uploaded through the admin API is checked, served at once and withdrawn",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto root = TestCa::create("Old PaaS Root");
  auto inter = root.intermediate("Old PaaS Intermediate");
  const TestCert good = inter.issue({"api.example.com", "www.api.example.com"});

  FixtureOptions options;
  options.admin = true;
  options.log_level = "debug";
  options.default_cert = certs.default_cert;
  options.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  REQUIRE(px.admin("POST", "/api/v1/endpoints", token,
                   R"({"id": "api", "hostnames": ["api.example.com"], "upstreams": [")" + upstream.address() +
                       R"("], "managed_https": false})")
              .status == 201);
  const std::string path = "/api/v1/endpoints/api/transitional-certificate";
  CHECK(px.served_serial("api.example.com") == std::optional<std::string>(certs.default_cert.serial));

  SECTION("each problem is named, every one at once") {
    const TestCert other = inter.issue({"api.example.com"});
    auto wrong_key = px.admin("PUT", path, token, upload(good.chain_pem, other.key_pem.reveal()));
    CHECK(wrong_key.status == 422);
    CHECK(any_contains(errors_of(wrong_key), "private_key", "does not match"));

    auto out_of_order = px.admin("PUT", path, token, upload(good.leaf_pem + root.root_pem() + inter.cert_pem(),
                                                            good.key_pem.reveal()));
    CHECK(out_of_order.status == 422);
    CHECK(any_contains(errors_of(out_of_order), "certificate", "chain order"));

    // Both at once: the key's problem does not hide the chain's.
    auto key_and_order = px.admin("PUT", path, token, upload(good.leaf_pem + root.root_pem() + inter.cert_pem(),
                                                             other.key_pem.reveal()));
    CHECK(key_and_order.status == 422);
    CHECK(errors_of(key_and_order).size() == 2);
    CHECK(any_contains(errors_of(key_and_order), "private_key", "does not match"));
    CHECK(any_contains(errors_of(key_and_order), "certificate", "chain order"));

    const TestCert expired = inter.issue({.names = {"api.example.com"}, .validity = Validity::expired()});
    auto old = px.admin("PUT", path, token, upload(expired.chain_pem, expired.key_pem.reveal()));
    CHECK(old.status == 422);
    CHECK(any_contains(errors_of(old), "certificate", "expired"));

    const TestCert elsewhere = inter.issue({"other.example.com"});
    auto uncovered = px.admin("PUT", path, token, upload(elsewhere.chain_pem, elsewhere.key_pem.reveal()));
    CHECK(uncovered.status == 422);
    CHECK(any_contains(errors_of(uncovered), "certificate", "names not covered by the certificate: api.example.com"));

    auto locked = px.admin("PUT", path, token, upload(good.chain_pem, encrypted(good.key_pem)));
    CHECK(locked.status == 422);
    CHECK(any_contains(errors_of(locked), "private_key", "encrypted"));

    const TestCert both = inter.issue({.names = {"other.example.com"}, .validity = Validity::expired()});
    auto two = px.admin("PUT", path, token, upload(both.chain_pem, both.key_pem.reveal()));
    CHECK(errors_of(two).size() == 2);

    auto garbage = px.admin("PUT", path, token, upload("not a pem", "not a key either"));
    CHECK(garbage.status == 422);
    CHECK(errors_of(garbage).size() == 2);

    auto extra = px.admin("PUT", path, token,
                          R"({"certificate": "x", "private_key": "y", "password": "z"})");
    CHECK(any_contains(errors_of(extra), "password", "unknown field"));
    CHECK(px.admin("PUT", "/api/v1/endpoints/none/transitional-certificate", token,
                   upload(good.chain_pem, good.key_pem.reveal()))
              .status == 404);
    // Nothing was stored or served by any of them.
    CHECK(px.served_serial("api.example.com") == std::optional<std::string>(certs.default_cert.serial));
  }
  SECTION("a good one: a summary, served at once, in the status, gone when deleted") {
    auto put = px.admin("PUT", path, token, upload(good.chain_pem, good.key_pem.reveal()));
    REQUIRE(put.status == 201);
    auto summary = json_of(put);
    CHECK(summary.at("issuer") == "Old PaaS Intermediate");
    CHECK(summary.at("serial").as_string() == good.serial_hex);
    CHECK(summary.at("names").as_array().size() == 2);
    CHECK(summary.at("sha256_fingerprint").as_string().size() == 95);  // 32 bytes as "AB:" x 31 + "CD"
    // The one warning: the private CA, let through by allow_untrusted.
    REQUIRE(summary.at("warnings").as_array().size() == 1);
    CHECK(summary.at("warnings").as_array()[0].as_string().find("allow_untrusted") != std::string::npos);
    CHECK(px.served_serial("api.example.com") == std::optional<std::string>(good.serial_hex));

    auto status = json_of(px.admin("GET", "/api/v1/endpoints/api/certificate", token));
    REQUIRE(status.at("served").as_array().size() == 1);
    CHECK(status.at("served").as_array()[0].as_object().at("source") == "transitional");
    CHECK(status.at("transitional").as_object().at("serial").as_string() == good.serial_hex);
    CHECK(status.at("managed").as_object().at("enabled") == false);

    const TestCert soon = inter.issue({.names = {"api.example.com"}, .validity = Validity::days(5)});
    auto replaced = px.admin("PUT", path, token, upload(soon.chain_pem, soon.key_pem.reveal()));
    REQUIRE(replaced.status == 201);
    REQUIRE(json_of(replaced).at("warnings").as_array().size() == 2);
    CHECK(json_of(replaced).at("warnings").as_array()[1].as_string().find("expires in 5 days") != std::string::npos);
    CHECK(px.served_serial("api.example.com") == std::optional<std::string>(soon.serial_hex));

    CHECK(px.admin("DELETE", path, token).status == 204);
    CHECK(px.served_serial("api.example.com") == std::optional<std::string>(certs.default_cert.serial));
    CHECK(px.admin("DELETE", path, token).status == 404);

    // Every swap, newest first.
    CHECK(timeline(px, token, "api") ==
          std::vector<std::string>{"transitional removed default " + certs.default_cert.serial,
                                   "transitional replaced transitional " + soon.serial_hex,
                                   "transitional uploaded transitional " + good.serial_hex,
                                   "endpoint added default " + certs.default_cert.serial});

    // The key is in no response and no log line.
    for (const auto* key : {&good.key_pem, &soon.key_pem}) {
      const auto material = key_material(*key);
      CHECK(put.body.find(material) == std::string::npos);
      CHECK(replaced.body.find(material) == std::string::npos);
      CHECK(px.log().find(material) == std::string::npos);
    }
    CHECK(px.log().find(token) == std::string::npos);
  }
  SECTION("renew and dns answer what this configuration allows") {
    auto renew = px.admin("POST", "/api/v1/endpoints/api/renew?force=true", token);
    CHECK(renew.status == 409);
    CHECK(json_of(renew).at("detail").as_string().find("no managed certificate") != std::string::npos);
    CHECK(px.admin("POST", "/api/v1/endpoints/api/renew?force=maybe", token).status == 422);
    auto dns = px.admin("GET", "/api/v1/endpoints/api/dns", token);
    CHECK(dns.status == 409);
    CHECK(json_of(dns).at("detail").as_string().find("[dns]") != std::string::npos);
  }
}

TEST_CASE("the certificate timeline shows the transitional certificate, then the managed one, and a restart keeps it",
          "[integration][admin][acme]") {
  UpstreamServer upstream;
  TempDir data("portcullis-timeline-data");
  auto root = TestCa::create("Old PaaS Root");
  const TestCert old = root.issue({"shop.example.com"});
  const auto http_port = free_port();
  PebbleFixture pebble(PebbleOptions{.http_port = http_port});
  FixtureOptions options;
  options.admin = true;
  options.http_port = http_port;
  options.data_dir = data.path();
  options.extra_toml = fmt::format("[acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\n", pebble.directory_url(),
                                   pebble.ca_bundle().string());
  std::vector<std::string> before_restart;
  {
    PortcullisFixture px(options);
    const std::string token = px.admin_token();
    REQUIRE(px.admin("POST", "/api/v1/endpoints", token,
                     R"({"id": "shop", "hostnames": ["shop.example.com"], "managed_https": false, "upstreams": [")" +
                         upstream.address() + R"("]})")
                .status == 201);
    REQUIRE(px.admin("PUT", "/api/v1/endpoints/shop/transitional-certificate", token,
                     upload(old.chain_pem, old.key_pem.reveal()))
                .status == 201);
    REQUIRE(px.admin("PATCH", "/api/v1/endpoints/shop", token, R"({"managed_https": true})").status == 200);
    std::string issued;
    REQUIRE(wait_until([&] { return !(issued = managed_serial(px, token, "shop")).empty(); }, issuance_deadline,
                       100ms));
    REQUIRE(wait_until([&] { return px.served_serial("shop.example.com") == normalize_serial(issued); },
                       issuance_deadline, 100ms));
    before_restart = timeline(px, token, "shop");
    REQUIRE(before_restart.size() == 3);
    CHECK(before_restart[0] == "issued managed " + issued);
    CHECK(before_restart[1] == "transitional uploaded transitional " + old.serial_hex);
    CHECK(before_restart[2].starts_with("endpoint added default "));
    auto doc = json_of(px.admin("GET", "/api/v1/endpoints/shop/certificate", token));
    const auto& newest = doc.at("timeline").as_array()[0].as_object();
    CHECK(newest.at("hostnames").as_array() == json::array{"shop.example.com"});
    CHECK(newest.at("at").as_string().size() == 20);  // RFC 3339, UTC, to the second
    CHECK(newest.at("not_after").is_string());
    REQUIRE(px.stop() == std::optional<int>(0));
  }
  PortcullisFixture again(options);
  // The same certificate is served after the restart: no new entry, the old ones read back.
  CHECK(timeline(again, again.admin_token(), "shop") == before_restart);
}

TEST_CASE("an upload with weak keys, weak signatures or an untrusted chain is refused with every reason at once",
          "[integration][admin]") {
  UpstreamServer upstream;
  auto root = TestCa::create("Private Root");
  auto inter = root.intermediate("Private Intermediate");
  // A SHA-1 signed intermediate, and under it an RSA-1024 leaf, itself signed with SHA-1.
  auto sha1_inter = root.intermediate("SHA-1 Intermediate", Validity::days(365), KeyType::p256, Digest::sha1);
  const TestCert weak = sha1_inter.issue({.names = {"api.example.com"}, .key_type = KeyType::rsa1024,
                                          .digest = Digest::sha1});
  const TestCert odd_curve = inter.issue({.names = {"api.example.com"}, .key_type = KeyType::secp256k1});
  const TestCert good = inter.issue({"api.example.com"});

  FixtureOptions options;
  options.admin = true;
  options.endpoints = {{"api", {"api.example.com"}, {upstream.address()}}};
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  const std::string path = "/api/v1/endpoints/api/transitional-certificate";
  const auto before = px.served_serial("api.example.com");

  // Without allow_untrusted: the key, both signatures and the trust, in one answer.
  auto refused = px.admin("PUT", path, token, upload(weak.chain_pem, weak.key_pem.reveal(), false));
  CHECK(refused.status == 422);
  const auto errors = errors_of(refused);
  INFO(refused.body);
  CHECK(errors.size() == 4);
  CHECK(any_contains(errors, "certificate", "certificate 1 (CN=api.example.com): RSA key of 1024 bits"));
  CHECK(any_contains(errors, "certificate", "certificate 1 (CN=api.example.com): signed with ecdsa-with-SHA1"));
  CHECK(any_contains(errors, "certificate", "certificate 2 (CN=SHA-1 Intermediate): signed with ecdsa-with-SHA1"));
  CHECK(any_contains(errors, "certificate", "does not verify against the trust store"));

  // allow_untrusted waives the root, never the policy.
  auto still = px.admin("PUT", path, token, upload(weak.chain_pem, weak.key_pem.reveal(), true));
  CHECK(still.status == 422);
  CHECK(errors_of(still).size() == 3);
  auto curve = px.admin("PUT", path, token, upload(odd_curve.chain_pem, odd_curve.key_pem.reveal(), true));
  CHECK(curve.status == 422);
  CHECK(any_contains(errors_of(curve), "certificate", "EC key on curve secp256k1"));

  // A sound chain from a private CA: refused with OpenSSL's reason, then let through with a warning.
  auto untrusted = px.admin("PUT", path, token, upload(good.chain_pem, good.key_pem.reveal(), false));
  CHECK(untrusted.status == 422);
  CHECK(errors_of(untrusted) ==
        std::vector<std::string>{"certificate: the chain does not verify against the trust store: certificate 2 "
                                 "(CN=Private Intermediate): unable to get local issuer certificate (a private CA "
                                 "needs allow_untrusted)"});
  CHECK(px.served_serial("api.example.com") == before);
  CHECK(px.admin("PUT", path, token,
                 R"({"certificate": "x", "private_key": "y", "allow_untrusted": "yes"})")
            .status == 422);

  auto accepted = px.admin("PUT", path, token, upload(good.chain_pem, good.key_pem.reveal(), true));
  REQUIRE(accepted.status == 201);
  const auto warnings = json_of(accepted).at("warnings").as_array();
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].as_string().find("unable to get local issuer certificate (accepted: allow_untrusted is set)") !=
        std::string::npos);
  CHECK(px.served_serial("api.example.com") == std::optional<std::string>(good.serial_hex));
}

TEST_CASE("an upload for one endpoint naming another endpoint's hostnames does not change what they serve",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto root = TestCa::create("Customer Root");
  auto inter = root.intermediate("Customer Intermediate");
  // B's own certificate, and A's upload claiming B's name (exactly, and by a wildcard), longer-lived.
  const TestCert b_cert = inter.issue({"b.example.com"}, Validity::days(30));
  const TestCert grab = inter.issue({"a.example.com", "b.example.com"}, Validity::days(300));
  const TestCert wild = inter.issue({"*.example.com"}, Validity::days(300));

  FixtureOptions options;
  options.admin = true;
  options.default_cert = certs.default_cert;
  PortcullisFixture px(options);
  const std::string token = px.admin_token();
  for (const std::string id : {"a", "b", "c"}) {
    REQUIRE(px.admin("POST", "/api/v1/endpoints", token,
                     fmt::format(R"({{"id": "{}", "hostnames": ["{}.example.com"], "upstreams": ["{}"], )"
                                 R"("managed_https": false}})",
                                 id, id, upstream.address()))
                .status == 201);
  }
  const auto put = [&](const std::string& id, const TestCert& cert) {
    return px.admin("PUT", "/api/v1/endpoints/" + id + "/transitional-certificate", token,
                    upload(cert.chain_pem, cert.key_pem.reveal()))
        .status;
  };
  REQUIRE(put("b", b_cert) == 201);
  REQUIRE(px.served_serial("b.example.com") == std::optional<std::string>(b_cert.serial_hex));

  REQUIRE(put("a", grab) == 201);
  CHECK(px.served_serial("a.example.com") == std::optional<std::string>(grab.serial_hex));
  CHECK(px.served_serial("b.example.com") == std::optional<std::string>(b_cert.serial_hex));

  // A wildcard answers for A's own name only: not for B's, nor for C's (which has no certificate).
  REQUIRE(put("a", wild) == 201);
  CHECK(px.served_serial("a.example.com") == std::optional<std::string>(wild.serial_hex));
  CHECK(px.served_serial("b.example.com") == std::optional<std::string>(b_cert.serial_hex));
  CHECK(px.served_serial("c.example.com") == std::optional<std::string>(certs.default_cert.serial));
  CHECK(px.served_serial("unowned.example.com") == std::optional<std::string>(certs.default_cert.serial));

  // When B's certificate goes, B's name falls back: A's upload still does not answer for it.
  REQUIRE(px.admin("DELETE", "/api/v1/endpoints/b/transitional-certificate", token).status == 204);
  CHECK(px.served_serial("b.example.com") == std::optional<std::string>(certs.default_cert.serial));
  // A hostname added to A later is answered by A's upload (the index follows the endpoint).
  REQUIRE(px.admin("PATCH", "/api/v1/endpoints/c", token, R"({"hostnames": ["c2.example.com"]})").status == 200);
  REQUIRE(px.admin("PATCH", "/api/v1/endpoints/a", token, R"({"hostnames": ["a.example.com", "c.example.com"]})")
              .status == 200);
  CHECK(px.served_serial("c.example.com") == std::optional<std::string>(wild.serial_hex));
}

TEST_CASE("a [[certificate]] file with a weak key stops the start, naming the file and the reason",
          "[integration][proxy]") {
  TempDir dir("portcullis-weak-cert");
  auto root = TestCa::create("Weak Root");
  const TestCert weak = root.issue({.names = {"weak.example.com"}, .key_type = KeyType::rsa1024});
  const auto cert_file = dir.path() / "weak.crt";
  weak.write_files(cert_file, dir.path() / "weak.key");
  FixtureOptions options;
  options.certificates = {CertFiles{cert_file, dir.path() / "weak.key", weak.serial_hex}};
  std::string error;
  try {
    PortcullisFixture px(options);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  INFO(error);
  CHECK(error.find("certificate: " + cert_file.string() +
                   ": certificate 1 (CN=weak.example.com): RSA key of 1024 bits: at least 2048 are required") !=
        std::string::npos);
}

TEST_CASE("a [[certificate]] file from a private CA is served, and the log says why it is not trusted",
          "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  FixtureOptions options;
  options.certificates = {certs.app};
  options.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  PortcullisFixture px(options);
  CHECK(px.served_serial("app.example.com") == std::optional<std::string>(certs.app.serial));
  const std::string line = "certificate file not trusted file=" + certs.app.cert.string() + " reason=\"";
  CHECK(px.log().find(line) != std::string::npos);
  CHECK(px.log().find("served=true") != std::string::npos);
}
