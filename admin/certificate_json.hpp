// The certificate resources as JSON: the transitional certificate upload's body read (unknown
// fields and wrong types reported by field, the key kept as SecretBytes) and a certificate's
// summary written out (never its key).
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "admin/endpoint_json.hpp"
#include "base/secret_bytes.hpp"
#include "certstore/storage.hpp"
#include "control/transitional_certificates.hpp"

namespace portcullis::admin {

struct TransitionalUpload {
  std::string certificate;      // PEM: the leaf, then each issuer in turn
  base::SecretBytes private_key;  // PEM, unencrypted
  bool allow_untrusted = false;   // a chain that leads to no root of the system store is accepted, with a warning
};

// PUT /api/v1/endpoints/{id}/transitional-certificate: {certificate, private_key}, both required,
// and allow_untrusted (optional, a boolean).
Read<TransitionalUpload> read_transitional_upload(const boost::json::object& body);

boost::json::object to_json(const control::CertificateSummary& summary);

// One entry of the certificate timeline: at, reason, source, hostnames, serial, not_after.
boost::json::object to_json(const certstore::CertificateSwap& swap);

}  // namespace portcullis::admin
