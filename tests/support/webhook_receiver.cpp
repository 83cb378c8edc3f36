#include "tests/support/webhook_receiver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

namespace portcullis::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::optional<std::string> field(const http::request<http::string_body>& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end()) return std::nullopt;
  return std::string(it->value());
}

}  // namespace

struct WebhookReceiver::Impl {
  WebhookReceiver& owner;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};

  explicit Impl(WebhookReceiver& o) : owner(o) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      stream.expires_after(std::chrono::seconds(30));
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
      if (ec) co_return;
      WebhookCall call;
      call.target = std::string(req.target());
      call.body = req.body();
      call.timestamp = field(req, "X-Portcullis-Timestamp");
      call.signature = field(req, "X-Portcullis-Signature");
      call.content_type = field(req, "Content-Type").value_or("");
      std::string retry_after;
      {
        std::lock_guard lock(owner.mutex_);
        call.answered = 200;
        if (!owner.statuses_.empty()) {
          call.answered = owner.statuses_.front();
          owner.statuses_.pop_front();
          retry_after = owner.retry_after_;
        }
        owner.calls_.push_back(call);
      }
      http::response<http::string_body> res{static_cast<http::status>(call.answered), req.version()};
      res.set(http::field::content_type, "text/plain");
      if (!retry_after.empty()) res.set(http::field::retry_after, retry_after);
      res.body() = "ok\n";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, m] = co_await http::async_write(stream, res, use_tuple);
      if (wec || !res.keep_alive()) co_return;
    }
  }
};

WebhookReceiver::WebhookReceiver(std::string secret) : secret_(std::move(secret)), impl_(std::make_unique<Impl>(*this)) {
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

WebhookReceiver::~WebhookReceiver() {
  impl_->ioc.stop();
  thread_.join();
}

std::string WebhookReceiver::url(const std::string& path) const {
  return fmt::format("http://127.0.0.1:{}{}", port_, path);
}

void WebhookReceiver::answer_next(std::vector<int> statuses, std::string retry_after) {
  std::lock_guard lock(mutex_);
  statuses_.assign(statuses.begin(), statuses.end());
  retry_after_ = std::move(retry_after);
}

std::vector<WebhookCall> WebhookReceiver::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::vector<WebhookCall> WebhookReceiver::accepted() const {
  std::vector<WebhookCall> out;
  for (auto& c : calls()) {
    if (c.answered >= 200 && c.answered < 300) out.push_back(c);
  }
  return out;
}

bool WebhookReceiver::signature_valid(const WebhookCall& call) const {
  if (!call.timestamp || !call.signature || secret_.empty()) return false;
  const std::string message = *call.timestamp + "." + call.body;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &size);
  std::string expected = "sha256=";
  for (unsigned int i = 0; i < size; ++i) expected += fmt::format("{:02x}", digest[i]);
  return expected.size() == call.signature->size() &&
         CRYPTO_memcmp(expected.data(), call.signature->data(), expected.size()) == 0;
}

}  // namespace portcullis::testing
