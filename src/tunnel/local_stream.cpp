#include "localproxy/tunnel/local_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

#include <boost/asio/post.hpp>

namespace localproxy::tunnel {

namespace asio = boost::asio;

namespace {
// Puts the descriptor back as it was found and closes what it refers to, so that the other end
// sees the end of the stream. The number stays taken (by /dev/null): a file opened later must
// never become "stdout".
void give_back(asio::posix::stream_descriptor& d, int fd, int flags) noexcept {
  if (!d.is_open()) return;
  d.release();  // cancels what is pending; the descriptor stays open
  ::fcntl(fd, F_SETFL, flags);  // not left non-blocking for whoever shares it (a terminal, a shell)
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) {
    ::close(fd);
    return;
  }
  ::dup2(null, fd);
  ::close(null);
}

int flags_of(int fd, const char* name) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw std::runtime_error(std::string("--stdio: ") + name + " is not open");
  return flags;
}

void take(asio::posix::stream_descriptor& d, int fd, const char* name) {
  boost::system::error_code ec;
  d.assign(fd, ec);
  if (ec) throw std::runtime_error(std::string("--stdio: cannot use ") + name + ": " + ec.message());
}
}  // namespace

local_stream::standard_streams::standard_streams(const asio::any_io_executor& ex, std::function<void()> closed)
    : in(ex), out(ex), in_flags(flags_of(STDIN_FILENO, "stdin")), out_flags(flags_of(STDOUT_FILENO, "stdout")),
      on_closed(std::move(closed)) {
  // A regular file or /dev/null (which epoll does not take) works too: Asio reads it directly.
  take(in, STDIN_FILENO, "stdin");
  take(out, STDOUT_FILENO, "stdout");
}

local_stream local_stream::standard_io(const asio::any_io_executor& ex, std::function<void()> on_closed) {
  local_stream s(ex);
  s.stdio_ = std::make_unique<standard_streams>(ex, std::move(on_closed));
  return s;
}

local_stream::~local_stream() { close(); }

local_stream& local_stream::operator=(local_stream&& other) noexcept {
  if (this == &other) return *this;
  close();
  socket_ = std::move(other.socket_);
  stdio_ = std::move(other.stdio_);
  return *this;
}

void local_stream::make_non_blocking() noexcept {
  boost::system::error_code ignored;
  if (stdio_) {  // both given back to the process as they were found
    stdio_->in.non_blocking(true, ignored);
    stdio_->out.non_blocking(true, ignored);
  } else
    socket_.non_blocking(true, ignored);
}

void local_stream::shutdown(socket_type::shutdown_type what) noexcept {
  if (!stdio_) {
    boost::system::error_code ignored;
    socket_.shutdown(what, ignored);
    return;
  }
  if (what != socket_type::shutdown_receive) give_back(stdio_->out, STDOUT_FILENO, stdio_->out_flags);
  if (what != socket_type::shutdown_send) give_back(stdio_->in, STDIN_FILENO, stdio_->in_flags);
}

void local_stream::close() noexcept {
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (!stdio_) return;
  give_back(stdio_->in, STDIN_FILENO, stdio_->in_flags);
  give_back(stdio_->out, STDOUT_FILENO, stdio_->out_flags);
  // Posted, once: whoever closes it (a connection, a session ending) is not re-entered.
  if (stdio_->on_closed) asio::post(stdio_->in.get_executor(), std::exchange(stdio_->on_closed, nullptr));
}

}  // namespace localproxy::tunnel
