// A built-in HTTP/1.1 upstream that answers every request with a short page: what `make run`
// proxies to out of the box, so a first `curl -k https://localhost:8443/` has something to show.
#pragma once

#include <boost/asio/io_context.hpp>

#include "base/error.hpp"
#include "domain/config.hpp"

namespace portcullis::app {

// Binds `listen` and serves on `io` (the control thread). Blocking only for the bind.
Status start_demo_upstream(boost::asio::io_context& io, const domain::HostPort& listen);

}  // namespace portcullis::app
