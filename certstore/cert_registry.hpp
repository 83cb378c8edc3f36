// CertRegistry: the live CertSnapshot. The control thread publishes; every ClientHello reads.
#pragma once

#include "certstore/cert_snapshot.hpp"
#include "certstore/published.hpp"

namespace portcullis::certstore {

class CertRegistry : public Published<CertSnapshot> {
 public:
  CertRegistry() : Published<CertSnapshot>(CertSnapshot::Builder().build()) {}
};

}  // namespace portcullis::certstore
