// Where checks report what they found: the monitor (customers' DNS records, CAA, our own zone) and
// the certificate manager (issuance, renewal, expiry) on one side, the alert book (state machines,
// the store, webhooks) on the other. Called on the control thread; an implementation must not
// block it.
#pragma once

#include <string_view>
#include <vector>

#include "domain/alert.hpp"

namespace portcullis::control {

class AlertSink {
 public:
  virtual ~AlertSink() = default;

  // The complete result of one run of `check` ("monitor.dns", "monitor.caa", "certificates", ...)
  // for one endpoint (empty id: platform-wide). Every finding fires or stays firing; an alert this
  // check reported before for this endpoint and that is not among `findings` resolves.
  virtual void report(std::string_view check, std::string_view endpoint_id,
                      std::vector<domain::AlertFinding> findings) = 0;

  // The endpoint is gone: its alerts resolve, whatever check raised them.
  virtual void forget_endpoint(std::string_view endpoint_id) = 0;
};

}  // namespace portcullis::control
