// websocket_connection::write: a message of many TLS records is corked while it is written and
// uncorked after, so that nothing of it is held back in the kernel once the write is done.
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>

#include "transport_fixture.hpp"

namespace transport_test {
namespace {

// The TCP_CORK setting of this process's socket connected to 127.0.0.1:port (-1: none found).
int cork_of_socket_to(std::uint16_t port) {
  DIR* fds = opendir("/proc/self/fd");
  if (!fds) return -1;
  int found = -1;
  while (dirent* entry = readdir(fds)) {
    const int fd = std::atoi(entry->d_name);
    if (fd <= 2) continue;
    sockaddr_storage peer{};
    socklen_t size = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0 || peer.ss_family != AF_INET) continue;
    if (ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port) != port) continue;
    int cork = -1;
    socklen_t len = sizeof cork;
    if (getsockopt(fd, IPPROTO_TCP, TCP_CORK, &cork, &len) == 0) found = cork;
  }
  closedir(fds);
  return found;
}

class WebSocketWrite : public TransportTest {};

TEST_F(WebSocketWrite, LargeMessagesCrossWholeAndLeaveTheSocketUncorked) {
  websocket_server service(io, tls_service(certs().localhost));
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.connection) << out.failure.message;
  for (const std::size_t size : {std::size_t{100}, std::size_t{16 * 1024 + 1}, std::size_t{120 * 1024}}) {
    std::string payload(size, '\0');
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 7 + size);
    EXPECT_EQ(echo(*out.connection, payload), payload) << size << " bytes";
    EXPECT_EQ(cork_of_socket_to(service.port()), 0) << "after a message of " << size << " bytes";
  }
}

}  // namespace
}  // namespace transport_test
