#pragma once
// Socket options the data path sets beyond what asio names.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/detail/socket_option.hpp>

namespace localproxy::transport {

// TCP_NOTSENT_LOWAT: a socket takes more only while fewer than this many bytes wait unsent in the
// kernel. Without it, a bulk transfer fills the send buffer (several MiB on a fast link) and a
// small message queued behind waits for all of it; with it, the backlog stays in the process,
// where frames of different connections take turns.
using tcp_notsent_lowat = boost::asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>;

// Enough to keep a fast link busy between two writes of a full WebSocket message.
inline constexpr int unsent_limit = 128 * 1024;

}  // namespace localproxy::transport
