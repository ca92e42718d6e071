#include "localproxy/transport/tls_socket.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include <openssl/bio.h>
#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace localproxy::transport {

namespace asio = boost::asio;

namespace {

// Up to four full records from the kernel per read.
constexpr int read_ahead_bytes = 4 * (16384 + 256);

int descriptor(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

bool retryable(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

// MSG_MORE while write_from sends a record that another follows at once (tls_socket::write_now);
// nothing else (the handshake, an alert, a close_notify) is held back.
thread_local int more_flag = 0;

// Whether the last recv of the read in progress on this thread got fewer bytes than it asked for:
// the socket had nothing more then (tls_socket::read_into).
thread_local bool recv_short = false;

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE on a connection the peer
// reset; this one sends with MSG_NOSIGNAL, whatever the process does with the signal.
int bio_write(BIO* b, const char* data, int size) {
  BIO_clear_retry_flags(b);
  const ssize_t n = ::send(descriptor(b), data, static_cast<std::size_t>(size), MSG_NOSIGNAL | more_flag);
  if (n < 0 && retryable(errno)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int size) {
  BIO_clear_retry_flags(b);
  const ssize_t n = ::recv(descriptor(b), data, static_cast<std::size_t>(size), 0);
  if (n < 0 && retryable(errno)) BIO_set_retry_read(b);
  recv_short = n > 0 && n < size;
  return static_cast<int>(n);
}

long bio_ctrl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* socket_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "localproxy socket");
    if (m) {
      BIO_meth_set_write(m, bio_write);
      BIO_meth_set_read(m, bio_read);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
    }
    return m;
  }();
  return method;
}

}  // namespace

tls_socket::tls_socket(asio::ip::tcp::socket socket, SSL_CTX* context)
    : socket_(std::move(socket)), ssl_(SSL_new(context)), stage_(new char[record_size]) {
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
  if (!ssl_) return;
  BIO* bio = socket_method() ? BIO_new(socket_method()) : nullptr;
  if (!bio) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  // The descriptor's number: once the socket is closed (abort, a deadline) it may name another
  // connection's socket, so nothing calls into the SSL after that.
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(socket_.native_handle())));
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways: the SSL owns it
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Record buffers stay for the life of the connection (no free and malloc per record).
  SSL_clear_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_default_read_buffer_len(ssl_, read_ahead_bytes);
}

tls_socket::~tls_socket() {
  if (ssl_) SSL_free(ssl_);
}

tls_socket::tls_socket(tls_socket&& other) noexcept
    : socket_(std::move(other.socket_)),
      ssl_(std::exchange(other.ssl_, nullptr)),
      stage_(std::move(other.stage_)),
      wants_write_(other.wants_write_),
      drained_(other.drained_) {}

asio::awaitable<boost::system::error_code> tls_socket::handshake(asio::ssl::stream_base::handshake_type type) {
  if (!ssl_) co_return boost::system::error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
  if (type == asio::ssl::stream_base::client)
    SSL_set_connect_state(ssl_);
  else
    SSL_set_accept_state(ssl_);
  for (;;) {
    if (!socket_.is_open()) co_return asio::error::bad_descriptor;
    errno = 0;  // failure() reads it: a value left by an earlier call must not count
    const int rc = SSL_do_handshake(ssl_);
    if (rc == 1) co_return boost::system::error_code{};
    const auto ec = failure(rc);
    if (ec != asio::error::would_block) co_return ec;
    auto [wait_ec] = co_await socket_.async_wait(wants_write_ ? asio::ip::tcp::socket::wait_write
                                                              : asio::ip::tcp::socket::wait_read,
                                                 asio::as_tuple(asio::use_awaitable));
    if (wait_ec) co_return wait_ec;
  }
}

std::size_t tls_socket::read_into(char* data, std::size_t size, boost::system::error_code& ec) {
  drained_ = false;
  if (!ssl_ || !socket_.is_open()) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  // SSL_read_ex gives one record at a time: the records already read ahead go into the same call
  // (a 64 KiB message in one read, not four, each a trip through the event loop).
  std::size_t total = 0;
  recv_short = false;  // no recv in this call: nothing is known of the socket
  while (total < size) {
    std::size_t got = 0;
    errno = 0;  // failure() reads it: a value left by an earlier call must not count
    const int rc = SSL_read_ex(ssl_, data + total, size - total, &got);
    if (rc != 1) {
      const auto e = failure(rc);
      if (total > 0) break;  // report what came; a lasting condition comes back on the next call
      ec = e;
      return 0;
    }
    total += got;
    if (!more_buffered()) break;
  }
  drained_ = recv_short && !more_buffered();
  ec = {};
  return total;
}

std::size_t tls_socket::write_from(const void* data, std::size_t size, boost::system::error_code& ec,
                                   bool more_follows) {
  if (!ssl_ || !socket_.is_open()) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  const auto* bytes = static_cast<const char*>(data);
  std::size_t total = 0;
  struct clear_more {
    ~clear_more() { more_flag = 0; }
  } clear;
  while (total < size) {
    // A record at a time, so that the last one is known: it goes without MSG_MORE unless the
    // caller sends more at once. (A record the socket took only in part is finished by the next
    // call with the same bytes: the same record, the same length.)
    const std::size_t chunk = std::min(size - total, record_size);
    more_flag = total + chunk < size || more_follows ? MSG_MORE : 0;
    std::size_t written = 0;
    errno = 0;  // failure() reads it: a value left by an earlier call must not count
    const int rc = SSL_write_ex(ssl_, bytes + total, chunk, &written);
    if (rc == 1) {
      total += written;
      continue;
    }
    const auto e = failure(rc);
    if (total > 0) break;  // report what went; a lasting error comes back on the next call
    ec = e;
    return 0;
  }
  ec = {};
  return total;
}

bool tls_socket::more_buffered() const noexcept { return SSL_pending(ssl_) > 0 || SSL_has_pending(ssl_) == 1; }

boost::system::error_code tls_socket::failure(int ret) {
  const int saved_errno = errno;
  wants_write_ = false;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return asio::error::would_block;
    case SSL_ERROR_WANT_WRITE:
      wants_write_ = true;
      return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    case SSL_ERROR_SYSCALL: {
      const unsigned long code = ERR_get_error();
      ERR_clear_error();
      if (code != 0) return {static_cast<int>(code), asio::error::get_ssl_category()};
      if (saved_errno != 0) return {saved_errno, boost::system::system_category()};
      return asio::ssl::error::stream_truncated;  // the peer closed TCP without close_notify
    }
    default: {
      const unsigned long code = ERR_get_error();
      ERR_clear_error();
      if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return asio::ssl::error::stream_truncated;
      return {static_cast<int>(code), asio::error::get_ssl_category()};
    }
  }
}

void tls_socket::shutdown() noexcept {
  if (ssl_ && socket_.is_open() && SSL_is_init_finished(ssl_)) {
    (void)SSL_shutdown(ssl_);  // close_notify, if the socket takes it now
    ERR_clear_error();
  }
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

void teardown(boost::beast::role_type, tls_socket& stream, boost::system::error_code& ec) {
  stream.shutdown();
  ec = {};
}

}  // namespace localproxy::transport
