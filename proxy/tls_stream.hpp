// TlsStream: a server-side TLS connection that runs OpenSSL on the socket with as few system calls
// as the protocol allows, through one BIO of our own. Writes go straight to the descriptor. Reads
// hand OpenSSL the ciphertext the reactor received: a receive that finds no
// data parks in the reactor without re-arming epoll, and a connection waiting for its next
// request holds no buffer at all (a one-byte MSG_PEEK wait), so with SSL_MODE_RELEASE_BUFFERS an
// idle connection costs its SSL object and little else. Models Asio's AsyncReadStream and
// AsyncWriteStream so Beast's HTTP operations run on it, and keeps one deadline per connection
// (expires_after), like beast::tcp_stream.
#pragma once

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/ossl.hpp"
#include "proxy/executor.hpp"
#include "proxy/recycled.hpp"

namespace portcullis::proxy {

// Outcome of one non-blocking OpenSSL call on the stream.
struct TlsStep {
  enum Kind { done, want_read, want_write } kind = done;
  boost::system::error_code ec;
  std::size_t bytes = 0;
};

class TlsStream {
 public:
  using executor_type = Executor;
  using clock = std::chrono::steady_clock;

  // Takes the accepted socket; `ctx` must outlive the stream. Throws std::bad_alloc when OpenSSL
  // cannot allocate the SSL object.
  TlsStream(Socket socket, SSL_CTX* ctx);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  SSL* native_handle() const noexcept { return ssl_.get(); }
  Socket& socket() noexcept { return socket_; }

  // The connection's deadline: an operation pending when it passes fails with
  // beast::error::timeout (as with beast::tcp_stream), and so does every later one until the next
  // expires_after. Moving the deadline later is two stores: the timer is re-armed lazily when it
  // fires early, so a request does not cost a timer update per read.
  void expires_after(clock::duration d);
  static clock::time_point coarse_now() noexcept;
  void expires_never();

  template <class Token>
  auto async_handshake(Token&& token) {
    return run(token, [](SSL* ssl, TlsStream&) { return step(ssl, SSL_do_handshake(ssl), 0); });
  }

  // Sends close_notify; does not wait for the peer's.
  template <class Token>
  auto async_shutdown(Token&& token) {
    return run(token, [](SSL* ssl, TlsStream&) {
      int r = SSL_shutdown(ssl);
      return r >= 0 ? TlsStep{} : step(ssl, r, 0);
    });
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    boost::asio::mutable_buffer b;
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      if (it->size() > 0) {
        b = *it;
        break;
      }
    }
    return run(token, [b](SSL* ssl, TlsStream&) {
      if (b.size() == 0) return TlsStep{};
      std::size_t n = 0;
      int r = SSL_read_ex(ssl, b.data(), b.size(), &n);
      return step(ssl, r, n);
    });
  }

  // Writes at most one TLS record's worth: a sequence of several buffers (Beast's header pieces,
  // a chunk and its framing) is gathered into one record rather than one record per piece.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return run(token, [buffers](SSL* ssl, TlsStream& self) {
      boost::asio::const_buffer one = self.gather(buffers);
      if (one.size() == 0) return TlsStep{};
      std::size_t n = 0;
      int r = SSL_write_ex(ssl, one.data(), one.size(), &n);
      return step(ssl, r, n);
    });
  }

  // One write attempt now, without the reactor: `done` with the bytes OpenSSL took (or the
  // error), want_write/want_read when the caller has to fall back to async_write_some with the
  // same bytes.
  TlsStep try_write(boost::asio::const_buffer b) {
    if (expired()) return TlsStep{TlsStep::done, aborted_error(), 0};
    ERR_clear_error();
    errno = 0;
    std::size_t n = 0;
    int r = SSL_write_ex(ssl_.get(), b.data(), b.size(), &n);
    return step(ssl_.get(), r, n);
  }

  // Completes when a read would make progress (bytes received but not yet decrypted, or readable
  // on the socket), without holding any buffer while waiting: the idle wait of a kept-alive
  // connection.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return run(token, [](SSL* ssl, TlsStream& self) {
      return self.in_.begin != self.in_.end || SSL_has_pending(ssl) ? TlsStep{} : TlsStep{TlsStep::want_read, {}, 0};
    }, true);
  }

 private:
  struct Deadline;
  // Ciphertext received but not yet taken by OpenSSL. The block is held only while bytes are in
  // it or a receive into it is pending; an idle connection has none.
  struct alignas(16) CipherBlock {
    char bytes[17 * 1024];  // a whole TLS record (16 KiB + overhead) fits
  };
  struct Incoming {
    Recycled<CipherBlock> block;
    std::size_t begin = 0;
    std::size_t end = 0;
    bool eof = false;                     // the peer closed its side
    boost::system::error_code error;      // the receive failed
    bool readable = false;                // the last wait or receive says more bytes are there
    bool receiving = false;               // a receive into the block is pending
  };
  static BIO_METHOD* bio_method();
  static int outgoing_write(BIO* bio, const char* data, std::size_t len, std::size_t* written);
  static int incoming_read(BIO* bio, char* out, std::size_t len, std::size_t* got);
  static long bio_ctrl(BIO* bio, int cmd, long num, void* ptr);
  // Room for the next receive (a block taken if none is held); empty bytes are reclaimed first.
  boost::asio::mutable_buffer receive_space();
  // One non-blocking receive straight from the descriptor when the reactor said it is readable;
  // false when it would block (the reactor then waits).
  bool receive_now();
  void received(std::size_t n);
  void release_idle_block() noexcept;
  static TlsStep step(SSL* ssl, int ret, std::size_t n);
  bool expired() const noexcept;
  void arm_if_needed();
  boost::system::error_code aborted_error() const;

  template <class ConstBuffers>
  boost::asio::const_buffer gather(const ConstBuffers& buffers) {
    auto it = boost::asio::buffer_sequence_begin(buffers);
    auto end = boost::asio::buffer_sequence_end(buffers);
    while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
    if (it == end) return {};
    boost::asio::const_buffer first(*it);
    auto next = it;
    ++next;
    while (next != end && boost::asio::const_buffer(*next).size() == 0) ++next;
    if (next == end || first.size() >= gather_limit) return first;
    // Identical bytes on every retry of the same operation: OpenSSL accepts a moved buffer
    // (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) as long as the content is the same.
    char* out = gather_buffer();
    std::size_t used = 0;
    for (; it != end && used < gather_limit; ++it) {
      boost::asio::const_buffer b(*it);
      std::size_t take = std::min(b.size(), gather_limit - used);
      std::memcpy(out + used, b.data(), take);
      used += take;
    }
    return {out, used};
  }
  static char* gather_buffer();
  static constexpr std::size_t gather_limit = 16 * 1024;  // one TLS record

  template <class Token, class Fn>
  auto run(Token& token, Fn fn, bool wait_only = false);

  template <class Fn>
  struct Op;

  Socket socket_;
  base::SslPtr ssl_;
  std::shared_ptr<Deadline> deadline_;
  Incoming in_;
  char peek_byte_ = 0;
};

// A pending operation: OpenSSL is called until it succeeds or fails; in between, the operation
// waits on the reactor for ciphertext (a receive into the connection's block, or a one-byte peek
// for the idle wait) or for the socket to take more bytes.
template <class Fn>
struct TlsStream::Op {
  enum class Pending : unsigned char { none, receive, peek, writable };
  TlsStream& stream;
  Fn fn;
  bool wait_only;
  bool initiating = true;
  bool finished = false;
  Pending pending = Pending::none;
  TlsStep result{};

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
    const bool first = initiating;
    initiating = false;
    if (finished) return self.complete(result.ec, result.bytes);
    const Pending was = pending;
    pending = Pending::none;
    if (was == Pending::receive) stream.in_.receiving = false;
    if (ec == boost::asio::error::operation_aborted) {
      stream.release_idle_block();
      return self.complete(stream.aborted_error(), 0);
    }
    if (was == Pending::receive) {
      if (ec == boost::asio::error::eof) {
        stream.in_.eof = true;
      } else if (ec) {
        stream.in_.error = ec;  // OpenSSL sees it as a failed read
      } else {
        stream.received(n);
      }
    } else if (was == Pending::peek || was == Pending::writable) {
      if (ec) return self.complete(ec, 0);
      if (was == Pending::peek) stream.in_.readable = true;
      if (wait_only) return self.complete({}, 0);
    }
    for (;;) {
      if (stream.expired()) return finish(self, first, stream.aborted_error(), 0);
      ERR_clear_error();
      errno = 0;
      TlsStep s = fn(stream.ssl_.get(), stream);
      if (s.kind == TlsStep::want_read) {
        if (wait_only || stream.in_.receiving) {
          // The idle wait holds no buffer; and while another operation (a tunnel's read beside
          // this write) owns the block, this one only waits for readability and tries again.
          stream.arm_if_needed();
          stream.release_idle_block();
          pending = Pending::peek;
          return stream.socket_.async_receive(boost::asio::buffer(&stream.peek_byte_, 1),
                                              boost::asio::socket_base::message_peek, std::move(self));
        }
        if (stream.receive_now()) continue;  // more ciphertext arrived: call OpenSSL again
        stream.arm_if_needed();
        pending = Pending::receive;
        stream.in_.receiving = true;
        return stream.socket_.async_receive(stream.receive_space(), std::move(self));
      }
      if (s.kind == TlsStep::want_write) {
        stream.arm_if_needed();
        pending = Pending::writable;
        return stream.socket_.async_wait(boost::asio::socket_base::wait_write, std::move(self));
      }
      stream.release_idle_block();
      return finish(self, first, s.ec, s.bytes);
    }
  }

  // A result available in the initiating call is delivered through a post, as Asio requires of
  // an asynchronous operation.
  template <class Self>
  void finish(Self& self, bool first, boost::system::error_code ec, std::size_t bytes) {
    if (!first) return self.complete(ec, bytes);
    result.ec = ec;
    result.bytes = bytes;
    finished = true;
    auto ex = stream.get_executor();
    boost::asio::post(ex, std::move(self));
  }
};

template <class Token, class Fn>
auto TlsStream::run(Token& token, Fn fn, bool wait_only) {
  return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
      Op<Fn>{*this, std::move(fn), wait_only}, token, socket_);
}

}  // namespace portcullis::proxy
