// CertRegistry: the live CertSnapshot. The control thread publishes; every ClientHello reads.
#pragma once

#include "base/published.hpp"
#include "certstore/cert_snapshot.hpp"

namespace portcullis::certstore {

class CertRegistry : public base::Published<CertSnapshot> {
 public:
  CertRegistry() : base::Published<CertSnapshot>(CertSnapshot::Builder().build()) {}
};

}  // namespace portcullis::certstore
