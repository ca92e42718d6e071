#pragma once
// Counts the recv calls on one descriptor that found nothing to read: tls_socket's reads go through
// recv(2), and recv_counter.cpp defines recv for the whole test program (forwarding each call to
// the kernel), so a test can see how often a read asked a socket that had nothing.

namespace transport_test {

// From now on, count the empty recvs on `fd` (-1: none); resets the count.
void count_empty_recvs_on(int fd);
[[nodiscard]] int empty_recvs();

}  // namespace transport_test
