// CertRegistry: the live CertSnapshot. The control thread publishes; every ClientHello reads.
#pragma once

#include "certstore/cert_snapshot.hpp"
#include "base/published.hpp"

namespace portcullis::certstore {

class CertRegistry : public base::Published<CertSnapshot> {
 public:
  CertRegistry() : base::Published<CertSnapshot>(CertSnapshot::Builder().build()) {}
};

}  // namespace portcullis::certstore
