// The I/O types of a worker, all on the concrete executor of its io_context. Asio's defaults use
// the type-erased any_io_executor, whose copies, moves and property queries showed up on the data
// path's profile; a worker's objects never run on another executor, so nothing is lost.
#pragma once

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace portcullis::proxy {

using Executor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, Executor>;
using Resolver = boost::asio::ip::basic_resolver<boost::asio::ip::tcp, Executor>;
using Timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;
// A plain TCP stream with Beast's per-operation timeouts (upstreams, the plain HTTP listener).
using PlainStream = boost::beast::basic_stream<boost::asio::ip::tcp, Executor>;

template <class T>
using Task = boost::asio::awaitable<T, Executor>;
// Completion token of the coroutines: (error_code, result...) as a tuple, never an exception.
inline constexpr auto task_tuple = boost::asio::as_tuple(boost::asio::use_awaitable_t<Executor>{});

}  // namespace portcullis::proxy
