// RAII for the ldns objects the DNS code makes: each alias frees its object with the matching
// ldns function (a deep free, so an RR takes its owner and rdata with it). Include it after the
// C++ standard headers: ldns/common.h defines bool, true and false as macros.
#pragma once

#include <memory>

#include <ldns/ldns.h>

namespace portcullis::dns {

struct LdnsPktFree {
  void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
struct LdnsRrFree {
  void operator()(ldns_rr* p) const noexcept { ldns_rr_free(p); }
};
struct LdnsRrListFree {
  void operator()(ldns_rr_list* p) const noexcept { ldns_rr_list_deep_free(p); }
};
struct LdnsRdfFree {
  void operator()(ldns_rdf* p) const noexcept { ldns_rdf_deep_free(p); }
};

using PktPtr = std::unique_ptr<ldns_pkt, LdnsPktFree>;
using RrPtr = std::unique_ptr<ldns_rr, LdnsRrFree>;
using RrListPtr = std::unique_ptr<ldns_rr_list, LdnsRrListFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, LdnsRdfFree>;

}  // namespace portcullis::dns
