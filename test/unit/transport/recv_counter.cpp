// recv(2) for this test program: the call goes to the kernel as the C library's would; the empty
// ones on the watched descriptor are counted (recv_counter.hpp). No socket header here: with
// _FORTIFY_SOURCE it declares recv inline, and this file defines it.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

#include "recv_counter.hpp"

namespace transport_test {
namespace {
std::atomic<int> watched{-1};
std::atomic<int> empty{0};
}  // namespace

void count_empty_recvs_on(int fd) {
  empty = 0;
  watched = fd;
}

int empty_recvs() { return empty; }

}  // namespace transport_test

extern "C" ssize_t recv(int fd, void* data, std::size_t size, int flags) {
  const long n = ::syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && fd == transport_test::watched) ++transport_test::empty;
  return static_cast<ssize_t>(n);
}
