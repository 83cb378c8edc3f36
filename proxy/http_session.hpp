// The per-connection coroutines: a TLS connection carrying HTTP/1.1 requests that are routed by
// Host and relayed to an upstream with bodies streamed both ways, and a plain HTTP connection that
// answers ACME HTTP-01 challenges and redirects everything else to https.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "proxy/executor.hpp"
#include "proxy/worker.hpp"

namespace portcullis::proxy {

// `peer` is the address accept() returned. The listening socket has TCP_NODELAY set, which an
// accepted socket inherits.
Task<void> serve_tls_connection(Socket socket, boost::asio::ip::tcp::endpoint peer, const ListenerRuntime& listener,
                                Worker& worker, base::ConnectionsPerIp::Lease lease);

Task<void> serve_plain_connection(Socket socket, boost::asio::ip::tcp::endpoint peer, const ListenerRuntime& listener,
                                  Worker& worker, base::ConnectionsPerIp::Lease lease);

}  // namespace portcullis::proxy
