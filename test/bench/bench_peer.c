// Benchmark helper (bench.py): the application behind the tunnel and the client in front of it, in C,
// so that the figures measure the tunnel rather than the interpreter's threads and wake-ups around
// it (on the development VM, direct on loopback, a Python client and application took 242 µs for
// connect + first byte and 53 µs for a round trip, p50; these take 79 and 38 µs).
//
//   bench_peer serve TOTAL            listen on 127.0.0.1 (port printed on stdout); each connection's
//                                     first byte picks what it does: U (an 8-byte big-endian length,
//                                     then that many bytes to sink, acknowledged with "k"), D (send
//                                     TOTAL bytes, then close), S (send until the client goes away,
//                                     at most 2 GiB), E (echo)
//   bench_peer rtt PORT COUNT S       one connection, COUNT 1-byte round trips; a line per round
//                                     trip: "<sent µs> <answered µs>" (CLOCK_MONOTONIC, the clock
//                                     pass_clock.c reads); a reply that takes more than S seconds
//                                     fails the run (exit status 3)
//   bench_peer connect PORT COUNT MS  COUNT connections one after another, MS milliseconds apart:
//                                     connect, "Ex", wait for "x"; a line per connection, its µs,
//                                     then "elapsed <µs>" for all of them
// Exits 1 (3 for a reply that did not come in time) with a one-line message on stderr when
// something fails.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { chunk = 256 * 1024 };
static const uint64_t stream_limit = 2ull << 30;
static uint64_t total;
static char block[chunk];

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static _Noreturn void fail(const char *what) {
  const int timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
  fprintf(stderr, "bench_peer: %s: %s\n", what,
          timed_out ? "no reply in time" : errno ? strerror(errno) : "the connection was closed or sent other bytes");
  exit(timed_out ? 3 : 1);
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    const ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int recv_all(int fd, char *p, size_t n) {
  while (n > 0) {
    const ssize_t k = recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static void *serve_one(void *arg) {
  const int fd = (int)(intptr_t)arg;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char mode;
  if (recv_all(fd, &mode, 1) == 0) {
    if (mode == 'U') {
      unsigned char header[8];
      if (recv_all(fd, (char *)header, 8) == 0) {
        uint64_t left = 0;
        for (int i = 0; i < 8; ++i) left = left << 8 | header[i];
        char *sink = malloc(chunk);
        while (sink && left > 0) {
          const ssize_t k = recv(fd, sink, left < chunk ? left : chunk, 0);
          if (k < 0 && errno == EINTR) continue;
          if (k <= 0) break;
          left -= (uint64_t)k;
        }
        free(sink);
        if (left == 0) send_all(fd, "k", 1);
      }
    } else if (mode == 'D') {
      for (uint64_t left = total; left > 0;) {
        const size_t n = left < chunk ? left : chunk;
        if (send_all(fd, block, n) != 0) break;
        left -= n;
      }
      shutdown(fd, SHUT_WR);
      char rest;
      while (recv(fd, &rest, 1, 0) > 0) {
      }
    } else if (mode == 'S') {
      for (uint64_t sent = 0; sent < stream_limit && send_all(fd, block, chunk) == 0; sent += chunk) {
      }
    } else if (mode == 'E') {
      char *buffer = malloc(chunk);
      while (buffer) {
        const ssize_t k = recv(fd, buffer, chunk, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0 || send_all(fd, buffer, (size_t)k) != 0) break;
      }
      free(buffer);
    }
  }
  close(fd);
  return NULL;
}

static _Noreturn void serve(void) {
  for (size_t i = 0; i < sizeof block; ++i) block[i] = (char)rand();
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t length = sizeof address;
  if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 512) != 0 ||
      getsockname(listener, (struct sockaddr *)&address, &length) != 0)
    fail("listen on 127.0.0.1");
  printf("%d\n", ntohs(address.sin_port));
  fflush(stdout);
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attributes, 64 * 1024);
  for (;;) {
    const int fd = accept(listener, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      fail("accept");
    }
    pthread_t thread;
    if (pthread_create(&thread, &attributes, serve_one, (void *)(intptr_t)fd) != 0) close(fd);
  }
}

static int connect_to(int port, long timeout_s) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) fail("connect");
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct timeval timeout = {.tv_sec = timeout_s};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

static int round_trips(int port, long count, long timeout_s) {
  const int fd = connect_to(port, timeout_s);
  if (send_all(fd, "E", 1) != 0) fail("send");
  double *sent = malloc(sizeof(double) * (size_t)count), *answered = malloc(sizeof(double) * (size_t)count);
  if (!sent || !answered) fail("memory for the samples");
  for (long i = 0; i < count; ++i) {
    char c = 'x';
    sent[i] = now_us();
    if (send_all(fd, &c, 1) != 0) fail("send");
    errno = 0;
    if (recv_all(fd, &c, 1) != 0 || c != 'x') fail("round trip");
    answered[i] = now_us();
  }
  close(fd);
  for (long i = 0; i < count; ++i) printf("%.3f %.3f\n", sent[i], answered[i]);
  return 0;
}

static int connections(int port, long count, long pause_ms) {
  double *took = malloc(sizeof(double) * (size_t)count);
  if (!took) fail("memory for the samples");
  const double start = now_us();
  for (long i = 0; i < count; ++i) {
    if (pause_ms > 0) {
      struct timespec pause = {.tv_sec = pause_ms / 1000, .tv_nsec = pause_ms % 1000 * 1000000};
      nanosleep(&pause, NULL);
    }
    const double t0 = now_us();
    const int fd = connect_to(port, 30);
    char c;
    errno = 0;
    if (send_all(fd, "Ex", 2) != 0 || recv_all(fd, &c, 1) != 0 || c != 'x') fail("first byte");
    took[i] = now_us() - t0;
    close(fd);
  }
  const double elapsed = now_us() - start;
  for (long i = 0; i < count; ++i) printf("%.1f\n", took[i]);
  printf("elapsed %.0f\n", elapsed);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && strcmp(argv[1], "serve") == 0) {
    total = strtoull(argv[2], NULL, 10);
    serve();
  }
  if (argc == 5 && strcmp(argv[1], "rtt") == 0 && atol(argv[3]) > 0 && atol(argv[4]) > 0)
    return round_trips(atoi(argv[2]), atol(argv[3]), atol(argv[4]));
  if (argc == 5 && strcmp(argv[1], "connect") == 0 && atol(argv[3]) > 0 && atol(argv[4]) >= 0)
    return connections(atoi(argv[2]), atol(argv[3]), atol(argv[4]));
  fprintf(stderr, "usage: bench_peer serve TOTAL | rtt PORT COUNT SECONDS | connect PORT COUNT PAUSE_MS (COUNT, SECONDS above 0)\n");
  return 2;
}
