#include "tests/support/portcullis_fixture.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <sstream>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <openssl/bn.h>
#include <openssl/x509.h>

namespace portcullis::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

// openssl and curl runs are local and small; past this they are hung.
constexpr Millis openssl_deadline = 15s;
// How often the fixture polls a listener or the log while it waits.
constexpr Millis poll_interval = 20ms;

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string toml_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += toml_string(items[i]);
  }
  return out + "]";
}

std::string host_port(const std::string& host, std::uint16_t port) {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                             : host + ":" + std::to_string(port);
}

void require_ok(const CommandResult& r, const std::string& what) {
  if (r.exit_code != 0) {
    throw std::runtime_error(what + " failed (exit " + std::to_string(r.exit_code) + "): " + r.err);
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

// --- certificates --------------------------------------------------------------------------------

std::string normalize_serial(std::string_view text) {
  if (auto eq = text.find('='); eq != std::string_view::npos) text = text.substr(eq + 1);
  std::string s = trim(text);
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s = s.substr(2);
  std::string out;
  for (char c : s) {
    if (c == ':') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  auto first = out.find_first_not_of('0');
  return first == std::string::npos ? (out.empty() ? out : "0") : out.substr(first);
}

OpensslCa::OpensslCa(fs::path dir, std::string name) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
  cert_ = dir_ / "ca.crt";
  key_ = dir_ / "ca.key";
  require_ok(run_command({"openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-keyout", key_.string(), "-out",
                          cert_.string(), "-subj", "/CN=" + name, "-days", "30", "-addext",
                          "basicConstraints=critical,CA:TRUE", "-addext",
                          "keyUsage=critical,keyCertSign,cRLSign"},
                         openssl_deadline),
             "openssl req (CA)");
}

CertFiles OpensslCa::issue(const std::vector<std::string>& names, std::string serial_hex,
                           std::string file_stem, int days) const {
  CertFiles out;
  out.cert = dir_ / (file_stem + ".crt");
  out.key = dir_ / (file_stem + ".key");
  const auto csr = dir_ / (file_stem + ".csr");
  const auto ext = dir_ / (file_stem + ".ext");
  std::string san = "subjectAltName=";
  for (std::size_t i = 0; i < names.size(); ++i) san += (i ? ",DNS:" : "DNS:") + names[i];
  write_file(ext, san +
                      "\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                      "extendedKeyUsage=serverAuth\n");
  require_ok(run_command({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                          "-nodes", "-keyout", out.key.string(), "-out", csr.string(), "-subj",
                          "/CN=" + names.at(0)},
                         openssl_deadline),
             "openssl req (leaf)");
  require_ok(run_command({"openssl", "x509", "-req", "-in", csr.string(), "-CA", cert_.string(), "-CAkey",
                          key_.string(), "-set_serial", "0x" + serial_hex, "-days", std::to_string(days),
                          "-out", out.cert.string(), "-extfile", ext.string()},
                         openssl_deadline),
             "openssl x509 (leaf)");
  out.serial = normalize_serial(serial_hex);
  return out;
}

// --- curl ----------------------------------------------------------------------------------------

std::optional<std::string> CurlResult::header(std::string_view name) const {
  // The final response's block is the last one that starts with "HTTP/".
  auto start = headers.rfind("HTTP/");
  if (start == std::string::npos) return std::nullopt;
  std::istringstream in(headers.substr(start));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (iequals(trim(line.substr(0, colon)), name)) return trim(line.substr(colon + 1));
  }
  return std::nullopt;
}

// --- TlsClient -----------------------------------------------------------------------------------

TlsClient::TlsClient(std::uint16_t port, Options options)
    : port_(port), options_(std::move(options)), ctx_(asio::ssl::context::tls_client) {
  ctx_.set_verify_mode(asio::ssl::verify_none);
}

TlsClient::~TlsClient() = default;

void TlsClient::run() {
  ioc_.restart();
  ioc_.run();
}

boost::system::error_code TlsClient::connect() {
  buffer_.clear();
  stream_ = std::make_unique<Stream>(ioc_, ctx_);
  boost::system::error_code ec;
  auto& tcp_stream = beast::get_lowest_layer(*stream_);
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return ec;
  tcp::endpoint remote(address, port_);
  tcp_stream.socket().open(remote.protocol(), ec);
  if (ec) return ec;
  if (!options_.bind_address.empty()) {
    tcp_stream.socket().bind(tcp::endpoint(asio::ip::make_address(options_.bind_address), 0), ec);
    if (ec) return ec;
  }
  tcp_stream.expires_after(options_.timeout);
  tcp_stream.async_connect(remote, [&](boost::system::error_code e) { ec = e; });
  run();
  if (ec) return ec;

  SSL* ssl = stream_->native_handle();
  if (!options_.sni.empty()) SSL_set_tlsext_host_name(ssl, options_.sni.c_str());
  if (!options_.ciphers.empty() && SSL_set_cipher_list(ssl, options_.ciphers.c_str()) != 1)
    return asio::error::invalid_argument;
  if (options_.min_version != 0 && SSL_set_min_proto_version(ssl, options_.min_version) != 1)
    return asio::error::invalid_argument;
  if (options_.max_version != 0 && SSL_set_max_proto_version(ssl, options_.max_version) != 1)
    return asio::error::invalid_argument;
  if (options_.resume) {
    // A copy, so the caller's session stays resumable whatever becomes of this connection.
    SSL_SESSION* copy = SSL_SESSION_dup(options_.resume.get());
    const bool set = copy != nullptr && SSL_set_session(ssl, copy) == 1;
    SSL_SESSION_free(copy);
    if (!set) return asio::error::invalid_argument;
  }
  if (!options_.alpn.empty()) {
    std::string wire;
    for (const auto& p : options_.alpn) {
      wire.push_back(static_cast<char>(p.size()));
      wire += p;
    }
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
  }
  tcp_stream.expires_after(options_.timeout);
  stream_->async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code e) { ec = e; });
  run();
  return ec;
}

std::string TlsClient::peer_serial() const {
  if (!stream_) return {};
  X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
  if (!cert) return {};
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = normalize_serial(hex ? hex : "");
  OPENSSL_free(hex);
  BN_free(bn);
  X509_free(cert);
  return out;
}

std::string TlsClient::alpn_selected() const {
  if (!stream_) return {};
  const unsigned char* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(stream_->native_handle(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string TlsClient::tls_version() const {
  return stream_ ? SSL_get_version(stream_->native_handle()) : "";
}

std::string TlsClient::cipher() const {
  if (!stream_) return {};
  const SSL_CIPHER* c = SSL_get_current_cipher(stream_->native_handle());
  return c ? SSL_CIPHER_get_name(c) : "";
}

bool TlsClient::session_reused() const { return stream_ && SSL_session_reused(stream_->native_handle()) == 1; }

std::shared_ptr<SSL_SESSION> TlsClient::session() const {
  if (!stream_) return nullptr;
  // A copy: OpenSSL marks the connection's own session not resumable when the connection is freed
  // without a close_notify, as a test client's often is.
  SSL_SESSION* s = SSL_SESSION_dup(SSL_get0_session(stream_->native_handle()));
  return s ? std::shared_ptr<SSL_SESSION>(s, SSL_SESSION_free) : nullptr;
}

boost::system::error_code TlsClient::write_raw(std::string_view bytes) {
  boost::system::error_code ec;
  beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
  asio::async_write(*stream_, asio::buffer(bytes.data(), bytes.size()),
                    [&](boost::system::error_code e, std::size_t) { ec = e; });
  run();
  return ec;
}

boost::system::error_code TlsClient::write(StringRequest& req) {
  boost::system::error_code ec;
  beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
  http::async_write(*stream_, req, [&](boost::system::error_code e, std::size_t) { ec = e; });
  run();
  return ec;
}

boost::system::error_code TlsClient::read(StringResponse& res) {
  boost::system::error_code ec;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
  http::async_read(*stream_, buffer_, parser, [&](boost::system::error_code e, std::size_t) { ec = e; });
  run();
  if (!ec) res = parser.release();
  return ec;
}

boost::system::error_code TlsClient::request(StringRequest& req, StringResponse& res) {
  if (auto ec = write(req)) return ec;
  return read(res);
}

bool TlsClient::wait_closed(Millis deadline) {
  if (!stream_) return true;
  // Bytes already buffered would be a second response: the connection was not closed after it.
  if (buffer_.size() > 0) return false;
  beast::get_lowest_layer(*stream_).expires_after(deadline);
  char scratch[4096];
  boost::system::error_code ec;
  bool got_data = false;
  for (;;) {
    std::size_t n = 0;
    stream_->async_read_some(asio::buffer(scratch), [&](boost::system::error_code e, std::size_t k) {
      ec = e;
      n = k;
    });
    run();
    if (ec) break;
    if (n > 0) got_data = true;
  }
  return !got_data && ec != beast::error::timeout;
}

void TlsClient::close() {
  if (!stream_) return;
  boost::system::error_code ignored;
  beast::get_lowest_layer(*stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(*stream_).close();
  stream_.reset();
}

StringRequest make_request(http::verb method, std::string target, std::string host, std::string body) {
  StringRequest req{method, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "portcullis-itest");
  if (!body.empty() || method == http::verb::post || method == http::verb::put) {
    req.body() = std::move(body);
    req.prepare_payload();
  }
  req.keep_alive(true);
  return req;
}

LoopTally run_swap_loop(std::uint16_t port, const std::string& host, std::size_t wanted, Millis deadline,
                        const std::atomic<bool>& swapped, std::atomic<std::size_t>& done,
                        const std::function<void(const std::string& serial, bool after_swap)>& on_handshake) {
  LoopTally tally;
  const auto until = Clock::now() + deadline;
  for (std::size_t conn = 0; tally.requests < wanted && Clock::now() < until; ++conn) {
    const bool after_swap = swapped.load();
    TlsClient client(port, TlsClient::Options{host});
    ++tally.handshakes;
    if (auto ec = client.connect()) {
      ++tally.failures;
      tally.errors.push_back("handshake: " + ec.message());
      continue;
    }
    on_handshake(client.peer_serial(), after_swap);
    const std::size_t per_connection = conn % 3 == 0 ? 1 : 10;
    for (std::size_t i = 0; i < per_connection && tally.requests < wanted; ++i) {
      auto req = make_request(http::verb::get, "/loop/" + std::to_string(tally.requests), host);
      StringResponse res;
      if (auto ec = client.request(req, res)) {
        ++tally.failures;
        tally.errors.push_back("request " + std::to_string(tally.requests) + ": " + ec.message());
        break;
      }
      if (res.result_int() != 200) {
        ++tally.failures;
        tally.errors.push_back("request " + std::to_string(tally.requests) + ": status " +
                               std::to_string(res.result_int()));
      }
      ++tally.requests;
      done = tally.requests;
      if (i > 0) ++tally.keepalive_reuses;
      if (!res.keep_alive()) break;  // the server may end a connection politely
    }
  }
  return tally;
}

// --- the fixture ---------------------------------------------------------------------------------

PortcullisFixture::PortcullisFixture(FixtureOptions options) : options_(std::move(options)) {
  config_path_ = dir_ / "portcullis.toml";
  // free_port() cannot reserve a port: another process may take it before the binary binds it.
  // That one case (and only it) is retried with fresh ports.
  constexpr int start_attempts = 3;
  for (int attempt = 1;; ++attempt) {
    https_port_ = free_port(options_.https_host);
    http_port_ = options_.http_port ? options_.http_port : free_port();
    if (options_.internal_listener) internal_port_ = free_port();
    if (options_.admin) admin_port_ = free_port();
    write_file(config_path_, render_config());
    if (start()) return;
    const auto text = log();
    if (attempt < start_attempts && says_address_in_use(text)) {
      process_.reset();
      continue;
    }
    throw std::runtime_error("portcullis did not come up (exit " +
                             (process_->exit_code() ? std::to_string(*process_->exit_code()) : "none") +
                             "); config:\n" + render_config() + "\nstderr:\n" + text);
  }
}

bool PortcullisFixture::start() {
  std::vector<std::string> argv{portcullis_binary().string(), "run", "--config", config_path_.string()};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  process_ = std::make_unique<ChildProcess>(std::move(argv), dir_ / "logs");
  std::vector<std::pair<std::string, std::uint16_t>> listeners = {{options_.https_host, https_port_},
                                                                  {"127.0.0.1", http_port_}};
  if (internal_port_) listeners.emplace_back("127.0.0.1", internal_port_);
  if (admin_port_) listeners.emplace_back("127.0.0.1", admin_port_);
  const bool up = wait_until(
      [&] {
        if (!process_->running()) return true;
        return std::all_of(listeners.begin(), listeners.end(),
                           [](const auto& l) { return can_connect(l.first, l.second, 200ms); });
      },
      start_deadline, poll_interval);
  return up && process_->running();
}

PortcullisFixture::~PortcullisFixture() {
  // PORTCULLIS_ITEST_VERBOSE=1: the config and the binary's log of every fixture, for debugging.
  if (const char* v = std::getenv("PORTCULLIS_ITEST_VERBOSE"); v && *v && *v != '0') {
    std::fprintf(stderr, "---- portcullis config %s\n%s---- portcullis stderr (pid %d)\n%s----\n",
                 config_path_.c_str(), read_file(config_path_).c_str(), static_cast<int>(process_->pid()),
                 log().c_str());
  }
}

std::string PortcullisFixture::render_config() const {
  std::ostringstream t;
  t << "# Generated by the integration test fixture.\n"
    << "[server]\n"
    << "data_dir = " << toml_string((options_.data_dir.empty() ? dir_ / "data" : options_.data_dir).string()) << "\n"
    << "workers = " << options_.workers << "\n"
    << "log_level = " << toml_string(options_.log_level) << "\n";
  if (!options_.log_format.empty()) t << "log_format = " << toml_string(options_.log_format) << "\n";
  t << "\n";
  t << "[[listener]]\nname = \"https\"\naddress = " << toml_string(host_port(options_.https_host, https_port_))
    << "\nprotocol = \"https\"\nscope = \"external\"\n\n";
  t << "[[listener]]\nname = \"http\"\naddress = " << toml_string(host_port("127.0.0.1", http_port_))
    << "\nprotocol = \"http\"\nscope = \"external\"\n\n";
  if (internal_port_) {
    t << "[[listener]]\nname = \"internal\"\naddress = " << toml_string(host_port("127.0.0.1", internal_port_))
      << "\nprotocol = \"https\"\nscope = \"internal\"\n\n";
  }
  t << "[tls]\nmin_version = " << toml_string(options_.min_tls_version) << "\n";
  if (options_.default_cert) {
    t << "default_cert = " << toml_string(options_.default_cert->cert.string()) << "\n"
      << "default_key = " << toml_string(options_.default_cert->key.string()) << "\n";
  }
  if (options_.fallback_cert) {
    t << "fallback_cert = " << toml_string(options_.fallback_cert->cert.string()) << "\n"
      << "fallback_key = " << toml_string(options_.fallback_cert->key.string()) << "\n";
  }
  t << "\n";
  for (const auto& c : options_.certificates) {
    t << "[[certificate]]\ncert_file = " << toml_string(c.cert.string())
      << "\nkey_file = " << toml_string(c.key.string()) << "\n\n";
  }
  for (const auto& d : options_.certificate_dirs) {
    t << "[[certificate_dir]]\npath = " << toml_string(d.string()) << "\n\n";
  }
  if (!options_.limits.empty()) {
    t << "[limits]\n";
    for (const auto& [k, v] : options_.limits) t << k << " = " << v << "\n";
    t << "\n";
  }
  for (const auto& e : options_.endpoints) {
    t << "[[endpoint]]\nid = " << toml_string(e.id) << "\nhostnames = " << toml_array(e.hostnames)
      << "\nscope = " << toml_string(e.scope) << "\nupstreams = " << toml_array(e.upstreams)
      << "\nip_allowlist = " << toml_array(e.ip_allowlist)
      << "\nmanaged_https = " << (e.managed_https ? "true" : "false") << "\n\n";
  }
  t << "[demo]\nenabled = false\n";
  if (admin_port_) {
    t << "\n[admin]\nlisten = " << toml_string(host_port("127.0.0.1", admin_port_)) << "\n";
    if (options_.metrics_public) t << "metrics_public = true\n";
  }
  if (!options_.extra_toml.empty()) t << "\n" << options_.extra_toml << "\n";
  return t.str();
}

ReloadOutcome PortcullisFixture::reload() {
  const auto log_before = log();
  const auto applied_before = count_occurrences(log_before, "config reloaded");
  const auto rejected_before = count_occurrences(log_before, "reload rejected");
  process_->signal(SIGHUP);
  ReloadOutcome outcome = ReloadOutcome::timed_out;
  wait_until(
      [&] {
        const auto text = log();
        if (count_occurrences(text, "config reloaded") > applied_before) {
          outcome = ReloadOutcome::applied;
        } else if (count_occurrences(text, "reload rejected") > rejected_before) {
          outcome = ReloadOutcome::rejected;
        }
        return outcome != ReloadOutcome::timed_out;
      },
      reload_deadline, poll_interval);
  return outcome;
}

void PortcullisFixture::rewrite_config(FixtureOptions options) {
  options.http_port = http_port_;
  options_ = std::move(options);
  replace_file(config_path_, render_config());
}

std::optional<int> PortcullisFixture::stop(Millis deadline) {
  process_->signal(SIGTERM);
  return process_->wait_exit(deadline);
}

std::optional<std::string> PortcullisFixture::served_serial(const std::string& sni, std::uint16_t port) {
  std::vector<std::string> argv = {"openssl", "s_client", "-connect",
                                   host_port(options_.https_host, port ? port : https_port_)};
  if (port && port != https_port_) argv.back() = host_port("127.0.0.1", port);
  if (sni.empty()) {
    argv.push_back("-noservername");
  } else {
    argv.insert(argv.end(), {"-servername", sni});
  }
  auto r = run_command(argv, openssl_deadline);
  const auto begin = r.out.find("-----BEGIN CERTIFICATE-----");
  const auto end = r.out.find("-----END CERTIFICATE-----");
  if (begin == std::string::npos || end == std::string::npos) return std::nullopt;
  const auto pem = r.out.substr(begin, end + 25 - begin) + "\n";
  auto x = run_command({"openssl", "x509", "-noout", "-serial"}, openssl_deadline, pem);
  if (x.exit_code != 0) return std::nullopt;
  return normalize_serial(x.out);
}

CurlResult PortcullisFixture::run_curl(std::string url, std::string resolve, std::vector<std::string> args) {
  const auto n = curl_counter_++;
  const auto header_file = dir_ / ("curl-" + std::to_string(n) + ".headers");
  const auto body_file = dir_ / ("curl-" + std::to_string(n) + ".body");
  std::vector<std::string> argv = {"curl", "-sS", "--max-time", std::to_string(client_deadline.count() / 1000),
                                   "--resolve", resolve, "-D", header_file.string(), "-o", body_file.string(),
                                   "-w", "%{http_code} %{num_connects}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(std::move(url));
  auto r = run_command(argv, client_deadline + 5s);
  CurlResult out;
  out.exit_code = r.exit_code;
  out.err = r.err;
  std::istringstream w(r.out);
  w >> out.status >> out.connects;
  out.headers = read_file(header_file);
  out.body = read_file(body_file);
  std::error_code ec;
  fs::remove(header_file, ec);
  fs::remove(body_file, ec);
  return out;
}

CurlResult PortcullisFixture::curl(const std::string& host, const std::string& path, std::vector<std::string> args) {
  if (std::find(args.begin(), args.end(), "--cacert") == args.end()) args.insert(args.begin(), "-k");
  const auto address = options_.https_host.find(':') != std::string::npos ? "[" + options_.https_host + "]"
                                                                          : options_.https_host;
  return run_curl("https://" + host + ":" + std::to_string(https_port_) + path,
                  host + ":" + std::to_string(https_port_) + ":" + address, std::move(args));
}

CurlResult PortcullisFixture::curl_http(const std::string& host, const std::string& path,
                                        std::vector<std::string> args) {
  return run_curl("http://" + host + ":" + std::to_string(http_port_) + path,
                  host + ":" + std::to_string(http_port_) + ":127.0.0.1", std::move(args));
}

fs::path PortcullisFixture::data_dir() const {
  return options_.data_dir.empty() ? dir_ / "data" : options_.data_dir;
}

std::string PortcullisFixture::admin_token() const { return read_file(data_dir() / "admin-token"); }

CurlResult PortcullisFixture::admin(const std::string& method, const std::string& path,
                                    std::optional<std::string> token, const std::string& body,
                                    std::vector<std::string> args) {
  std::vector<std::string> all{"-X", method};
  if (token) all.insert(all.end(), {"-H", "Authorization: Bearer " + *token});
  const auto body_file = dir_ / ("admin-body-" + std::to_string(curl_counter_));
  if (!body.empty()) {
    write_file(body_file, body);
    all.insert(all.end(), {"-H", "Content-Type: application/json", "--data-binary", "@" + body_file.string()});
  }
  all.insert(all.end(), args.begin(), args.end());
  auto out = run_curl("http://127.0.0.1:" + std::to_string(admin_port_) + path,
                      "127.0.0.1:" + std::to_string(admin_port_) + ":127.0.0.1", std::move(all));
  std::error_code ec;
  fs::remove(body_file, ec);
  return out;
}

TlsClient::Options PortcullisFixture::client_options(std::string sni) const {
  TlsClient::Options o;
  o.sni = std::move(sni);
  o.host = options_.https_host;
  return o;
}

}  // namespace portcullis::testing
