// UdpBatch: up to `capacity` datagrams read with one recvmmsg(2) and their answers sent with one
// sendmmsg(2), so a busy UDP socket costs two system calls per batch rather than two per query.
// Linux only. Used by DnsServer on its own thread; not thread-safe.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace portcullis::dns {

class UdpBatch {
 public:
  static constexpr std::size_t capacity = 32;
  // A query larger than this is no DNS query a resolver sends (their EDNS sizes are smaller, and
  // a query carries one question); it arrives cut (MSG_TRUNC) and is dropped.
  static constexpr std::size_t slot_size = 4096;

  UdpBatch();

  // Reads what is queued on the non-blocking socket `fd`, up to capacity datagrams, and forgets
  // the replies of the previous batch. Returns how many were read: 0 when none was waiting (or
  // the socket reported an error, such as an earlier answer's ICMP "port unreachable").
  std::size_t receive(int fd);

  // Datagram `i` of the batch; empty when it arrived cut (larger than slot_size).
  std::span<const std::uint8_t> datagram(std::size_t i) const;
  boost::asio::ip::address peer(std::size_t i) const;

  // The buffer the next reply is written into (empty, its capacity kept from earlier batches, so
  // writing a reply of a size it has held allocates nothing); reply(i) then queues it.
  std::vector<std::uint8_t>& reply_buffer() noexcept { return replies_[queued_]; }
  // Queues what reply_buffer() holds to datagram i's sender (kept until send()); nothing for an
  // empty buffer.
  void reply(std::size_t i);
  // Sends every queued reply; a reply the socket cannot take now (its buffer is full) is dropped,
  // as the network could, and so is one the kernel refuses for its address.
  void send(int fd);

 private:
  std::vector<std::uint8_t> buffers_;  // capacity x slot_size
  std::array<::mmsghdr, capacity> in_{};
  std::array<::iovec, capacity> in_iov_{};
  std::array<::sockaddr_storage, capacity> peers_{};
  std::size_t received_ = 0;
  std::array<::mmsghdr, capacity> out_{};
  std::array<::iovec, capacity> out_iov_{};
  std::array<std::vector<std::uint8_t>, capacity> replies_;
  std::size_t queued_ = 0;
};

}  // namespace portcullis::dns
