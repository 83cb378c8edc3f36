// A worker's cached copies of the three published snapshots it reads per handshake and request:
// certificates, routes and the challenge board. Each is re-loaded only when the control thread
// has published a new one (base::SnapshotCache), so the hot path touches no shared reference count.
#pragma once

#include "base/snapshot_cache.hpp"
#include "certstore/cert_registry.hpp"
#include "certstore/challenge_board.hpp"
#include "proxy/route_table.hpp"

namespace portcullis::proxy {

// Owned by one worker and used only on its thread.
struct WorkerSnapshots {
  WorkerSnapshots(const certstore::CertRegistry& cert_source, const Routes& route_source,
                  const certstore::ChallengeBoard& board_source)
      : certs(cert_source), routes(route_source), challenges(board_source) {}

  base::SnapshotCache<certstore::CertSnapshot> certs;
  base::SnapshotCache<RouteTable> routes;
  base::SnapshotCache<certstore::ChallengeSnapshot> challenges;
};

using RoutesLease = base::SnapshotCache<RouteTable>::Lease;
using CertsLease = base::SnapshotCache<certstore::CertSnapshot>::Lease;

}  // namespace portcullis::proxy
