// The control plane's Prometheus families: every certificate served and its expiry, the managed
// certificates' next renewal, renewal attempts and failures per endpoint, and the requests sent
// to the ACME CA.
#pragma once

#include "base/metrics_writer.hpp"
#include "control/cert_catalog.hpp"
#include "control/certificate_manager.hpp"

namespace portcullis::control {

// Reads the catalog and the manager; O(certificates + managed endpoints). Control thread.
void write_certificate_metrics(const CertCatalog& catalog, const CertificateManager& certificates,
                               base::MetricsWriter& out);

}  // namespace portcullis::control
