// What a reload (SIGHUP) may change while the process runs, and what waits for a restart: the
// settings read at start only are put back to their running values, so that nothing is
// half-applied, and named so that the log says which changes wait.
#pragma once

#include <string>
#include <vector>

#include "domain/config.hpp"

namespace portcullis::control {

// Restores into `next` the start-only settings of `running` — server.data_dir (compared
// resolved), server.workers, tls.min_version, [demo], the listeners (name, address, protocol,
// scope), the DNS server's sockets and rate limit, [admin] (including metrics_public) — and returns the names of those `next`
// changed, in that order ("server.data_dir", "server.workers", "tls.min_version", "demo",
// "listener", "dns", "dns.listen", "dns.rate_limit", "admin"). Pure.
std::vector<std::string> keep_start_only(const domain::Config& running, domain::Config& next);

}  // namespace portcullis::control
