// Benchmark helper (bench.py --pass-times), preloaded into a proxy (LD_PRELOAD): for each small
// message that passes through the process, the CLOCK_MONOTONIC time at which the receive that
// brought it returned and the time at which the send that passes it on was called. Between the two
// is the proxy's own work for that pass (TLS, framing, its event loop), whatever proxy it is.
// Written at exit, or on SIGTERM when the program does not handle it itself, to
// $PASS_CLOCK_DIR/<pid>.passes, one pass a line: "<received µs> <sent µs>".
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { max_passes = 400000, small = 128 };  // a 1-byte message in a TLS record is about 40 bytes

static double received_at[max_passes], sent_at[max_passes];
static int passes;
static double pending;  // when the message now passing through arrived, or 0

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void arrived(ssize_t n) {
  if (n > 0 && n <= small && pending == 0) pending = now_us();
}

static void leaving(size_t n) {
  if (n == 0 || n > small || pending == 0 || passes == max_passes) return;
  received_at[passes] = pending;
  sent_at[passes] = now_us();
  ++passes;
  pending = 0;
}

#define NEXT(name) static __typeof__(name) *next_##name; if (!next_##name) next_##name = dlsym(RTLD_NEXT, #name)

ssize_t recv(int fd, void *buf, size_t len, int flags) {
  NEXT(recv);
  const ssize_t n = next_recv(fd, buf, len, flags);
  arrived(n);
  return n;
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *from_len) {
  NEXT(recvfrom);
  const ssize_t n = next_recvfrom(fd, buf, len, flags, from, from_len);
  arrived(n);
  return n;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  NEXT(recvmsg);
  const ssize_t n = next_recvmsg(fd, msg, flags);
  arrived(n);
  return n;
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
  NEXT(send);
  leaving(len);
  return next_send(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t to_len) {
  NEXT(sendto);
  leaving(len);
  return next_sendto(fd, buf, len, flags, to, to_len);
}

static size_t total(const struct iovec *v, size_t count) {
  size_t n = 0;
  for (size_t i = 0; i < count; ++i) n += v[i].iov_len;
  return n;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  NEXT(sendmsg);
  leaving(total(msg->msg_iov, msg->msg_iovlen));
  return next_sendmsg(fd, msg, flags);
}

ssize_t writev(int fd, const struct iovec *v, int count) {
  NEXT(writev);
  if (count > 0) leaving(total(v, (size_t)count));
  return next_writev(fd, v, count);
}

static void write_out(void) {
  const char *dir = getenv("PASS_CLOCK_DIR");
  if (!dir || passes == 0) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/%d.passes", dir, (int)getpid());
  FILE *out = fopen(path, "w");
  if (!out) return;
  for (int i = 0; i < passes; ++i) fprintf(out, "%.1f %.1f\n", received_at[i], sent_at[i]);
  fclose(out);
  passes = 0;
}

__attribute__((destructor)) static void at_exit(void) { write_out(); }

static void on_term(int sig) {
  write_out();
  signal(sig, SIG_DFL);
  raise(sig);
}

// A program that handles SIGTERM itself (ours: it stops cleanly and exits) replaces this handler;
// one that does not (the reference) would die without running destructors.
__attribute__((constructor)) static void at_start(void) { signal(SIGTERM, on_term); }
