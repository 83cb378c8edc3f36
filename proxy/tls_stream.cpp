#include "proxy/tls_stream.hpp"

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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
  Timer timer;
  clock::time_point at = clock::time_point::max();
  unsigned long generation = 0;  // the timer wait that is current; older ones were superseded
  bool waiting = false;
  bool expired = false;
  Socket* socket = nullptr;  // nullptr once the stream is destroyed

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

TlsStream::TlsStream(Socket socket, SSL_CTX* ctx)
    : socket_(std::move(socket)), ssl_(SSL_new(ctx)), deadline_(std::make_shared<Deadline>(socket_.get_executor())) {
  if (!ssl_) throw std::bad_alloc();
  error_code ec;
  socket_.non_blocking(true, ec);
  BIO* bio = BIO_new(bio_method());
  if (bio == nullptr) throw std::bad_alloc();
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(ssl_.get());
  deadline_->socket = &socket_;
  in_.readable = true;  // a freshly accepted connection usually has its ClientHello waiting
}

// The connection's BIO. Reads: OpenSSL takes ciphertext from in_; no bytes and no end yet is
// "retry", and the operation then waits on the reactor and calls OpenSSL again. Writes: straight
// to the descriptor, non-blocking; a full socket is "retry" and the operation waits for it.
BIO_METHOD* TlsStream::bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "portcullis connection");
    if (m == nullptr || BIO_meth_set_read_ex(m, &TlsStream::incoming_read) != 1 ||
        BIO_meth_set_write_ex(m, &TlsStream::outgoing_write) != 1 ||
        BIO_meth_set_ctrl(m, &TlsStream::bio_ctrl) != 1) {
      throw std::bad_alloc();
    }
    return m;
  }();
  return method;
}

int TlsStream::outgoing_write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
  auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  *written = 0;
  for (;;) {
    ssize_t n = ::send(self->socket_.native_handle(), data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      *written = static_cast<std::size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return 0;  // any other errno: OpenSSL reports SSL_ERROR_SYSCALL and step() maps errno
  }
}

int TlsStream::incoming_read(BIO* bio, char* out, std::size_t len, std::size_t* got) {
  auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  *got = 0;
  Incoming& in = self->in_;
  std::size_t available = in.end - in.begin;
  if (available == 0) {
    if (in.eof) return 0;
    if (in.error) {
      errno = in.error.value();
      return 0;
    }
    BIO_set_retry_read(bio);
    return 0;
  }
  std::size_t n = std::min(available, len);
  std::memcpy(out, in.block->bytes + in.begin, n);
  in.begin += n;
  *got = n;
  return 1;
}

long TlsStream::bio_ctrl(BIO* bio, int cmd, long, void*) {
  auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_PENDING:
      return static_cast<long>(self->in_.end - self->in_.begin);
    case BIO_CTRL_EOF:
      return self->in_.eof && self->in_.begin == self->in_.end ? 1 : 0;
    case BIO_CTRL_FLUSH:
      return 1;
    default:
      return 0;
  }
}

asio::mutable_buffer TlsStream::receive_space() {
  if (!in_.block) in_.block = make_recycled<CipherBlock>();
  if (in_.begin == in_.end) {
    in_.begin = in_.end = 0;
  } else if (in_.end == sizeof(CipherBlock::bytes)) {
    std::memmove(in_.block->bytes, in_.block->bytes + in_.begin, in_.end - in_.begin);
    in_.end -= in_.begin;
    in_.begin = 0;
  }
  return asio::buffer(in_.block->bytes + in_.end, sizeof(CipherBlock::bytes) - in_.end);
}

bool TlsStream::receive_now() {
  if (!in_.readable || in_.eof || in_.error || in_.receiving) return false;
  auto space = receive_space();
  ssize_t n = ::recv(socket_.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
  if (n > 0) {
    received(static_cast<std::size_t>(n));
    return true;
  }
  in_.readable = false;
  if (n == 0) {
    in_.eof = true;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
  if (errno == EINTR) {
    in_.readable = true;
    return true;
  }
  in_.error = error_code(errno, boost::system::system_category());
  return true;
}

void TlsStream::received(std::size_t n) {
  in_.end += n;
  // A receive that filled the space may have left bytes in the socket.
  in_.readable = in_.end == sizeof(CipherBlock::bytes);
}

void TlsStream::release_idle_block() noexcept {
  if (in_.block && in_.begin == in_.end && !in_.receiving) {
    in_.block.reset();
    in_.begin = in_.end = 0;
  }
}

TlsStream::~TlsStream() {
  deadline_->socket = nullptr;
  deadline_->timer.cancel();
}

// CLOCK_MONOTONIC_COARSE: steady_clock's clock at tick resolution (a few ms), read without the
// TSC. Deadlines are set several times per request and are seconds long; a few ms early is fine.
TlsStream::clock::time_point TlsStream::coarse_now() noexcept {
  timespec ts{};
  if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0) return clock::now();
  return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                                      std::chrono::nanoseconds(ts.tv_nsec)));
}

void TlsStream::expires_after(clock::duration d) {
  deadline_->at = coarse_now() + d;
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
