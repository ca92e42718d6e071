#pragma once
// Socket options the data path sets beyond what asio names.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstddef>

#include <boost/asio/detail/socket_option.hpp>

namespace localproxy::transport {

// TCP_NOTSENT_LOWAT: a socket takes more only while fewer than this many bytes wait unsent in the
// kernel. Without it, a bulk transfer fills the send buffer (several MiB on a fast link) and a
// small message queued behind waits for all of it; with it, the backlog stays in the process,
// where frames of different connections take turns.
using tcp_notsent_lowat = boost::asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>;

// Enough to keep a fast link busy between two writes of a full WebSocket message.
inline constexpr int unsent_limit = 128 * 1024;

// TCP_CORK: while set, the kernel holds partial segments back and sends full ones; clearing it
// sends what is held at once. A WebSocket message over TLS leaves the process as one write per
// TLS record (16 KiB of payload each); corked for the length of the message, those writes reach
// the wire, and the peer, as a few large segments instead of one small one each: fewer packets
// to process and fewer wake-ups of the reader on both sides. tls_socket gets the same without
// the cork's two setsockopt calls per message, by sending with MSG_MORE (tls_socket::write_now);
// the cork stays for the streams it does not write (TLS inside an https:// web proxy, ws://).
using tcp_cork = boost::asio::detail::socket_option::boolean<IPPROTO_TCP, TCP_CORK>;

// A message longer than this takes more than one TLS record, and is corked.
inline constexpr std::size_t cork_above = 16 * 1024;

}  // namespace localproxy::transport
