#include "proxy/tls_stream.hpp"

#include <cerrno>
#include <new>

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <openssl/err.h>

namespace portcullis::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

// Shared with the timer's handler, which may run after the stream is gone.
struct TlsStream::Deadline {
  explicit Deadline(const executor_type& ex) : timer(ex) {}
  asio::steady_timer timer;
  clock::time_point at = clock::time_point::max();
  unsigned long generation = 0;  // the timer wait that is current; older ones were superseded
  bool waiting = false;
  bool expired = false;
  asio::ip::tcp::socket* socket = nullptr;  // nullptr once the stream is destroyed

  static void arm(const std::shared_ptr<Deadline>& d) {
    d->timer.expires_at(d->at);
    d->waiting = true;
    d->timer.async_wait([d, gen = ++d->generation](const error_code& ec) { fired(d, gen, ec); });
  }

  static void fired(const std::shared_ptr<Deadline>& d, unsigned long gen, const error_code& ec) {
    if (d->socket == nullptr || gen != d->generation) return;
    d->waiting = false;
    if (ec || d->at == clock::time_point::max()) return;
    if (clock::now() < d->at) {
      arm(d);  // the deadline moved later since the timer was set
      return;
    }
    d->expired = true;
    error_code ignored;
    d->socket->cancel(ignored);
  }
};

TlsStream::TlsStream(asio::ip::tcp::socket socket, SSL_CTX* ctx)
    : socket_(std::move(socket)), ssl_(SSL_new(ctx)), deadline_(std::make_shared<Deadline>(socket_.get_executor())) {
  if (!ssl_) throw std::bad_alloc();
  error_code ec;
  socket_.non_blocking(true, ec);
  SSL_set_fd(ssl_.get(), socket_.native_handle());
  SSL_set_accept_state(ssl_.get());
  deadline_->socket = &socket_;
}

TlsStream::~TlsStream() {
  deadline_->socket = nullptr;
  deadline_->timer.cancel();
}

void TlsStream::expires_after(clock::duration d) {
  deadline_->at = clock::now() + d;
  deadline_->expired = false;
  // Only a shorter deadline needs the timer now; a later one is picked up when it fires.
  if (deadline_->waiting && deadline_->timer.expiry() > deadline_->at) Deadline::arm(deadline_);
}

void TlsStream::expires_never() {
  deadline_->at = clock::time_point::max();
  deadline_->expired = false;
}

bool TlsStream::expired() const noexcept { return deadline_->expired; }

void TlsStream::arm_if_needed() {
  if (deadline_->at == clock::time_point::max()) return;
  if (!deadline_->waiting || deadline_->timer.expiry() > deadline_->at) Deadline::arm(deadline_);
}

error_code TlsStream::aborted_error() const {
  return deadline_->expired ? error_code(boost::beast::error::timeout)
                            : error_code(asio::error::operation_aborted);
}

char* TlsStream::gather_buffer() {
  thread_local char buffer[gather_limit];
  return buffer;
}

TlsStep TlsStream::step(SSL* ssl, int ret, std::size_t n) {
  if (ret > 0) return TlsStep{TlsStep::done, {}, n};
  int saved_errno = errno;
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
      return TlsStep{TlsStep::want_read, {}, 0};
    case SSL_ERROR_WANT_WRITE:
      return TlsStep{TlsStep::want_write, {}, 0};
    case SSL_ERROR_ZERO_RETURN:
      return TlsStep{TlsStep::done, asio::error::eof, 0};
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        if (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE) {
          return TlsStep{TlsStep::done, saved_errno == 0 ? error_code(asio::error::eof)
                                                         : error_code(saved_errno, boost::system::system_category()),
                         0};
        }
        return TlsStep{TlsStep::done, error_code(saved_errno, boost::system::system_category()), 0};
      }
      [[fallthrough]];
    default: {
      unsigned long e = ERR_get_error();
      ERR_clear_error();
      return TlsStep{TlsStep::done,
                     e ? error_code(static_cast<int>(e), asio::error::get_ssl_category())
                       : error_code(asio::ssl::error::stream_truncated),
                     0};
    }
  }
}

}  // namespace portcullis::proxy
