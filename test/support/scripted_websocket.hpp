#pragma once
// The service's side of a session's WebSocket, in memory: the test (or fuzz target) pushes the
// messages the session reads, sees every byte the session writes, and can hold writes back (a
// slow service) or lose the connection. Shared by the unit tests' session fixture and the
// session fuzz target; it uses no test framework (what a write must satisfy is the user's hook).
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/error.hpp>

#include "localproxy/transport/websocket.hpp"
#include "localproxy/tunnel/async_event.hpp"

namespace test_support {

class scripted_websocket : public localproxy::transport::websocket_connection {
 public:
  scripted_websocket(const boost::asio::any_io_executor& ex, std::string subprotocol, std::string channel)
      : event_(ex), channel_(std::move(channel)), subprotocol_(std::move(subprotocol)) {}

  boost::asio::awaitable<boost::system::error_code> read(std::span<const std::uint8_t>& message) override {
    while (inbound.empty() && !aborted) co_await event_.wait();
    if (aborted) co_return boost::asio::error::operation_aborted;
    last_read_ = std::move(inbound.front());
    inbound.pop_front();
    message = last_read_;
    ++reads;
    co_return boost::system::error_code{};
  }

  // The bytes go to sent_bytes and to on_write (with whether another write was still under way);
  // the write completes once no set_blocked(true) holds it, or fails once the connection is lost.
  boost::asio::awaitable<boost::system::error_code> write(std::span<const boost::asio::const_buffer> buffers) override {
    const bool overlapping = writing;
    writing = true;
    const auto first = sent_bytes.size();
    for (const auto& b : buffers) {
      auto p = static_cast<const std::uint8_t*>(b.data());
      sent_bytes.insert(sent_bytes.end(), p, p + b.size());
    }
    if (on_write) on_write(std::span(sent_bytes).subspan(first), overlapping);
    while (write_blocked && !aborted) co_await event_.wait();
    writing = false;
    if (aborted) co_return boost::asio::error::operation_aborted;
    co_return boost::system::error_code{};
  }
  boost::asio::awaitable<boost::system::error_code> ping(std::string_view) override {
    co_return boost::system::error_code{};
  }
  void on_control(std::function<void(localproxy::transport::control_frame, std::string_view)>) override {}
  boost::asio::awaitable<void> close() override {
    ++closes;
    abort();
    co_return;
  }
  void abort() noexcept override {
    aborted = true;
    event_.notify();
  }
  const std::string& channel_id() const noexcept override { return channel_; }
  const std::string& subprotocol() const noexcept override { return subprotocol_; }
  localproxy::transport::close_info closed_by_peer() const override { return {}; }

  // One WebSocket message for the session to read.
  void push_message(std::vector<std::uint8_t> message) {
    inbound.push_back(std::move(message));
    event_.notify();
  }
  void set_blocked(bool blocked) {
    write_blocked = blocked;
    event_.notify();
  }

  std::deque<std::vector<std::uint8_t>> inbound;
  std::vector<std::uint8_t> last_read_;  // what the last read() views
  std::vector<std::uint8_t> sent_bytes;  // what the session wrote (the user may consume it)
  // Called in each write with its bytes and whether it overlaps another write.
  std::function<void(std::span<const std::uint8_t>, bool overlapping)> on_write;
  bool aborted = false;
  bool write_blocked = false;
  bool writing = false;
  int reads = 0;
  int closes = 0;

 private:
  localproxy::tunnel::async_event event_;
  std::string channel_;
  std::string subprotocol_;
};

}  // namespace test_support
