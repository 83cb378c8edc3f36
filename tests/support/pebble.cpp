#include "tests/support/pebble.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <openssl/pem.h>

#include "acme/http_client.hpp"
#include "base/ossl.hpp"

namespace portcullis::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using base::PkeyPtr;
using base::X509Ptr;

constexpr auto poll_interval = 20ms;
// SIGKILL cannot be ignored: the exit follows at once.
constexpr auto kill_deadline = 5s;

std::string tail(const std::string& text, std::size_t n = 2000) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

std::string output_of(const ChildProcess& process) { return process.stdout_text() + process.stderr_text(); }

// True when a DNS server on 127.0.0.1:`port` answers a UDP query (A of "probe.test.") within
// `timeout`: the management API answering says nothing about challtestsrv's DNS listener.
bool dns_answers(std::uint16_t port, int timeout_ms = 200) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static constexpr unsigned char query[] = {
      0x70, 0x63, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,  // id, recursion desired, one question
      5, 'p', 'r', 'o', 'b', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};  // probe.test. A IN
  bool answered = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
      ::send(fd, query, sizeof query, 0) == static_cast<ssize_t>(sizeof query)) {
    pollfd p{fd, POLLIN, 0};
    unsigned char reply[512];
    if (::poll(&p, 1, timeout_ms) == 1) {
      const auto n = ::recv(fd, reply, sizeof reply, 0);
      answered = n >= 12 && reply[0] == query[0] && reply[1] == query[1] && (reply[2] & 0x80);
    }
  }
  ::close(fd);
  return answered;
}

// --- certificates for Pebble's HTTPS listener ------------------------------------------------

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error(fmt::format("extension {}: {}", value, base::openssl_errors()));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509Ptr make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca, long serial) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509* signer = issuer ? issuer : cert.get();
  if (ca) {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    add_ext(cert.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid");
  }
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
    throw std::runtime_error("X509_sign: " + base::openssl_errors());
  return cert;
}

std::string cert_pem(X509* cert) {
  base::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string key_pem(EVP_PKEY* key) {
  base::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

SimpleResponse http_fetch(const std::string& url, const fs::path& ca_bundle, const std::string& post_body) {
  boost::asio::io_context io;
  acme::HttpClientOptions options;
  options.ca_bundle = ca_bundle;
  options.timeouts.connect = 2s;
  options.timeouts.request = 5s;
  auto client = acme::HttpClient::create(io.get_executor(), options);
  if (!client) throw std::runtime_error(client.error().message());
  acme::HttpRequest req;
  req.url = url;
  if (!post_body.empty()) {
    req.method = boost::beast::http::verb::post;
    req.body = post_body;
    req.content_type = "application/json";
  }
  std::optional<Result<acme::HttpResponse>> result;
  boost::asio::co_spawn(io, (*client)->request(std::move(req)),
                        [&](std::exception_ptr e, Result<acme::HttpResponse> r) {
                          if (e) std::rethrow_exception(e);
                          result.emplace(std::move(r));
                        });
  io.run();
  if (!result || !*result) throw std::runtime_error(result ? (*result).error().message() : "no result");
  return {(**result).status, std::move((**result).body)};
}

PebbleFixture::PebbleFixture(PebbleOptions options) : options_(std::move(options)) {
  PkeyPtr ca_key(EVP_EC_gen("P-256"));
  auto ca = make_cert(ca_key.get(), "Portcullis test CA for Pebble", nullptr, nullptr, true, 1);
  PkeyPtr tls_key(EVP_EC_gen("P-256"));
  auto tls = make_cert(tls_key.get(), "localhost", ca.get(), ca_key.get(), false, 2);
  write_file(dir_ / "ca.pem", cert_pem(ca.get()));
  write_file(dir_ / "cert.pem", cert_pem(tls.get()));
  write_file(dir_ / "key.pem", key_pem(tls_key.get()));

  // free_port() cannot reserve a port: another process may bind it before the child does. A child
  // that says so is stopped (it may run on without that listener, as challtestsrv does) and
  // started again on fresh ports. On a throw below, the members already built stop their
  // processes, then remove the directory.
  for (int attempt = 1;; ++attempt) {
    dns_port_ = free_port();
    challtestsrv_port_ = free_port();
    launch_challtestsrv();
    const auto outcome = wait_started(*challtestsrv_, challtestsrv_url() + "/",
                                      [&](std::string& e) { return challtestsrv_ready(e); });
    if (outcome == StartOutcome::ready) break;
    if (outcome == StartOutcome::exited || attempt == start_attempts)
      throw std::runtime_error(fmt::format("pebble-challtestsrv pid {} (DNS on {}, management on {}) failed to "
                                           "start (attempt {} of {}):\n{}",
                                           challtestsrv_->pid(), dns_port_, challtestsrv_port_, attempt,
                                           start_attempts, tail(output_of(*challtestsrv_))));
    challtestsrv_.reset();
  }
  for (int attempt = 1;; ++attempt) {
    acme_port_ = free_port();
    management_port_ = free_port();
    write_config();
    launch_pebble();
    const auto outcome =
        wait_started(*pebble_, directory_url(), [&](std::string& e) { return pebble_ready(e); });
    if (outcome == StartOutcome::ready) break;
    if (outcome == StartOutcome::exited || attempt == start_attempts)
      throw std::runtime_error(fmt::format("pebble pid {} (ACME on {}, management on {}) failed to start "
                                           "(attempt {} of {}):\n{}",
                                           pebble_->pid(), acme_port_, management_port_, attempt,
                                           start_attempts, tail(output_of(*pebble_))));
    pebble_.reset();
  }
}

PebbleFixture::~PebbleFixture() = default;

void PebbleFixture::write_config() {
  boost::json::object pebble{
      {"listenAddress", fmt::format("127.0.0.1:{}", acme_port_)},
      {"managementListenAddress", fmt::format("127.0.0.1:{}", management_port_)},
      {"certificate", (dir_ / "cert.pem").string()},
      {"privateKey", (dir_ / "key.pem").string()},
      {"httpPort", options_.http_port},
      {"tlsPort", 5001},  // TLS-ALPN-01 is not used by these tests
      {"ocspResponderURL", ""},
      {"externalAccountBindingRequired", !options_.eab_keys.empty()},
  };
  if (options_.certificate_validity_seconds > 0)
    pebble["certificateValidityPeriod"] = options_.certificate_validity_seconds;
  if (!options_.eab_keys.empty()) {
    boost::json::object keys;
    for (const auto& [kid, mac] : options_.eab_keys) keys[kid] = mac;
    pebble["externalAccountMACKeys"] = std::move(keys);
  }
  write_file(dir_ / "pebble-config.json", boost::json::serialize(boost::json::object{{"pebble", pebble}}));
}

void PebbleFixture::launch_challtestsrv() {
  challtestsrv_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                               "-http01", "", "-https01", "", "-tlsalpn01", "", "-dns01",
                               fmt::format("127.0.0.1:{}", dns_port_), "-management",
                               fmt::format("127.0.0.1:{}", challtestsrv_port_)},
      dir_.path());
}

void PebbleFixture::launch_pebble() {
  std::vector<std::string> env{"PEBBLE_VA_NOSLEEP=1"};
  env.insert(env.end(), options_.env.begin(), options_.env.end());
  pebble_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/pebble", "-config", (dir_ / "pebble-config.json").string(), "-dnsserver",
                               options_.dns_server.empty() ? fmt::format("127.0.0.1:{}", dns_port_)
                                                           : options_.dns_server},
      dir_.path(), std::move(env));
  pebble_logs_.push_back(pebble_->stdout_path());
  pebble_logs_.push_back(pebble_->stderr_path());
}

bool PebbleFixture::answers(const std::string& url, std::string& last_error) const {
  try {
    return http_fetch(url, ca_bundle()).status > 0;
  } catch (const std::exception& e) {
    last_error = url + ": " + e.what();
    return false;
  }
}

bool PebbleFixture::challtestsrv_ready(std::string& last_error) const {
  if (!answers(challtestsrv_url() + "/", last_error)) return false;
  if (dns_answers(dns_port_)) return true;
  last_error = fmt::format("no DNS answer on 127.0.0.1:{}", dns_port_);
  return false;
}

// Pebble serves its management API from a goroutine of its own: the directory answering does
// not mean that listener is bound.
bool PebbleFixture::pebble_ready(std::string& last_error) const {
  return answers(directory_url(), last_error) && answers(management_url() + "/roots/0", last_error);
}

PebbleFixture::StartOutcome PebbleFixture::wait_started(ChildProcess& process, const std::string& url,
                                                        const std::function<bool(std::string&)>& ready) const {
  std::string last_error;
  StartOutcome outcome = StartOutcome::ready;
  const bool settled = wait_until(
      [&] {
        if (!process.running()) {
          outcome = says_address_in_use(output_of(process)) ? StartOutcome::address_in_use : StartOutcome::exited;
          return true;
        }
        if (says_address_in_use(output_of(process))) {
          outcome = StartOutcome::address_in_use;
          return true;
        }
        return ready(last_error);
      },
      options_.ready_deadline, poll_interval);
  if (!settled)
    throw std::runtime_error(fmt::format("pid {}: {} not ready within {} ms: {}\nlog:\n{}", process.pid(), url,
                                         options_.ready_deadline.count(), last_error, tail(output_of(process))));
  return outcome;
}

void PebbleFixture::start_pebble() {
  if (pebble_ && pebble_->running()) return;
  launch_pebble();
  if (wait_started(*pebble_, directory_url(), [&](std::string& e) { return pebble_ready(e); }) !=
      StartOutcome::ready)
    throw std::runtime_error(fmt::format("pebble pid {} (to serve {}) failed to start:\n{}", pebble_->pid(),
                                         directory_url(), tail(output_of(*pebble_))));
}

void PebbleFixture::stop_pebble() {
  if (!pebble_) return;
  pebble_->signal(SIGKILL);
  pebble_->wait_exit(kill_deadline);
  pebble_.reset();
}

std::string PebbleFixture::directory_url() const { return fmt::format("https://127.0.0.1:{}/dir", acme_port_); }
fs::path PebbleFixture::ca_bundle() const { return dir_ / "ca.pem"; }
std::string PebbleFixture::management_url() const { return fmt::format("https://127.0.0.1:{}", management_port_); }
std::string PebbleFixture::challtestsrv_url() const { return fmt::format("http://127.0.0.1:{}", challtestsrv_port_); }
std::string PebbleFixture::pebble_log() const {
  std::string out;
  for (const auto& log : pebble_logs_) out += read_file(log);
  return out;
}

std::string PebbleFixture::root_pem(int index) const {
  auto res = http_fetch(fmt::format("{}/roots/{}", management_url(), index), ca_bundle());
  if (res.status != 200) throw std::runtime_error(fmt::format("pebble roots/{}: status {}", index, res.status));
  return res.body;
}

std::string PebbleFixture::intermediate_pem(int index) const {
  auto res = http_fetch(fmt::format("{}/intermediates/{}", management_url(), index), ca_bundle());
  if (res.status != 200) throw std::runtime_error(fmt::format("pebble intermediates/{}: status {}", index, res.status));
  return res.body;
}

void PebbleFixture::set_txt(const std::string& host, const std::string& value) const {
  auto body = boost::json::serialize(boost::json::object{{"host", host + "."}, {"value", value}});
  auto res = http_fetch(challtestsrv_url() + "/set-txt", {}, body);
  if (res.status != 200) throw std::runtime_error(fmt::format("challtestsrv set-txt: status {}", res.status));
}

void PebbleFixture::clear_txt(const std::string& host) const {
  auto body = boost::json::serialize(boost::json::object{{"host", host + "."}});
  auto res = http_fetch(challtestsrv_url() + "/clear-txt", {}, body);
  if (res.status != 200) throw std::runtime_error(fmt::format("challtestsrv clear-txt: status {}", res.status));
}

}  // namespace portcullis::testing
