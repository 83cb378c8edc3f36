#include "app/toml_config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <toml.hpp>

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
  Table t(root.problems(), *v, "server", {"data_dir", "workers", "log_level"});
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

void read_limits(const Table& root, domain::Config& cfg) {
  const Value* v = section(root, "limits");
  if (!v) return;
  auto& l = cfg.limits;
  const std::vector<std::pair<std::string_view, domain::Millis*>> durations = {
      {"handshake_timeout", &l.handshake_timeout},   {"header_timeout", &l.header_timeout},
      {"idle_timeout", &l.idle_timeout},             {"upstream_connect_timeout", &l.upstream_connect_timeout},
      {"upstream_timeout", &l.upstream_timeout},     {"drain_timeout", &l.drain_timeout},
  };
  std::vector<std::string_view> known;
  for (const auto& d : durations) known.push_back(d.first);
  known.push_back("max_header_bytes");
  known.push_back("max_connections");
  Table t(root.problems(), *v, "limits", known);

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

void read_endpoints(const Table& root, domain::Config& cfg) {
  Problems& problems = root.problems();
  std::vector<EndpointRead> reads;
  std::vector<domain::EndpointCheck> checks;
  for (const auto& [v, path] : array_of_tables(root, "endpoint")) {
    domain::EndpointSpec spec;
    reads.push_back(read_endpoint(*v, path, problems, spec));
    checks.push_back(domain::validate(spec));
    for (const auto& problem : checks.back().problems) report(reads.back(), problem, problems);
  }
  // Another endpoint's field by its TOML path; an id also by its line, as ids are found by eye.
  const auto cite = [&](const domain::Place& place) {
    const EndpointRead& read = reads.at(place.endpoint);
    if (place.field.empty()) return read.path;
    if (place.item) return read.items.at(place.field).at(*place.item).second;
    std::string path = read.path + "." + std::string(place.field);
    if (place.field == "id") path += fmt::format(", line {}", line_of(read.table->as_table().at("id")));
    return path;
  };
  std::vector<bool> clash(checks.size(), false);
  for (const auto& problem : domain::validate_together(checks, cite)) {
    report(reads.at(problem.place.endpoint), problem, problems);
    clash[problem.place.endpoint] = true;
  }
  for (std::size_t i = 0; i < checks.size(); ++i) {
    if (checks[i].ok() && !clash[i]) cfg.endpoints.push_back(std::move(checks[i].endpoint));
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
           "renew_before_ratio"});
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
  // [admin] would configure an admin API this version does not have: accepted, it would look as if
  // something listened there, so it is refused with that reason rather than as an unknown key.
  Table top(problems, root, "",
            {"server", "listener", "tls", "certificate", "certificate_dir", "limits", "endpoint", "acme", "demo"},
            {{"admin", "nothing would listen on it; remove the section"}});
  read_server(top, cfg);
  read_listeners(top, cfg);
  read_tls(top, cfg);
  read_certificates(top, cfg);
  read_certificate_dirs(top, cfg);
  read_limits(top, cfg);
  read_endpoints(top, cfg);
  read_acme(top, cfg);
  read_demo(top, cfg);
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
