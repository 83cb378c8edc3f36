#include "control/reload.hpp"

#include <algorithm>

namespace portcullis::control {
namespace {

bool same_listeners(const std::vector<domain::ListenerConfig>& a, const std::vector<domain::ListenerConfig>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].address.to_string() != b[i].address.to_string() ||
        a[i].protocol != b[i].protocol || a[i].scope != b[i].scope) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> keep_start_only(const domain::Config& running, domain::Config& next) {
  std::vector<std::string> changed;
  const auto data_dir = running.resolve(running.server.data_dir);
  if (next.resolve(next.server.data_dir) != data_dir) changed.push_back("server.data_dir");
  if (next.server.workers != running.server.workers) changed.push_back("server.workers");
  if (next.tls.min_version != running.tls.min_version) changed.push_back("tls.min_version");
  if (next.demo.enabled != running.demo.enabled || next.demo.listen.to_string() != running.demo.listen.to_string())
    changed.push_back("demo");
  if (!same_listeners(next.listeners, running.listeners)) changed.push_back("listener");
  next.server.data_dir = data_dir;
  next.server.workers = running.server.workers;
  next.tls.min_version = running.tls.min_version;
  next.demo = running.demo;
  next.listeners = running.listeners;
  // The DNS server's sockets and limiter are set up at start; the zone's content is reloaded.
  if (next.dns.enabled != running.dns.enabled) {
    changed.push_back("dns");
  } else if (next.dns.enabled) {
    bool listen_changed = next.dns.listen.size() != running.dns.listen.size();
    for (std::size_t i = 0; !listen_changed && i < next.dns.listen.size(); ++i) {
      listen_changed = next.dns.listen[i].to_string() != running.dns.listen[i].to_string();
    }
    if (listen_changed) changed.push_back("dns.listen");
    if (next.dns.rate_limit != running.dns.rate_limit) changed.push_back("dns.rate_limit");
    if (next.dns.tcp_idle_timeout != running.dns.tcp_idle_timeout ||
        next.dns.tcp_max_queries != running.dns.tcp_max_queries ||
        next.dns.tcp_max_connections_per_ip != running.dns.tcp_max_connections_per_ip) {
      changed.push_back("dns.tcp limits");
    }
  }
  if (next.dns.enabled != running.dns.enabled) next.dns = running.dns;
  next.dns.listen = running.dns.listen;
  next.dns.rate_limit = running.dns.rate_limit;
  next.dns.tcp_idle_timeout = running.dns.tcp_idle_timeout;
  next.dns.tcp_max_queries = running.dns.tcp_max_queries;
  next.dns.tcp_max_connections_per_ip = running.dns.tcp_max_connections_per_ip;
  // The admin listener, its token and whether /metrics needs the token are set up at start.
  if (next.admin.enabled != running.admin.enabled ||
      next.admin.listen.to_string() != running.admin.listen.to_string() || next.admin.token != running.admin.token ||
      next.admin.token_file != running.admin.token_file || next.admin.metrics_public != running.admin.metrics_public ||
      next.admin.max_connections_per_ip != running.admin.max_connections_per_ip) {
    changed.push_back("admin");
  }
  next.admin = running.admin;
  // The webhooks' clients, secrets and outbox are set up at start; the thresholds are reloaded.
  const auto same_hook = [](const domain::WebhookConfig& a, const domain::WebhookConfig& b) {
    return a.url == b.url && a.format == b.format && a.secret == b.secret && a.secret_file == b.secret_file &&
           a.ca_bundle == b.ca_bundle;
  };
  if (!std::equal(next.alerts.webhooks.begin(), next.alerts.webhooks.end(), running.alerts.webhooks.begin(),
                  running.alerts.webhooks.end(), same_hook)) {
    changed.push_back("alerts.webhook");
  }
  if (next.alerts.keep_resolved_days != running.alerts.keep_resolved_days) changed.push_back("alerts.keep_resolved_days");
  next.alerts.webhooks = running.alerts.webhooks;
  next.alerts.keep_resolved_days = running.alerts.keep_resolved_days;
  return changed;
}

}  // namespace portcullis::control
