#include "dns/udp_batch.hpp"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace portcullis::dns {

UdpBatch::UdpBatch() : buffers_(capacity * slot_size) {}

std::size_t UdpBatch::receive(int fd) {
  for (std::size_t i = 0; i < queued_; ++i) replies_[i].clear();
  queued_ = 0;
  received_ = 0;
  for (std::size_t i = 0; i < capacity; ++i) {
    in_iov_[i] = {buffers_.data() + i * slot_size, slot_size};
    in_[i].msg_hdr = {};
    in_[i].msg_hdr.msg_iov = &in_iov_[i];
    in_[i].msg_hdr.msg_iovlen = 1;
    in_[i].msg_hdr.msg_name = &peers_[i];
    in_[i].msg_hdr.msg_namelen = sizeof(peers_[i]);
    in_[i].msg_len = 0;
  }
  int n = 0;
  do {
    n = ::recvmmsg(fd, in_.data(), capacity, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  received_ = n > 0 ? static_cast<std::size_t>(n) : 0;
  return received_;
}

std::span<const std::uint8_t> UdpBatch::datagram(std::size_t i) const {
  if (i >= received_ || (in_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) return {};
  return {buffers_.data() + i * slot_size, in_[i].msg_len};
}

boost::asio::ip::address UdpBatch::peer(std::size_t i) const {
  const auto& storage = peers_[i];
  if (storage.ss_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, &storage, sizeof(v4));
    return boost::asio::ip::address_v4(ntohl(v4.sin_addr.s_addr));
  }
  if (storage.ss_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &storage, sizeof(v6));
    boost::asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), v6.sin6_addr.s6_addr, bytes.size());
    return boost::asio::ip::address_v6(bytes, v6.sin6_scope_id);
  }
  return {};
}

void UdpBatch::reply(std::size_t i) {
  if (i >= received_ || queued_ >= capacity || replies_[queued_].empty()) return;
  out_iov_[queued_] = {replies_[queued_].data(), replies_[queued_].size()};
  out_[queued_].msg_hdr = {};
  out_[queued_].msg_hdr.msg_iov = &out_iov_[queued_];
  out_[queued_].msg_hdr.msg_iovlen = 1;
  out_[queued_].msg_hdr.msg_name = const_cast<::sockaddr_storage*>(&peers_[i]);
  out_[queued_].msg_hdr.msg_namelen = in_[i].msg_hdr.msg_namelen;
  ++queued_;
}

void UdpBatch::send(int fd) {
  std::size_t sent = 0;
  while (sent < queued_) {
    const int n = ::sendmmsg(fd, out_.data() + sent, static_cast<unsigned>(queued_ - sent), MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      ++sent;  // this one failed on its own (its peer's address): the others may still go
    } else {
      break;  // the socket buffer is full: the rest are dropped
    }
  }
}

}  // namespace portcullis::dns
