// PortcullisFixture: starts the real `portcullis` binary with a generated config (ports from
// free_port(), data in a TempDir), waits until its listeners accept, and drives it with real
// clients: curl, openssl s_client, and an in-process TLS client (TlsClient) for raw bytes and
// long request loops. Test certificates come from OpensslCa (the openssl CLI).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "tests/support/process.hpp"

namespace portcullis::testing {

// --- certificates --------------------------------------------------------------------------------

struct CertFiles {
  std::filesystem::path cert;  // PEM: leaf (then the chain, if any)
  std::filesystem::path key;   // PEM private key
  std::string serial;          // upper-case hex, no leading zeros (as normalize_serial gives)
};

// A test CA made with the openssl CLI (EC P-256). Blocking: runs openssl.
class OpensslCa {
 public:
  explicit OpensslCa(std::filesystem::path dir, std::string name = "Portcullis Test CA");
  const std::filesystem::path& cert() const noexcept { return cert_; }
  // A leaf for `names` (SANs; the first is also the CN) with the given hex serial ("1001"),
  // valid from `not_before_days` (negative = in the past) for `days`; written to <dir>/<file_stem>.{crt,key}.
  CertFiles issue(const std::vector<std::string>& names, std::string serial_hex, std::string file_stem,
                  int days = 30) const;

 private:
  std::filesystem::path dir_, cert_, key_;
};

// The certificate set most integration tests use, issued by one OpensslCa:
//   app       app.example.com                     serial 1001  ([[certificate]], exact name)
//   wildcard  *.wild.example.com                  serial 1002  ([[certificate]], wildcard)
//   fallback  *.edge.example.net                  serial 1003  (tls.fallback_cert, platform wildcard)
//   default_cert  default.invalid                 serial 1004  (tls.default_cert)
//   api       api.example.com, private.example.com, dead.example.com, internal.example.com,
//             multi.example.com                   serial 1005  ([[certificate]])
struct StandardCerts {
  TempDir dir{"portcullis-pki"};
  OpensslCa ca{dir.path()};
  CertFiles app = ca.issue({"app.example.com"}, "1001", "app");
  CertFiles wildcard = ca.issue({"*.wild.example.com"}, "1002", "wildcard");
  CertFiles fallback = ca.issue({"*.edge.example.net"}, "1003", "fallback");
  CertFiles default_cert = ca.issue({"default.invalid"}, "1004", "default");
  CertFiles api = ca.issue({"api.example.com", "private.example.com", "dead.example.com",
                            "internal.example.com", "multi.example.com"},
                           "1005", "api");
};

// "serial=00AB12" / "ab12" / "0xAB12" -> "AB12".
std::string normalize_serial(std::string_view text);

// --- config --------------------------------------------------------------------------------------

struct EndpointSpec {
  EndpointSpec(std::string id_, std::vector<std::string> hostnames_, std::vector<std::string> upstreams_,
               std::string scope_ = "external", std::vector<std::string> ip_allowlist_ = {})
      : id(std::move(id_)), hostnames(std::move(hostnames_)), upstreams(std::move(upstreams_)),
        scope(std::move(scope_)), ip_allowlist(std::move(ip_allowlist_)) {}
  std::string id;
  std::vector<std::string> hostnames;
  std::vector<std::string> upstreams;     // "127.0.0.1:port"
  std::string scope = "external";
  std::vector<std::string> ip_allowlist;  // CIDRs
  bool managed_https = false;             // true: certificates from the CA in FixtureOptions::extra_toml [acme]
};

struct FixtureOptions {
  unsigned workers = 2;
  std::string log_level = "debug";
  std::optional<CertFiles> default_cert;   // none: self-signed in data_dir
  std::optional<CertFiles> fallback_cert;  // the platform wildcard
  std::vector<CertFiles> certificates;     // [[certificate]]
  std::vector<std::filesystem::path> certificate_dirs;  // [[certificate_dir]]
  std::vector<EndpointSpec> endpoints;
  // [limits] overrides, written as given: {"upstream_timeout", "\"1s\""}, {"max_header_bytes", "8192"}.
  std::map<std::string, std::string> limits;
  std::string min_tls_version = "1.2";
  bool internal_listener = false;  // adds an https listener with scope = "internal"
  std::string https_host = "127.0.0.1";  // where the external https listener binds ("::1" for v6)
  std::uint16_t http_port = 0;           // the plain http listener's port; 0: free_port()
  std::filesystem::path data_dir;        // empty: <fixture dir>/data; share one to restart on the same store
  bool admin = false;                    // [admin] on a free port; the token generated in the data folder
  bool metrics_public = false;           // [admin] metrics_public (with `admin`)
  std::string log_format;                // [server] log_format; empty: not written (text)
  std::string extra_toml;                // appended to the config as given (an [acme] table...)
  std::vector<std::string> extra_args;   // after `run --config <file>` (--acme-directory URL...)
};

// --- curl ----------------------------------------------------------------------------------------

struct CurlResult {
  int exit_code = -1;
  int status = 0;              // %{http_code}; 0 when no response
  std::string headers;         // the raw header block(s), as curl -D wrote them
  std::string body;
  std::string err;             // curl's stderr
  std::size_t connects = 0;    // %{num_connects}

  // A header of the final response (case-insensitive name), if present.
  std::optional<std::string> header(std::string_view name) const;
};

// --- in-process TLS client ------------------------------------------------------------------------

namespace http = boost::beast::http;
using StringRequest = http::request<http::string_body>;
using StringResponse = http::response<http::string_body>;

// A blocking TLS client over Asio with a deadline on every operation. Not thread-safe; one per thread.
class TlsClient {
 public:
  struct Options {
    Options() = default;
    explicit Options(std::string sni_) : sni(std::move(sni_)) {}
    std::string sni;                 // empty: no SNI extension
    std::string host = "127.0.0.1";  // where to connect
    std::string bind_address;        // local address to bind before connecting (e.g. 127.0.0.2)
    Millis timeout = 5s;             // per operation
    std::vector<std::string> alpn;   // offered protocols
    // What the client offers; empty / 0 = OpenSSL's client defaults. `ciphers` is the TLS 1.2
    // list (OpenSSL syntax, e.g. "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"); versions are TLS1_x_VERSION.
    std::string ciphers;
    int min_version = 0, max_version = 0;
    std::shared_ptr<SSL_SESSION> resume;  // a session to offer for resumption
  };
  TlsClient(std::uint16_t port, Options options);
  ~TlsClient();

  // TCP connect + TLS handshake. Error on failure (connection refused, reset, handshake alert...).
  boost::system::error_code connect();
  std::string peer_serial() const;   // normalised; "" before a handshake
  std::string alpn_selected() const;
  std::string tls_version() const;
  std::string cipher() const;        // the negotiated suite's OpenSSL name; "" before a handshake
  bool session_reused() const;
  // The connection's session, to offer on a later connection (Options::resume). With TLS 1.3 the
  // ticket arrives after the handshake: read a response first.
  std::shared_ptr<SSL_SESSION> session() const;

  boost::system::error_code write_raw(std::string_view bytes);
  boost::system::error_code write(StringRequest& req);
  boost::system::error_code read(StringResponse& res);
  // Writes `req` and reads the response.
  boost::system::error_code request(StringRequest& req, StringResponse& res);
  // Reads until the peer closes or the deadline passes; true when it closed (any error but timeout).
  bool wait_closed(Millis deadline = 5s);
  void close();

  using Stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  Stream& stream() { return *stream_; }
  boost::asio::io_context& io() { return ioc_; }
  // Runs the io_context until the pending operation completes.
  void run();

 private:
  std::uint16_t port_;
  Options options_;
  boost::asio::io_context ioc_;
  boost::asio::ssl::context ctx_;
  std::unique_ptr<Stream> stream_;
  boost::beast::flat_buffer buffer_;
};

StringRequest make_request(http::verb method, std::string target, std::string host, std::string body = {});

// The client loop of the certificate swap tests: connections of 1 or 10 keep-alive GETs to `host`
// on 127.0.0.1:`port`, until `wanted` requests or `deadline`. After each handshake it calls
// `on_handshake(serial, after_swap)`, where after_swap is `swapped` as read before that connection
// began; `done` follows the request count so the caller can wait on progress.
struct LoopTally {
  std::size_t requests = 0, failures = 0, handshakes = 0, keepalive_reuses = 0;
  std::vector<std::string> errors;
};
LoopTally run_swap_loop(std::uint16_t port, const std::string& host, std::size_t wanted, Millis deadline,
                        const std::atomic<bool>& swapped, std::atomic<std::size_t>& done,
                        const std::function<void(const std::string& serial, bool after_swap)>& on_handshake);

// --- the fixture ---------------------------------------------------------------------------------

enum class ReloadOutcome { applied, rejected, timed_out };

class PortcullisFixture {
 public:
  // Writes the config, starts the binary and waits (bounded) until every listener accepts.
  // Throws std::runtime_error with the binary's stderr when it does not come up.
  explicit PortcullisFixture(FixtureOptions options);
  ~PortcullisFixture();

  static constexpr Millis start_deadline = 20s;
  static constexpr Millis reload_deadline = 10s;
  static constexpr Millis stop_deadline = 40s;
  static constexpr Millis client_deadline = 30s;

  std::uint16_t https_port() const noexcept { return https_port_; }
  std::uint16_t internal_port() const noexcept { return internal_port_; }
  std::uint16_t http_port() const noexcept { return http_port_; }
  std::uint16_t admin_port() const noexcept { return admin_port_; }
  std::filesystem::path data_dir() const;
  const std::filesystem::path& config_path() const noexcept { return config_path_; }
  const std::filesystem::path& dir() const noexcept { return dir_.path(); }
  const FixtureOptions& options() const noexcept { return options_; }
  ChildProcess& process() { return *process_; }
  std::string log() const { return process_->stderr_text(); }

  // The TOML this fixture writes for `options`.
  std::string render_config() const;

  // SIGHUP, then waits for the next "config reloaded" / "reload rejected" line on stderr.
  ReloadOutcome reload();
  // Replaces the options (the listener ports stay) and rewrites the config file atomically;
  // reload() applies it.
  void rewrite_config(FixtureOptions options);
  // SIGTERM; the exit code, or nullopt if it did not exit within `deadline`.
  std::optional<int> stop(Millis deadline = stop_deadline);

  // The leaf serial `openssl s_client` sees for `sni` (empty: -noservername); nullopt on failure.
  std::optional<std::string> served_serial(const std::string& sni, std::uint16_t port = 0);
  // curl https://<host>:<https_port><path> --resolve host:port:127.0.0.1, plus `args`.
  // Without --cacert in args, -k is added.
  CurlResult curl(const std::string& host, const std::string& path, std::vector<std::string> args = {});
  // curl http://<host>:<http_port><path> (no redirect following).
  CurlResult curl_http(const std::string& host, const std::string& path, std::vector<std::string> args = {});

  TlsClient::Options client_options(std::string sni) const;

  // The admin token the binary generated (<data_dir>/admin-token).
  std::string admin_token() const;
  // curl -X <method> http://127.0.0.1:<admin_port><path>, with `Authorization: Bearer <token>`
  // when a token is given and `body` (sent from a file, as JSON) when not empty, plus `args`.
  CurlResult admin(const std::string& method, const std::string& path, std::optional<std::string> token,
                   const std::string& body = {}, std::vector<std::string> args = {});

 private:
  // Starts the binary on the current config; true once every listener accepts.
  bool start();
  CurlResult run_curl(std::string url, std::string resolve, std::vector<std::string> args);

  FixtureOptions options_;
  TempDir dir_{"portcullis-itest"};
  std::uint16_t https_port_ = 0, internal_port_ = 0, http_port_ = 0, admin_port_ = 0;
  std::filesystem::path config_path_;
  std::unique_ptr<ChildProcess> process_;
  unsigned curl_counter_ = 0;
};

}  // namespace portcullis::testing
