#include "app/toml_config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <toml.hpp>

#include "admin/host_check.hpp"
#include "base/hostname.hpp"
#include "base/quote.hpp"

namespace portcullis::app {
namespace {

namespace fs = std::filesystem;
namespace ip = boost::asio::ip;
using Value = toml::value;

// A file with more mistakes than this is reported in part; the rest follow once these are fixed.
constexpr std::size_t max_reported_problems = 50;

constexpr std::int64_t max_workers = 1024;
constexpr std::int64_t max_connections_limit = 10'000'000;
constexpr std::size_t max_header_bytes_limit = 64 * 1024 * 1024;
constexpr std::int64_t max_hostnames_limit = 10'000;
constexpr std::int64_t max_endpoints_limit = 10'000'000;
constexpr std::int64_t max_duration_ms = 365LL * 24 * 3600 * 1000;

using base::quote;

// What a value is, for "got ...": scalars are shown as written, containers by kind.
std::string describe(const Value& v) {
  switch (v.type()) {
    case toml::value_t::string: return quote(v.as_string().str);
    case toml::value_t::integer: return std::to_string(v.as_integer());
    case toml::value_t::floating: {
      std::string text = fmt::format("{}", v.as_floating());
      if (text.find_first_of(".eni") == std::string::npos) text += ".0";  // 1.0 stays a float
      return text;
    }
    case toml::value_t::boolean: return v.as_boolean() ? "true" : "false";
    case toml::value_t::array: return v.as_array().empty() ? "an empty array" : "an array";
    case toml::value_t::table: return "a table";
    default: return "a date/time";
  }
}

unsigned line_of(const Value& v) {
  const auto line = v.location().line();
  return line == 0 ? 1 : static_cast<unsigned>(line);
}

std::string join(const std::vector<std::string_view>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// Every problem found in one file, reported together in line order.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}

  void add(unsigned line, std::string_view path, std::string_view message) {
    list_.push_back({line, fmt::format("{}:{}: {}: {}", file_, line, path, message)});
  }
  void add(const Value& at, std::string_view path, std::string_view message) { add(line_of(at), path, message); }
  void expected(const Value& at, std::string_view path, std::string_view what) {
    add(at, path, fmt::format("expected {}, got {}", what, describe(at)));
  }
  // A required key is absent: reported at its table's header.
  void missing(const Value& table, std::string_view path, std::string_view what) {
    add(table, path, fmt::format("expected {}, got nothing (the key is required)", what));
  }

  bool empty() const noexcept { return list_.empty(); }

  Error to_error() {
    std::stable_sort(list_.begin(), list_.end(), [](const auto& a, const auto& b) {
      return a.line != b.line ? a.line < b.line : a.text < b.text;
    });
    std::string message;
    for (std::size_t i = 0; i < list_.size() && i < max_reported_problems; ++i) {
      if (i) message += '\n';
      message += list_[i].text;
    }
    if (list_.size() > max_reported_problems) {
      message += fmt::format("\n{}: {} more problems not shown", file_, list_.size() - max_reported_problems);
    }
    return Error(Errc::config, std::move(message));
  }

 private:
  struct Problem {
    unsigned line;
    std::string text;
  };
  std::string file_;
  std::vector<Problem> list_;
};

// A key this version recognises but rejects: `why` says what accepting it would mislead about.
struct Unavailable {
  std::string_view key;
  std::string_view why;
};

// A TOML table whose keys are checked against the known ones on construction.
class Table {
 public:
  Table(Problems& problems, const Value& value, std::string path, std::vector<std::string_view> known,
        const std::vector<Unavailable>& unavailable = {})
      : problems_(problems), value_(value), path_(std::move(path)) {
    for (const auto& [key, v] : value.as_table()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      auto it = std::find_if(unavailable.begin(), unavailable.end(), [&](const auto& u) { return u.key == key; });
      if (it != unavailable.end()) {
        problems.add(v, path_of(key), fmt::format("not available in this version: {}", it->why));
      } else {
        problems.add(v, path_of(key), fmt::format("unknown key (known: {})", join(known)));
      }
    }
  }

  const Value* find(std::string_view key) const {
    const auto& table = value_.as_table();
    auto it = table.find(std::string(key));
    return it == table.end() ? nullptr : &it->second;
  }
  std::string path_of(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const Value& value() const noexcept { return value_; }
  const std::string& path() const noexcept { return path_; }
  Problems& problems() const noexcept { return problems_; }

  // The value of `key` when it is present and a string; a wrong type is reported.
  const std::string* string(std::string_view key, std::string_view what, bool required = false) const {
    const Value* v = find(key);
    if (!v) {
      if (required) problems_.missing(value_, path_of(key), what);
      return nullptr;
    }
    if (!v->is_string()) {
      problems_.expected(*v, path_of(key), what);
      return nullptr;
    }
    return &v->as_string().str;
  }

  // Reads a boolean into `out` when present.
  void boolean(std::string_view key, bool& out) const {
    const Value* v = find(key);
    if (!v) return;
    if (!v->is_boolean()) return problems_.expected(*v, path_of(key), "true or false");
    out = v->as_boolean();
  }

  // Reads one of `choices` when present; returns its index.
  std::optional<std::size_t> choice(std::string_view key, const std::vector<std::string_view>& choices) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_string()) {
      auto it = std::find(choices.begin(), choices.end(), v->as_string().str);
      if (it != choices.end()) return static_cast<std::size_t>(it - choices.begin());
    }
    std::vector<std::string> quoted;
    for (auto c : choices) quoted.push_back(quote(c));
    std::string what = "one of ";
    for (std::size_t i = 0; i < quoted.size(); ++i) what += (i ? ", " : "") + quoted[i];
    if (choices.size() == 2) what = quoted[0] + " or " + quoted[1];
    problems_.expected(*v, path_of(key), what);
    return std::nullopt;
  }

  // Reads a non-empty path when present.
  void file_path(std::string_view key, fs::path& out) const {
    const std::string* s = string(key, "a file path");
    if (!s) return;
    if (s->empty()) return problems_.expected(*find(key), path_of(key), "a file path");
    out = *s;
  }

 private:
  Problems& problems_;
  const Value& value_;
  std::string path_;
};

// `[name]` at the top level: a table when present, else nullptr.
const Value* section(const Table& root, std::string_view name) {
  const Value* v = root.find(name);
  if (v && !v->is_table()) {
    root.problems().expected(*v, name, fmt::format("a table ([{}])", name));
    return nullptr;
  }
  return v;
}

// `[[name]]` at the top level: its tables, each with its path ("listener[1]").
std::vector<std::pair<const Value*, std::string>> array_of_tables(const Table& root, std::string_view name) {
  std::vector<std::pair<const Value*, std::string>> out;
  const Value* v = root.find(name);
  if (!v) return out;
  if (!v->is_array()) {
    root.problems().expected(*v, name, fmt::format("an array of tables ([[{}]])", name));
    return out;
  }
  const auto& items = v->as_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string path = fmt::format("{}[{}]", name, i);
    if (!items[i].is_table()) {
      root.problems().expected(items[i], path, "a table");
      continue;
    }
    out.emplace_back(&items[i], std::move(path));
  }
  return out;
}

// The strings of an array value, each with its own value for line numbers; wrong types reported.
std::vector<std::pair<const Value*, std::string>> string_items(const Table& t, std::string_view key,
                                                               std::string_view what, std::string_view list_what) {
  std::vector<std::pair<const Value*, std::string>> out;
  const Value* v = t.find(key);
  if (!v) return out;
  if (!v->is_array()) {
    t.problems().expected(*v, t.path_of(key), list_what);
    return out;
  }
  const auto& items = v->as_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string path = fmt::format("{}[{}]", t.path_of(key), i);
    if (!items[i].is_string()) {
      t.problems().expected(items[i], path, what);
      continue;
    }
    out.emplace_back(&items[i], std::move(path));
  }
  return out;
}

// "10s", "500ms", "2m", "1h", or a sum such as "1m30s".
std::optional<domain::Millis> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  while (!text.empty()) {
    std::int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || ptr == text.data() || n < 0) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
    std::int64_t unit = 0;
    if (text.starts_with("ms")) {
      unit = 1;
      text.remove_prefix(2);
    } else if (text.starts_with("s")) {
      unit = 1000;
      text.remove_prefix(1);
    } else if (text.starts_with("m")) {
      unit = 60'000;
      text.remove_prefix(1);
    } else if (text.starts_with("h")) {
      unit = 3'600'000;
      text.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    if (n > max_duration_ms / unit) return std::nullopt;
    total += n * unit;
    if (total > max_duration_ms) return std::nullopt;
  }
  return domain::Millis{total};
}

// 16384, "16384", "512B", "16KiB", "1MiB", "1GiB".
std::optional<std::size_t> parse_size(const Value& v) {
  if (v.is_integer()) {
    if (v.as_integer() < 0) return std::nullopt;
    return static_cast<std::size_t>(v.as_integer());
  }
  if (!v.is_string()) return std::nullopt;
  std::string_view text = v.as_string().str;
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || ptr == text.data()) return std::nullopt;
  const std::string_view unit = text.substr(static_cast<std::size_t>(ptr - text.data()));
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "KiB") scale = 1ULL << 10;
  else if (unit == "MiB") scale = 1ULL << 20;
  else if (unit == "GiB") scale = 1ULL << 30;
  else return std::nullopt;
  if (n > std::numeric_limits<std::size_t>::max() / scale) return std::nullopt;
  return static_cast<std::size_t>(n * scale);
}

bool valid_listener_name(std::string_view name) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  };
  return !name.empty() && std::all_of(name.begin(), name.end(), ok);
}

// "ip:port" for an address Portcullis binds: the host must be an IP literal.
std::optional<domain::HostPort> bind_address(const Value& v, const std::string& path, Problems& problems) {
  constexpr std::string_view what = "\"ip:port\" (an IP address to bind, \"[v6]:port\" for IPv6)";
  auto hp = domain::parse_host_port(v.as_string().str);
  if (!hp) {
    problems.add(v, path, hp.error().message());
    return std::nullopt;
  }
  if (!base::is_ip_address(hp->host)) {
    problems.expected(v, path, what);
    return std::nullopt;
  }
  return *hp;
}

// The canonical text of a bind address, so "[::1]:80" and "[0:0::1]:80" compare equal.
std::string canonical(const domain::HostPort& hp) {
  boost::system::error_code ec;
  auto addr = ip::make_address(hp.host, ec);
  return domain::HostPort{ec ? hp.host : addr.to_string(), hp.port}.to_string();
}

void read_server(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "server");
  if (!v) return;
  Table t(root.problems(), *v, "server", {"data_dir", "workers", "log_level", "log_format"});
  t.file_path("data_dir", cfg.server.data_dir);
  if (const Value* w = t.find("workers")) {
    if (!w->is_integer() || w->as_integer() < 0 || w->as_integer() > max_workers) {
      t.problems().expected(*w, "server.workers", "a number of worker threads from 0 (one per core) to 1024");
    } else {
      cfg.server.workers = static_cast<unsigned>(w->as_integer());
    }
  }
  static const std::vector<std::string_view> levels = {"trace", "debug", "info", "warn", "error"};
  if (auto i = t.choice("log_level", levels)) cfg.server.log_level = std::string(levels[*i]);
  static const std::vector<std::string_view> formats = {"text", "json"};
  if (auto i = t.choice("log_format", formats)) cfg.server.log_format = std::string(formats[*i]);
}

void read_listeners(const Table& root, domain::Config& cfg) {
  Problems& problems = root.problems();
  std::map<std::string, std::pair<std::string, unsigned>> names, addresses;  // value -> (path, line)
  for (const auto& [v, path] : array_of_tables(root, "listener")) {
    Table t(problems, *v, path, {"name", "address", "protocol", "scope"});
    domain::ListenerConfig l;
    bool ok = true;
    if (const std::string* name = t.string("name", "a listener name", true)) {
      const Value& at = *t.find("name");
      if (!valid_listener_name(*name)) {
        problems.expected(at, t.path_of("name"), "a name of letters, digits, \".\", \"-\" or \"_\"");
        ok = false;
      } else if (auto [it, fresh] = names.try_emplace(*name, t.path_of("name"), line_of(at)); !fresh) {
        problems.add(at, t.path_of("name"),
                     fmt::format("expected a unique listener name, got {} (also {}, line {})", quote(*name),
                                 it->second.first, it->second.second));
        ok = false;
      }
      l.name = *name;
    } else {
      ok = false;
    }
    if (t.string("address", "\"host:port\"", true)) {
      const Value& at = *t.find("address");
      if (auto hp = bind_address(at, t.path_of("address"), problems)) {
        l.address = *hp;
        if (auto [it, fresh] = addresses.try_emplace(canonical(*hp), t.path_of("address"), line_of(at)); !fresh) {
          problems.add(at, t.path_of("address"),
                       fmt::format("expected an address no other listener uses, got {} (also {}, line {})",
                                   quote(at.as_string().str), it->second.first, it->second.second));
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto i = t.choice("protocol", {"https", "http"})) {
      l.protocol = *i == 0 ? domain::Protocol::https : domain::Protocol::http;
    }
    if (auto i = t.choice("scope", {"external", "internal"})) {
      l.scope = *i == 0 ? domain::Scope::external : domain::Scope::internal;
    }
    if (ok) cfg.listeners.push_back(std::move(l));
  }
  if (!root.find("listener") || (root.find("listener")->is_array() && root.find("listener")->as_array().empty())) {
    const Value& at = root.find("listener") ? *root.find("listener") : root.value();
    problems.add(at, "listener", "expected at least one [[listener]], got none");
  }
}

// Two keys that make sense only together, such as a certificate and its key.
void read_pair(const Table& t, std::string_view a, std::string_view b, fs::path& out_a, fs::path& out_b) {
  t.file_path(a, out_a);
  t.file_path(b, out_b);
  const Value* va = t.find(a);
  const Value* vb = t.find(b);
  if ((va == nullptr) == (vb == nullptr)) return;
  const Value& at = va ? *va : *vb;
  const std::string_view present = va ? a : b;
  const std::string_view absent = va ? b : a;
  t.problems().add(at, t.path_of(present),
                   fmt::format("expected {} as well (both or neither), got {} alone", t.path_of(absent),
                               present));
}

void read_tls(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "tls");
  if (!v) return;
  Table t(root.problems(), *v, "tls", {"min_version", "default_cert", "default_key", "fallback_cert", "fallback_key"});
  if (auto i = t.choice("min_version", {"1.2", "1.3"})) cfg.tls.min_version = *i == 0 ? "1.2" : "1.3";
  read_pair(t, "default_cert", "default_key", cfg.tls.default_cert, cfg.tls.default_key);
  read_pair(t, "fallback_cert", "fallback_key", cfg.tls.fallback_cert, cfg.tls.fallback_key);
}

void read_certificates(const Table& root, domain::Config& cfg) {
  for (const auto& [v, path] : array_of_tables(root, "certificate")) {
    Table t(root.problems(), *v, path, {"cert_file", "key_file"});
    domain::CertificateConfig c;
    t.file_path("cert_file", c.cert_file);
    t.file_path("key_file", c.key_file);
    if (!t.find("cert_file")) t.problems().missing(*v, t.path_of("cert_file"), "a file path (PEM chain)");
    if (!t.find("key_file")) t.problems().missing(*v, t.path_of("key_file"), "a file path (PEM private key)");
    if (!c.cert_file.empty() && !c.key_file.empty()) cfg.certificates.push_back(std::move(c));
  }
}

void read_certificate_dirs(const Table& root, domain::Config& cfg) {
  std::map<std::string, std::pair<std::string, unsigned>> seen;  // path as written -> (key path, line)
  for (const auto& [v, path] : array_of_tables(root, "certificate_dir")) {
    Table t(root.problems(), *v, path, {"path"});
    const std::string* dir = t.string("path", "a folder path", true);
    if (dir == nullptr) continue;
    const Value& at = *t.find("path");
    if (dir->empty()) {
      t.problems().expected(at, t.path_of("path"), "a folder path");
      continue;
    }
    std::string key = fs::path(*dir).lexically_normal().string();
    if (key.size() > 1 && key.ends_with('/')) key.pop_back();
    if (auto [it, fresh] = seen.try_emplace(key, t.path_of("path"), line_of(at)); !fresh) {
      t.problems().add(at, t.path_of("path"),
                       fmt::format("expected a folder no other [[certificate_dir]] names, got {} (also {}, line {})",
                                   quote(*dir), it->second.first, it->second.second));
      continue;
    }
    cfg.certificate_dirs.push_back(domain::CertificateDirConfig{*dir});
  }
}

// An integer key from 1 to `max`.
void read_count(const Table& t, std::string_view key, std::int64_t max, std::size_t& out) {
  const Value* c = t.find(key);
  if (!c) return;
  if (!c->is_integer() || c->as_integer() < 1 || c->as_integer() > max) {
    return t.problems().expected(*c, t.path_of(key), fmt::format("a number from 1 to {}", max));
  }
  out = static_cast<std::size_t>(c->as_integer());
}

// An integer in [lo, hi] at `key`, when present.
template <class T>
void read_bounded(const Table& t, std::string_view key, std::int64_t lo, std::int64_t hi, std::string_view example,
                  T& out) {
  const Value* v = t.find(key);
  if (!v) return;
  if (!v->is_integer() || v->as_integer() < lo || v->as_integer() > hi) {
    return t.problems().expected(*v, t.path_of(key), fmt::format("an integer from {} to {}, such as {}", lo, hi, example));
  }
  out = static_cast<T>(v->as_integer());
}

// A duration ("10s", "500ms") above zero at `key`, when present.
void read_duration(const Table& t, std::string_view key, domain::Millis& out) {
  const Value* d = t.find(key);
  if (!d) return;
  auto ms = d->is_string() ? parse_duration(d->as_string().str) : std::nullopt;
  if (!ms || ms->count() == 0) {
    return t.problems().expected(*d, t.path_of(key), "a duration such as \"10s\", \"500ms\", \"2m\" or \"1h\"");
  }
  out = *ms;
}

void read_limits(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "limits");
  if (!v) return;
  auto& l = cfg.limits;
  const std::vector<std::pair<std::string_view, domain::Millis*>> durations = {
      {"handshake_timeout", &l.handshake_timeout},   {"header_timeout", &l.header_timeout},
      {"idle_timeout", &l.idle_timeout},             {"upstream_connect_timeout", &l.upstream_connect_timeout},
      {"upstream_timeout", &l.upstream_timeout},     {"drain_timeout", &l.drain_timeout},
      {"renew_now_interval", &l.renew_now_interval},
  };
  std::vector<std::string_view> known;
  for (const auto& d : durations) known.push_back(d.first);
  known.push_back("max_header_bytes");
  known.push_back("max_connections");
  known.push_back("max_hostnames_per_endpoint");
  known.push_back("max_endpoints");
  known.push_back("max_connections_per_ip");
  Table t(root.problems(), *v, "limits", known);
  read_count(t, "max_hostnames_per_endpoint", max_hostnames_limit, l.max_hostnames_per_endpoint);
  read_count(t, "max_endpoints", max_endpoints_limit, l.max_endpoints);

  for (const auto& [key, out] : durations) {
    const Value* d = t.find(key);
    if (!d) continue;
    auto ms = d->is_string() ? parse_duration(d->as_string().str) : std::nullopt;
    if (!ms || ms->count() == 0) {
      t.problems().expected(*d, t.path_of(key), "a duration such as \"10s\", \"500ms\", \"2m\" or \"1h\"");
      continue;
    }
    *out = *ms;
  }
  if (const Value* s = t.find("max_header_bytes")) {
    auto n = parse_size(*s);
    if (!n || *n == 0 || *n > max_header_bytes_limit) {
      t.problems().expected(*s, "limits.max_header_bytes", "a size from 1 to 64MiB such as 16384 or \"16KiB\"");
    } else {
      l.max_header_bytes = *n;
    }
  }
  if (const Value* c = t.find("max_connections")) {
    if (!c->is_integer() || c->as_integer() < 1 || c->as_integer() > max_connections_limit) {
      t.problems().expected(*c, "limits.max_connections", "a number of connections from 1 to 10000000");
    } else {
      l.max_connections = static_cast<std::size_t>(c->as_integer());
    }
  }
  read_bounded(t, "max_connections_per_ip", 0, max_connections_limit, "1000 (0: no cap)", l.max_connections_per_ip);
}

// One [[endpoint]] table as read: its spec for domain::validate() and, for each field, the TOML
// values its items came from, so the domain's problems are reported at their lines.
struct EndpointRead {
  const Value* table = nullptr;
  std::string path;                                                  // "endpoint[2]"
  std::map<std::string_view, std::vector<std::pair<const Value*, std::string>>> items;  // field -> items
  std::vector<std::string_view> unreadable;  // fields whose TOML type was wrong, reported here
};

// The strings of the array `field`, into `out`; a missing key leaves `out` empty (std::nullopt).
void read_string_list(const Table& t, std::string_view field, std::string_view what, std::string_view list_what,
                      EndpointRead& read, std::optional<std::vector<std::string>>& out) {
  const Value* v = t.find(field);
  auto items = string_items(t, field, what, list_what);
  if (v && (!v->is_array() || items.size() != v->as_array().size())) read.unreadable.push_back(field);
  if (v && v->is_array()) {
    out.emplace();
    for (const auto& [item, path] : items) out->push_back(item->as_string().str);
  }
  read.items[field] = std::move(items);
}

EndpointRead read_endpoint(const Value& v, std::string path, Problems& problems, domain::EndpointSpec& spec) {
  EndpointRead read{&v, path, {}, {}};
  Table t(problems, v, std::move(path), {"id", "hostnames", "scope", "upstreams", "ip_allowlist", "managed_https"});
  if (const std::string* id = t.string("id", domain::expects::id)) {
    spec.id = *id;
  } else if (t.find("id")) {
    read.unreadable.push_back("id");
  }
  read_string_list(t, "hostnames", domain::expects::hostname, domain::expects::hostnames, read, spec.hostnames);
  if (auto i = t.choice("scope", {"external", "internal"})) {
    spec.scope = *i == 0 ? domain::Scope::external : domain::Scope::internal;
  }
  read_string_list(t, "upstreams", domain::expects::upstream, domain::expects::upstreams, read, spec.upstreams);
  std::optional<std::vector<std::string>> allowlist;
  read_string_list(t, "ip_allowlist", domain::expects::cidr, domain::expects::cidrs, read, allowlist);
  spec.ip_allowlist = allowlist.value_or(std::vector<std::string>{});
  t.boolean("managed_https", spec.managed_https);
  return read;
}

// A domain problem at its line: an item at its value, a field at its key, an absent key at the table.
void report(const EndpointRead& read, const domain::Problem& problem, Problems& problems) {
  const auto& place = problem.place;
  if (place.item) {
    const auto& [at, path] = read.items.at(place.field).at(*place.item);
    return problems.add(*at, path, problem.message);
  }
  // A field the reader could not read as the domain expects was reported with its TOML type.
  if (std::find(read.unreadable.begin(), read.unreadable.end(), place.field) != read.unreadable.end()) return;
  const auto& table = read.table->as_table();
  const auto it = table.find(std::string(place.field));
  problems.add(it == table.end() ? *read.table : it->second, read.path + "." + std::string(place.field),
               problem.message);
}

// The [[endpoint]] tables as read and checked, kept for the checks that need the rest of the file
// (the limits, the platform zone, the own listeners): see check_endpoint_rules.
struct EndpointsRead {
  std::vector<EndpointRead> reads;
  std::vector<domain::EndpointCheck> checks;
  std::vector<bool> served;  // checks[i] passed every rule so far and is in cfg.endpoints
};

// Another endpoint's field by its TOML path; an id also by its line, as ids are found by eye.
domain::Cite cite_in(const std::vector<EndpointRead>& reads) {
  return [&reads](const domain::Place& place) {
    const EndpointRead& read = reads.at(place.endpoint);
    if (place.field.empty()) return read.path;
    if (place.item) return read.items.at(place.field).at(*place.item).second;
    std::string path = read.path + "." + std::string(place.field);
    if (place.field == "id") path += fmt::format(", line {}", line_of(read.table->as_table().at("id")));
    return path;
  };
}

EndpointsRead read_endpoints(const Table& root, domain::Config& cfg) {
  Problems& problems = root.problems();
  EndpointsRead out;
  auto& [reads, checks, served] = out;
  for (const auto& [v, path] : array_of_tables(root, "endpoint")) {
    domain::EndpointSpec spec;
    reads.push_back(read_endpoint(*v, path, problems, spec));
    checks.push_back(domain::validate(spec));
    for (const auto& problem : checks.back().problems) report(reads.back(), problem, problems);
  }
  std::vector<bool> clash(checks.size(), false);
  for (const auto& problem : domain::validate_together(checks, cite_in(reads))) {
    report(reads.at(problem.place.endpoint), problem, problems);
    clash[problem.place.endpoint] = true;
  }
  served.assign(checks.size(), false);
  for (std::size_t i = 0; i < checks.size(); ++i) {
    if (checks[i].ok() && !clash[i]) {
      cfg.endpoints.push_back(checks[i].endpoint);
      served[i] = true;
    }
  }
  return out;
}

// The endpoint rules that depend on the rest of the file (domain::endpoint_rules): the limits,
// public suffixes, the platform zone's own names and the upstreams never connected to.
void check_endpoint_rules(const EndpointsRead& read, const domain::Config& cfg, Problems& problems) {
  const auto rules = domain::endpoint_rules(cfg);
  for (std::size_t i = 0; i < read.checks.size(); ++i) {
    if (!read.served[i]) continue;
    for (const auto& problem : domain::check_rules(read.checks[i], rules)) report(read.reads[i], problem, problems);
  }
  for (const auto& problem : domain::check_platform_names(read.checks, rules.zone, cite_in(read.reads))) {
    report(read.reads.at(problem.place.endpoint), problem, problems);
  }
  if (read.reads.size() > rules.max_endpoints) {
    const EndpointRead& first_over = read.reads.at(rules.max_endpoints);
    problems.add(*first_over.table, first_over.path,
                 fmt::format("expected at most {} endpoints (limits.max_endpoints), got {}", rules.max_endpoints,
                             read.reads.size()));
  }
}

// [upstreams]: deny replaces the default list of CIDRs never connected to.
void read_upstreams(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "upstreams");
  if (!v) return;
  Table t(root.problems(), *v, "upstreams", {"deny"});
  if (!t.find("deny")) return;
  cfg.upstreams.deny.clear();
  for (const auto& [item, path] : string_items(t, "deny", domain::expects::cidr, domain::expects::cidrs)) {
    auto cidr = domain::Cidr::parse(item->as_string().str);
    if (!cidr) {
      t.problems().add(*item, path, cidr.error().message());
      continue;
    }
    cfg.upstreams.deny.push_back(*cidr);
  }
}

bool valid_https_url(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  return url && url->scheme() == "https" && url->has_authority() && !url->encoded_host().empty();
}

bool valid_email(std::string_view text) {
  const auto at = text.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < text.size() &&
         text.find('@', at + 1) == std::string_view::npos &&
         std::none_of(text.begin(), text.end(), [](char c) { return c <= ' ' || c == 0x7F; });
}

bool valid_base64url(std::string_view text) {
  while (text.ends_with('=')) text.remove_suffix(1);
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

void read_acme(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "acme");
  if (!v) return;
  Table t(root.problems(), *v, "acme",
          {"directory", "ca_bundle", "email", "eab_kid", "eab_hmac_key", "profile", "preferred_chain",
           "renew_before_ratio", "max_concurrent_orders", "caa_identities"});
  Problems& problems = t.problems();
  auto& a = cfg.acme;
  constexpr std::string_view url_what = "the https URL of the CA's directory";
  if (const std::string* dir = t.string("directory", url_what, true)) {
    if (valid_https_url(*dir)) {
      a.directory = *dir;
      a.enabled = true;
    } else {
      problems.expected(*t.find("directory"), "acme.directory", url_what);
    }
  }
  t.file_path("ca_bundle", a.ca_bundle);
  if (const std::string* email = t.string("email", "an e-mail address")) {
    if (valid_email(*email)) a.email = *email;
    else problems.expected(*t.find("email"), "acme.email", "an e-mail address such as \"ops@example.com\"");
  }
  if (const std::string* kid = t.string("eab_kid", "a key identifier")) {
    if (kid->empty()) problems.expected(*t.find("eab_kid"), "acme.eab_kid", "a key identifier");
    a.eab_kid = *kid;
  }
  if (const Value* key = t.find("eab_hmac_key")) {
    // A secret: described by its shape, never quoted.
    if (!key->is_string()) {
      problems.add(*key, "acme.eab_hmac_key", "expected a base64url string, got a value of another type");
    } else if (!valid_base64url(key->as_string().str)) {
      problems.add(*key, "acme.eab_hmac_key", "expected a base64url string, got a value with other characters");
    } else {
      a.eab_hmac_key = key->as_string().str;
    }
  }
  if ((t.find("eab_kid") == nullptr) != (t.find("eab_hmac_key") == nullptr)) {
    const bool kid = t.find("eab_kid") != nullptr;
    problems.add(kid ? *t.find("eab_kid") : *t.find("eab_hmac_key"), kid ? "acme.eab_kid" : "acme.eab_hmac_key",
                 fmt::format("expected {} as well (both or neither), got {} alone",
                             kid ? "acme.eab_hmac_key" : "acme.eab_kid", kid ? "eab_kid" : "eab_hmac_key"));
  }
  if (const std::string* profile = t.string("profile", "a profile name")) a.profile = *profile;
  if (const std::string* chain = t.string("preferred_chain", "an issuer common name")) a.preferred_chain = *chain;
  if (const Value* r = t.find("renew_before_ratio")) {
    const bool number = r->is_floating() || r->is_integer();
    const double ratio = r->is_floating() ? r->as_floating() : number ? static_cast<double>(r->as_integer()) : 0;
    if (!number || !(ratio > 0 && ratio < 1)) {
      problems.expected(*r, "acme.renew_before_ratio", "a number between 0 and 1 (exclusive), such as 0.33");
    } else {
      a.renew_before_ratio = ratio;
    }
  }
  if (const Value* m = t.find("max_concurrent_orders")) {
    if (!m->is_integer() || m->as_integer() < 1 || m->as_integer() > 1000) {
      problems.expected(*m, "acme.max_concurrent_orders", "an integer from 1 to 1000, such as 16");
    } else {
      a.max_concurrent_orders = static_cast<std::uint32_t>(m->as_integer());
    }
  }
  constexpr std::string_view identity_what = "an issuer domain name such as \"letsencrypt.org\"";
  for (const auto& [item, path] : string_items(t, "caa_identities", identity_what, "a list of issuer domain names")) {
    const std::string name = base::normalize_hostname(item->as_string().str);
    if (base::hostname_problem(name)) problems.expected(*item, path, identity_what);
    else a.caa_identities.push_back(name);
  }
  // RFC 8555 §7.1.1 lets a directory name its CAA identities; Let's Encrypt's does, but a default
  // keeps the CAA check working before the directory is read.
  if (!t.find("caa_identities") && a.directory.find("api.letsencrypt.org/") != std::string::npos)
    a.caa_identities = {"letsencrypt.org"};
}

// [monitor]: on by default with [dns]; every problem reported with its line.
void read_monitor(const Table& root, domain::Config& cfg) {
  auto& m = cfg.monitor;
  m.enabled = cfg.dns.enabled;
  const Value* v = section(root, "monitor");
  if (!v) return;
  Table t(root.problems(), *v, "monitor", {"enabled", "check_interval", "pre_renewal_days"});
  t.boolean("enabled", m.enabled);
  if (const Value* d = t.find("check_interval")) {
    auto ms = d->is_string() ? parse_duration(d->as_string().str) : std::nullopt;
    if (!ms) {
      t.problems().expected(*d, "monitor.check_interval", "a duration such as \"24h\", \"30m\" or \"1s\"");
    } else if (*ms < std::chrono::seconds(1)) {
      t.problems().expected(*d, "monitor.check_interval",
                            "an interval of at least 1s (every endpoint's records are looked up once per interval)");
    } else {
      m.check_interval = *ms;
    }
  }
  if (const Value* n = t.find("pre_renewal_days")) {
    if (!n->is_integer() || n->as_integer() < 0 || n->as_integer() > 365) {
      t.problems().expected(*n, "monitor.pre_renewal_days", "a number of days from 0 (no such check) to 365");
    } else {
      m.pre_renewal_days = static_cast<std::uint32_t>(n->as_integer());
    }
  }
  if (m.enabled && !cfg.dns.enabled) {
    t.problems().add(t.find("enabled") ? *t.find("enabled") : *v, "monitor.enabled",
                     "expected [dns] as well: the monitor checks records against the platform zone");
  }
}

// The hosts of the listeners of `scope`, each once, as the default addresses of its platform
// hosts. A listener on 0.0.0.0 or :: has no address to publish: its name is returned in `wildcard`.
std::vector<std::string> listener_hosts(const domain::Config& cfg, domain::Scope scope, std::string* wildcard) {
  std::vector<std::string> hosts;
  for (const auto& l : cfg.listeners) {
    if (l.scope != scope) continue;
    boost::system::error_code ec;
    const auto address = ip::make_address(l.address.host, ec);
    if (ec) continue;
    if (address.is_unspecified()) {
      if (wildcard && wildcard->empty()) *wildcard = l.name + " binds " + l.address.to_string();
      continue;
    }
    if (std::find(hosts.begin(), hosts.end(), address.to_string()) == hosts.end()) hosts.push_back(address.to_string());
  }
  return hosts;
}

// `name` (normalised) relative to the zone: "ns1" for "ns1.<zone>", "" for the apex, nullopt outside.
std::optional<std::string> relative_to_zone(const std::string& name, const std::string& zone) {
  if (name == zone) return std::string();
  if (name.size() > zone.size() + 1 && name.ends_with("." + zone)) return name.substr(0, name.size() - zone.size() - 1);
  return std::nullopt;
}

// The endpoint whose platform or validation host `relative` is, if any.
const domain::EndpointConfig* endpoint_named(const domain::Config& cfg, const std::string& relative) {
  for (const auto& ep : cfg.endpoints) {
    if (relative == ep.id || relative == "acme." + ep.id) return &ep;
  }
  return nullptr;
}

// RFC 2181 §8: a TTL is an unsigned 31-bit number of seconds.
void read_ttl(const Table& t, std::string_view key, std::uint32_t& out) {
  const Value* v = t.find(key);
  if (!v) return;
  if (!v->is_integer() || v->as_integer() < 0 || v->as_integer() > 2147483647) {
    return t.problems().expected(*v, t.path_of(key), "a TTL in seconds from 0 to 2147483647");
  }
  out = static_cast<std::uint32_t>(v->as_integer());
}

// [dns].ns: the name servers, each { name, addresses }; a name inside the zone needs its glue.
void read_dns_ns(const Table& t, const Value& ns, domain::Config& cfg) {
  Problems& problems = t.problems();
  auto& d = cfg.dns;
  constexpr std::string_view list_what = "an array of tables { name = \"ns1.example.net\", addresses = [...] }";
  if (!ns.is_array()) return problems.expected(ns, "dns.ns", list_what);
  if (ns.as_array().empty()) return problems.expected(ns, "dns.ns", "at least one name server");
  std::map<std::string, std::pair<std::string, unsigned>> seen;
  const auto& items = ns.as_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string path = fmt::format("dns.ns[{}]", i);
    if (!items[i].is_table()) {
      problems.expected(items[i], path, "a table { name, addresses }");
      continue;
    }
    Table nt(problems, items[i], path, {"name", "addresses"});
    domain::NameServerConfig server;
    bool ok = true;
    const std::string* name = nt.string("name", "a host name such as \"ns1.example.net\"", true);
    if (name) {
      server.name = base::normalize_hostname(*name);
      const Value& at = *nt.find("name");
      auto problem = base::hostname_problem(server.name);
      if (problem || base::is_wildcard(server.name)) {
        problems.add(at, nt.path_of("name"), fmt::format("expected a host name such as \"ns1.example.net\", got {} ({})",
                                                         quote(*name), problem.value_or("a wildcard")));
        ok = false;
      } else if (auto [it, fresh] = seen.try_emplace(server.name, nt.path_of("name"), line_of(at)); !fresh) {
        problems.add(at, nt.path_of("name"), fmt::format("expected a name server listed once, got {} (also {}, line {})",
                                                         quote(*name), it->second.first, it->second.second));
        ok = false;
      }
    } else {
      ok = false;
    }
    for (const auto& [item, item_path] : string_items(nt, "addresses", "an IP address", "an array of IP addresses")) {
      if (base::is_ip_address(item->as_string().str) && item->as_string().str.find('%') == std::string::npos) {
        server.addresses.push_back(item->as_string().str);
      } else {
        problems.expected(*item, item_path, "an IP address");
        ok = false;
      }
    }
    if (ok && !d.zone.empty()) {
      const Value& at = *nt.find("name");
      const auto relative = relative_to_zone(server.name, d.zone);
      if (relative && server.addresses.empty()) {
        problems.add(at, nt.path_of("addresses"),
                     fmt::format("expected the addresses of {} (it is inside the zone, so resolvers find it "
                                 "through the glue this server gives), got none", quote(server.name)));
        ok = false;
      } else if (!relative && !server.addresses.empty()) {
        problems.add(*nt.find("addresses"), nt.path_of("addresses"),
                     fmt::format("expected no addresses for {}: it is outside the zone {}, so its addresses come "
                                 "from its own zone", quote(server.name), quote(d.zone)));
        ok = false;
      } else if (relative) {
        if (const auto* ep = endpoint_named(cfg, *relative)) {
          problems.add(at, nt.path_of("name"), fmt::format("expected a name no endpoint uses, got {} (a name of "
                                                           "endpoint {})", quote(server.name), quote(ep->id)));
          ok = false;
        }
      }
    }
    if (ok) d.ns.push_back(std::move(server));
  }
}

// [dns.addresses]: what the platform hosts of each scope resolve to; by default the addresses
// the listeners of that scope bind.
void read_dns_addresses(const Table& t, domain::Config& cfg) {
  Problems& problems = t.problems();
  auto& d = cfg.dns;
  const Value* v = t.find("addresses");
  std::optional<Table> at;
  if (v && !v->is_table()) {
    problems.expected(*v, "dns.addresses", "a table ([dns.addresses]) with external and internal");
    v = nullptr;
  }
  if (v) at.emplace(problems, *v, "dns.addresses", std::vector<std::string_view>{"external", "internal"});
  for (auto scope : {domain::Scope::external, domain::Scope::internal}) {
    const std::string_view key = scope == domain::Scope::external ? "external" : "internal";
    auto& out = scope == domain::Scope::external ? d.external_addresses : d.internal_addresses;
    if (at && at->find(key)) {
      for (const auto& [item, path] : string_items(*at, key, "an IP address", "an array of IP addresses")) {
        const std::string& text = item->as_string().str;
        if (!base::is_ip_address(text) || text.find('%') != std::string::npos) {
          problems.expected(*item, path, "an IP address");
        } else if (ip::make_address(text).is_unspecified()) {
          problems.expected(*item, path, "an address clients can reach (not 0.0.0.0 or ::)");
        } else {
          out.push_back(text);
        }
      }
      continue;
    }
    std::string wildcard;
    out = listener_hosts(cfg, scope, &wildcard);
    if (!wildcard.empty()) {
      problems.add(v ? *v : t.value(), fmt::format("dns.addresses.{}", key),
                   fmt::format("expected the addresses {} platform hosts resolve to, got none, and they cannot "
                               "come from the listeners: listener {} (give them in [dns.addresses])",
                               key, wildcard));
    }
  }
}

void read_dns(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "dns");
  if (!v) return;
  Table t(root.problems(), *v, "dns",
          {"zone", "listen", "ns", "soa_email", "ttl", "txt_ttl", "resolver", "addresses", "rate_limit",
           "tcp_idle_timeout", "tcp_max_queries", "tcp_max_connections_per_ip"});
  Problems& problems = t.problems();
  auto& d = cfg.dns;
  d.enabled = true;
  constexpr std::string_view zone_what = "a DNS name such as \"edge.example.net\"";
  if (const std::string* zone = t.string("zone", zone_what, true)) {
    const std::string name = base::normalize_hostname(*zone);
    auto problem = base::hostname_problem(name);
    if (problem || base::is_wildcard(name)) {
      problems.add(*t.find("zone"), "dns.zone", fmt::format("expected {}, got {} ({})", zone_what, quote(*zone),
                                                            problem.value_or("a wildcard")));
    } else {
      d.zone = name;
    }
  }

  constexpr std::string_view listen_what = "an array of \"ip:port\"";
  std::map<std::string, std::pair<std::string, unsigned>> taken;  // canonical address -> (path, line)
  const Value* listen = t.find("listen");
  if (!listen) problems.missing(*v, "dns.listen", listen_what);
  else if (listen->is_array() && listen->as_array().empty()) problems.expected(*listen, "dns.listen", listen_what);
  for (const auto& [item, path] : string_items(t, "listen", "\"ip:port\"", listen_what)) {
    auto hp = bind_address(*item, path, problems);
    if (!hp) continue;
    // The DNS server's TCP side cannot share a port with a proxy listener.
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
      if (canonical(cfg.listeners[i].address) == canonical(*hp)) {
        problems.add(*item, path, fmt::format("expected an address no listener uses, got {} (also listener {})",
                                              quote(item->as_string().str), quote(cfg.listeners[i].name)));
      }
    }
    if (auto [it, fresh] = taken.try_emplace(canonical(*hp), path, line_of(*item)); !fresh) {
      problems.add(*item, path, fmt::format("expected an address listed once, got {} (also {}, line {})",
                                            quote(item->as_string().str), it->second.first, it->second.second));
      continue;
    }
    d.listen.push_back(*hp);
  }

  if (const Value* ns = t.find("ns")) {
    read_dns_ns(t, *ns, cfg);
  } else if (!d.zone.empty() && !d.listen.empty()) {
    // The default: ns1.<zone> at the addresses the server listens on.
    domain::NameServerConfig server{"ns1." + d.zone, {}};
    std::string wildcard;
    for (const auto& hp : d.listen) {
      if (ip::make_address(hp.host).is_unspecified()) wildcard = hp.to_string();
      else if (std::find(server.addresses.begin(), server.addresses.end(), hp.host) == server.addresses.end())
        server.addresses.push_back(hp.host);
    }
    if (!wildcard.empty()) {
      problems.add(*listen, "dns.ns",
                   fmt::format("expected the name servers' names and addresses, got none, and dns.listen {} is no "
                               "address to publish (give dns.ns = [{{ name = ..., addresses = [...] }}])", wildcard));
    } else if (const auto* ep = endpoint_named(cfg, "ns1")) {
      problems.add(*v, "dns.ns", fmt::format("expected dns.ns: the default name server {} is the platform host of "
                                             "endpoint {}", quote(server.name), quote(ep->id)));
    } else {
      d.ns.push_back(std::move(server));
    }
  }

  if (const std::string* email = t.string("soa_email", "an e-mail address")) {
    if (valid_email(*email)) d.soa_email = *email;
    else problems.expected(*t.find("soa_email"), "dns.soa_email", "an e-mail address such as \"hostmaster@example.net\"");
  } else if (!d.zone.empty()) {
    d.soa_email = "hostmaster@" + d.zone;
  }
  read_ttl(t, "ttl", d.ttl);
  read_ttl(t, "txt_ttl", d.txt_ttl);

  constexpr std::string_view resolver_what = "\"ip:port\" of a recursive resolver, such as \"127.0.0.1:53\"";
  if (t.string("resolver", resolver_what)) {
    const Value& at = *t.find("resolver");
    auto hp = domain::parse_host_port(at.as_string().str);
    if (!hp || !base::is_ip_address(hp->host)) problems.expected(at, "dns.resolver", resolver_what);
    else d.resolver = *hp;
  }
  read_dns_addresses(t, cfg);
  if (const Value* r = t.find("rate_limit")) {
    if (!r->is_integer() || r->as_integer() < 0 || r->as_integer() > 1'000'000) {
      problems.expected(*r, "dns.rate_limit", "UDP responses a second per client network, from 0 (off) to 1000000");
    } else {
      d.rate_limit = static_cast<std::uint32_t>(r->as_integer());
    }
  }
  read_duration(t, "tcp_idle_timeout", d.tcp_idle_timeout);
  read_bounded(t, "tcp_max_queries", 1, 1'000'000, "1000", d.tcp_max_queries);
  read_bounded(t, "tcp_max_connections_per_ip", 0, 1'000'000, "64 (0: no cap)", d.tcp_max_connections_per_ip);
}

void read_demo(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "demo");
  if (!v) return;
  Table t(root.problems(), *v, "demo", {"enabled", "listen"});
  t.boolean("enabled", cfg.demo.enabled);
  if (t.string("listen", "\"ip:port\"")) {
    if (auto hp = bind_address(*t.find("listen"), "demo.listen", t.problems())) cfg.demo.listen = *hp;
  }
}

// The shortest bearer token accepted from the file: 128 bits in hex, and a typo is not a token.
constexpr std::size_t min_admin_token_length = 32;

void read_admin(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "admin");
  if (!v) return;
  cfg.admin.enabled = true;
  Table t(root.problems(), *v, "admin",
          {"listen", "token", "token_file", "metrics_public", "cert_file", "key_file", "allowed_hosts",
           "max_connections_per_ip"});
  if (t.string("listen", "\"ip:port\"")) {
    if (auto hp = bind_address(*t.find("listen"), "admin.listen", t.problems())) cfg.admin.listen = *hp;
  }
  if (const std::string* token = t.string("token", "a string")) {
    // The token itself is never repeated in a message.
    if (token->size() < min_admin_token_length) {
      t.problems().add(*t.find("token"), "admin.token",
                       fmt::format("expected a token of at least {} characters, got {}", min_admin_token_length,
                                   token->size()));
    } else if (std::any_of(token->begin(), token->end(), [](char c) { return c <= ' ' || c == 0x7F; })) {
      t.problems().add(*t.find("token"), "admin.token", "expected printable characters without spaces");
    } else {
      cfg.admin.token = *token;
    }
  }
  t.file_path("token_file", cfg.admin.token_file);
  t.boolean("metrics_public", cfg.admin.metrics_public);
  read_pair(t, "cert_file", "key_file", cfg.admin.cert_file, cfg.admin.key_file);
  constexpr std::string_view host_what = "a Host value: \"name\", \"name:port\" or \"[v6]:port\"";
  for (const auto& [item, path] : string_items(t, "allowed_hosts", host_what, "a list of Host values")) {
    const std::string& text = item->as_string().str;
    if (admin::parse_host(text)) cfg.admin.allowed_hosts.push_back(text);
    else t.problems().add(*item, path, fmt::format("expected {}, got {}", host_what, quote(text)));
  }
  read_bounded(t, "max_connections_per_ip", 0, 1'000'000, "32 (0: no cap)", cfg.admin.max_connections_per_ip);
  if (t.find("token") && t.find("token_file")) {
    t.problems().add(*t.find("token_file"), "admin.token_file",
                     "expected either admin.token or admin.token_file, got both");
  }
}

bool valid_http_url(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  return url && (url->scheme() == "https" || url->scheme() == "http") && url->has_authority() &&
         !url->encoded_host().empty();
}

void read_alerts(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "alerts");
  if (!v) return;
  Table t(root.problems(), *v, "alerts", {"expiring_days", "renewal_failures", "keep_resolved_days", "webhook"});
  Problems& problems = t.problems();
  auto& a = cfg.alerts;
  if (const Value* days = t.find("expiring_days")) {
    constexpr std::string_view what = "a non-empty array of days from 1 to 365, such as [14, 7, 3]";
    std::vector<std::uint32_t> list;
    bool ok = days->is_array() && !days->as_array().empty();
    if (ok) {
      for (const auto& d : days->as_array()) {
        if (!d.is_integer() || d.as_integer() < 1 || d.as_integer() > 365) {
          ok = false;
          break;
        }
        list.push_back(static_cast<std::uint32_t>(d.as_integer()));
      }
    }
    if (!ok) {
      problems.expected(*days, "alerts.expiring_days", what);
    } else {
      std::sort(list.begin(), list.end(), std::greater<>());
      list.erase(std::unique(list.begin(), list.end()), list.end());
      a.expiring_days = std::move(list);
    }
  }
  read_bounded(t, "renewal_failures", 1, 100, "3", a.renewal_failures);
  read_bounded(t, "keep_resolved_days", 1, 3650, "30", a.keep_resolved_days);
  for (const auto& [w, item] : array_of_tables(t, "webhook")) {
    const std::string path = "alerts." + item;
    Table h(problems, *w, path, {"url", "format", "secret", "secret_file", "ca_bundle"});
    domain::WebhookConfig hook;
    constexpr std::string_view url_what = "an http:// or https:// URL";
    if (const std::string* url = h.string("url", url_what, true)) {
      // A webhook URL may carry a secret in its path (Slack): described, never quoted.
      if (valid_http_url(*url)) hook.url = *url;
      else problems.add(*h.find("url"), path + ".url", "expected an http:// or https:// URL, got another value");
    }
    if (auto format = h.choice("format", {"json", "slack"})) {
      hook.format = *format == 0 ? domain::WebhookFormat::json : domain::WebhookFormat::slack;
    }
    if (const Value* secret = h.find("secret")) {
      // A secret: described by its shape, never quoted.
      if (!secret->is_string() || secret->as_string().str.empty()) {
        problems.add(*secret, path + ".secret", "expected a non-empty string");
      } else {
        hook.secret = secret->as_string().str;
      }
    }
    h.file_path("secret_file", hook.secret_file);
    if (h.find("secret") && h.find("secret_file")) {
      problems.add(*h.find("secret_file"), path + ".secret_file", "expected either secret or secret_file, got both");
    }
    h.file_path("ca_bundle", hook.ca_bundle);
    if (!hook.ca_bundle.empty() && hook.url.starts_with("http://")) {
      problems.add(*h.find("ca_bundle"), path + ".ca_bundle", "expected an https:// url to use it with, got http://");
    }
    if (!hook.url.empty()) a.webhooks.push_back(std::move(hook));
  }
}

// toml11 reports a syntax error as a message and an ASCII-art excerpt:
//   [error] toml::parse_key_value_pair: missing value after key-value separator '='
//    --> portcullis.toml
//      |
//    2 | workers =
//      |           ^--- expected value, but got nothing
// which becomes "portcullis.toml:2:11: missing value after key-value separator '=' (expected value, but
// got nothing)". When the excerpt shows several places, the last one is where parsing stopped.
std::string format_syntax_error(const toml::exception& e, std::string_view file) {
  std::istringstream in(e.what());
  std::string raw, message;
  std::getline(in, message);
  if (message.starts_with("[error] ")) message.erase(0, 8);
  if (message.starts_with("toml::")) {
    if (auto colon = message.find(": "); colon != std::string::npos) message.erase(0, colon + 2);
  }
  unsigned line = static_cast<unsigned>(e.location().line());
  unsigned column = 0;
  std::string hint;
  unsigned excerpt_line = 0;
  std::size_t text_start = 0;
  bool seen_arrow = false;
  while (std::getline(in, raw)) {
    const auto first = raw.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    if (!seen_arrow && raw.compare(first, 4, "--> ") != 0 && raw[first] != '|') {
      message += " " + raw.substr(first);  // a message longer than one line
      continue;
    }
    seen_arrow = true;
    const auto bar = raw.find(" | ");
    if (std::isdigit(static_cast<unsigned char>(raw[first])) && bar != std::string::npos) {
      excerpt_line = static_cast<unsigned>(std::stoul(raw.substr(first, bar - first)));
      text_start = bar + 3;
    } else if (raw[first] == '|' && excerpt_line != 0) {
      const auto mark = raw.find_first_of("^~", text_start);
      if (mark == std::string::npos) continue;
      line = excerpt_line;
      column = static_cast<unsigned>(mark - text_start + 1);
      const auto words = raw.find_first_not_of("^~- ", mark);
      hint = words == std::string::npos ? "" : raw.substr(words);
      excerpt_line = 0;
    }
  }
  while (message.ends_with('.')) message.pop_back();
  while (hint.ends_with('.')) hint.pop_back();
  std::string out = column ? fmt::format("{}:{}:{}: {}", file, line ? line : 1, column, message)
                           : fmt::format("{}:{}: {}", file, line ? line : 1, message);
  if (!hint.empty() && hint != "here" && hint != message) out += " (" + hint + ")";
  return out;
}

}  // namespace

Result<domain::Config> parse_config(std::string_view text, std::string_view filename) {
  const std::string file(filename);
  Value root;
  try {
    std::istringstream in{std::string(text)};
    root = toml::parse(in, file);
  } catch (const toml::exception& e) {
    return fail(Errc::config, format_syntax_error(e, file));
  } catch (const std::exception& e) {
    return fail(Errc::config, fmt::format("{}:1: {}", file, e.what()));
  }

  domain::Config cfg;
  cfg.source = file;
  Problems problems(file);
  Table top(problems, root, "",
            {"server", "listener", "tls", "certificate", "certificate_dir", "limits", "upstreams", "endpoint", "acme",
             "dns", "monitor", "demo", "admin", "alerts"});
  read_server(top, cfg);
  read_listeners(top, cfg);
  read_tls(top, cfg);
  read_certificates(top, cfg);
  read_certificate_dirs(top, cfg);
  read_limits(top, cfg);
  read_upstreams(top, cfg);
  const auto endpoints = read_endpoints(top, cfg);
  read_acme(top, cfg);
  read_dns(top, cfg);  // after the listeners and endpoints: its defaults and checks use them
  read_monitor(top, cfg);  // after [dns]: on by default with it
  read_demo(top, cfg);
  read_admin(top, cfg);
  read_alerts(top, cfg);
  check_endpoint_rules(endpoints, cfg, problems);  // after [dns] and [admin]: the zone and the own listeners
  if (!problems.empty()) return tl::unexpected(problems.to_error());
  return cfg;
}

Result<domain::Config> load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::io, fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(Errc::io, fmt::format("{}: cannot read: {}", file.string(), std::strerror(errno)));
  auto cfg = parse_config(text.str(), file.string());
  if (cfg) cfg->source = file;
  return cfg;
}

}  // namespace portcullis::app
