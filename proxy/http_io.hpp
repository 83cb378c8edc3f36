// The HTTP/1.1 I/O steps the session and the upstream exchange share: reading a message head
// (from what a buffer already holds first), writing without the reactor when the socket takes the
// bytes at once, relaying a body between a parser and a serializer, tunnelling an upgraded
// connection, and the short responses the edge writes itself. Templates over the client stream
// (TlsStream or PlainStream) and the upstream's PlainStream; used on a worker's thread only.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "domain/config.hpp"
#include "proxy/executor.hpp"
#include "proxy/recycled.hpp"
#include "proxy/tls_stream.hpp"

namespace portcullis::proxy::http_io {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using beast::error_code;

using RequestParser = http::request_parser<http::buffer_body>;
using ResponseParser = http::response_parser<http::buffer_body>;
using RequestSerializer = http::serializer<true, http::buffer_body>;
using ResponseSerializer = http::serializer<false, http::buffer_body>;
// A client connection's read buffer: one recycled 4 KiB block while a request is being read.
using ClientBuffer = beast::basic_flat_buffer<ReadBufferAllocator<char>>;
using RelayChunk = std::array<char, 16 * 1024>;
// Bytes asked of the socket per read while a head is incomplete.
constexpr std::size_t read_chunk = 4096;
// A response whose body is already received whole and is at most this long leaves with its head in
// one write; longer ones are relayed chunk by chunk.
constexpr std::size_t max_inline_body = 16 * 1024;

// The layer that carries the deadline: the beast::tcp_stream of a plain or upstream connection,
// the TlsStream itself for a client TLS connection.
template <class Stream>
auto& tcp_of(Stream& s) {
  return beast::get_lowest_layer(s);
}

// A short response of our own (errors, redirects, challenge answers). `allow`: the Allow field a
// 405 must carry (RFC 9110 §15.5.6).
template <class Stream>
Task<error_code> send_simple(Stream& stream, http::status status, unsigned version,
                                        std::string body, bool keep_alive, domain::Millis timeout,
                                        std::string_view location = {},
                                        std::string_view content_type = "text/plain; charset=utf-8",
                                        std::string_view allow = {}) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "portcullis");
  res.set(http::field::content_type, content_type);
  if (!location.empty()) res.set(http::field::location, location);
  if (!allow.empty()) res.set(http::field::allow, allow);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  tcp_of(stream).expires_after(timeout);
  auto [ec, n] = co_await http::async_write(stream, res, task_tuple);
  co_return ec;
}

// Parses what `buffer` holds into `parser`: true once the head is complete, false with no error
// while more bytes are needed. Beast's parser takes a head only once it is whole, so its bytes stay
// in `buffer` until then; header_limit bounds how far that grows.
template <class Buffer, bool isRequest>
bool parse_head(Buffer& buffer, http::parser<isRequest, http::buffer_body>& parser, error_code& ec) {
  if (buffer.size() == 0) return false;
  buffer.consume(parser.put(buffer.data(), ec));
  if (parser.is_header_done()) {
    ec = {};
    return true;
  }
  if (ec == http::error::need_more) ec = {};
  return false;
}

// Reads until the head in `parser` is complete (what `buffer` holds is parsed first).
template <class Stream, class Buffer, bool isRequest>
Task<error_code> read_head(Stream& stream, Buffer& buffer, http::parser<isRequest, http::buffer_body>& parser) {
  for (;;) {
    error_code ec;
    if (parse_head(buffer, parser, ec)) co_return error_code{};
    if (ec) co_return ec;
    auto [rec, n] = co_await stream.async_read_some(buffer.prepare(read_chunk), task_tuple);
    if (rec == asio::error::eof) {
      // Before any byte the stream just ended; within a head the message is cut short.
      if (!parser.got_some()) co_return error_code(http::error::end_of_stream);
      error_code eof;
      parser.put_eof(eof);
      co_return eof ? eof : error_code(http::error::partial_message);
    }
    if (rec) co_return rec;
    buffer.commit(n);
  }
}

// Writes as much of `bytes` as the socket takes now, without the reactor; returns how many.
// A short count with no error means the rest has to go through an asynchronous write.
template <class Stream>
std::size_t write_now(Stream& stream, std::string_view bytes, error_code& ec) {
  std::size_t done = 0;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    while (done < bytes.size()) {
      TlsStep step = stream.try_write(asio::buffer(bytes.data() + done, bytes.size() - done));
      if (step.kind != TlsStep::done) break;
      if (step.ec) {
        ec = step.ec;
        break;
      }
      done += step.bytes;
    }
  } else {
    auto& socket = beast::get_lowest_layer(stream).socket();
    if (!socket.non_blocking()) return 0;  // a blocking write_some would stall the worker
    while (done < bytes.size()) {
      std::size_t n = socket.write_some(asio::buffer(bytes.data() + done, bytes.size() - done), ec);
      if (ec) {
        if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
        break;
      }
      done += n;
    }
  }
  return done;
}

// The rest of `bytes` from `done` on, through the reactor (after write_now came up short).
template <class Stream>
Task<error_code> write_rest(Stream& stream, std::string_view bytes, std::size_t done, domain::Millis timeout) {
  tcp_of(stream).expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes.data() + done, bytes.size() - done), task_tuple);
  co_return ec;
}

// Relays a message body from `in` (parser already past the header) to `out` (serializer whose
// header is already written). Returns the first error; `read_failed` tells which side broke.
template <bool isRequest, class In, class Buffer, class Out>
Task<error_code> relay_body(In& in, Buffer& in_buffer,
                                       http::parser<isRequest, http::buffer_body>& parser, Out& out,
                                       http::serializer<isRequest, http::buffer_body>& sr,
                                       domain::Millis read_timeout, domain::Millis write_timeout, bool& read_failed) {
  // The slice a body is relayed through: recycled, held only while a body is in flight.
  auto slice = make_recycled<RelayChunk>();
  auto& chunk = *slice;
  read_failed = false;
  do {
    auto& body = parser.get().body();
    if (!parser.is_done()) {
      body.data = chunk.data();
      body.size = chunk.size();
      tcp_of(in).expires_after(read_timeout);
      auto [ec, n] = co_await http::async_read(in, in_buffer, parser, task_tuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        read_failed = true;
        co_return ec;
      }
      body.size = chunk.size() - body.size;
      body.data = chunk.data();
      body.more = !parser.is_done();
    } else {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    }
    tcp_of(out).expires_after(write_timeout);
    auto [ec, n] = co_await http::async_write(out, sr, task_tuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
  } while (!parser.is_done() || !sr.is_done());
  co_return error_code{};
}

// Copies raw bytes one way until EOF or error (an upgraded connection's tunnel).
template <class In, class Out>
Task<void> pump(In& in, Out& out, domain::Millis idle) {
  auto slice = make_recycled<RelayChunk>();
  auto& chunk = *slice;
  for (;;) {
    tcp_of(in).expires_after(idle);
    auto [ec, n] = co_await in.async_read_some(asio::buffer(chunk), task_tuple);
    if (ec || n == 0) co_return;
    tcp_of(out).expires_after(idle);
    auto [wec, wn] = co_await asio::async_write(out, asio::buffer(chunk.data(), n), task_tuple);
    if (wec) co_return;
  }
}

}  // namespace portcullis::proxy::http_io
