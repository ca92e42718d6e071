#pragma once
// What the WebSocket writer sends next: control frames first (so a start always precedes its
// data), then data frames in arrival order. Each connection has at most two frames waiting, so
// first-come order is also fair: a bulk transfer cannot starve an interactive session.
//
// The writer waits in writer_idle(). A data frame resumes it at once, inside push_frame(): an
// interactive byte read from a local socket is encrypted and written before the event loop turns
// (no posted wake-up, no epoll_wait in between), also when a control frame woke it through the
// event loop in this turn: a CONNECTION_START and the client's first bytes, read in the same turn,
// leave at once in one message. A control frame alone wakes it through the event loop, so control
// frames pushed in the same turn share a message, and the session's message handlers are never
// re-entered by a write.
//
// A STREAM_START or STREAM_RESET frame is the last frame of its WebSocket message. The reference
// localproxy 3.3.1 stops reading a message after either (it sets up or tears down the stream, then
// reads on with the next message), so a frame after one in the same message waits there until
// another message arrives: a client's first request would hang until it sent more.
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>

#include "localproxy/protocol/frame_codec.hpp"
#include "localproxy/tunnel/async_event.hpp"

namespace localproxy::tunnel {

class local_connection;
struct frame_slot;

class outbox {
 public:
  outbox(const boost::asio::any_io_executor& ex, std::size_t max_message, protocol::frame_limits limits)
      : ready_(ex), idle_hold_(ex), max_message_(max_message), limits_(limits) {}

  void push_control(const protocol::message_fields& message);
  void push_frame(std::shared_ptr<local_connection> connection, frame_slot& slot);

  [[nodiscard]] bool empty() const noexcept { return control_.empty() && frames_.empty(); }
  // Control frames not written yet (queued, or in the write under way).
  [[nodiscard]] bool control_pending() const noexcept { return !control_.empty() || !control_sending_.empty(); }
  [[nodiscard]] async_event& ready() noexcept { return ready_; }

  // The writer's wait for work (one writer). Returns when woken: by a push, or by wake_all().
  boost::asio::awaitable<void> writer_idle();
  // Wakes the writer (through the event loop) and a waiter in control_written(): the session ends.
  void wake_all();

  // Fills `buffers` with one WebSocket message (at most max_message bytes); call sent() after
  // it was written. Returns the message size.
  std::size_t take(std::vector<boost::asio::const_buffer>& buffers);
  void sent();
  // Returns once no control frame is pending (the write under way included), or once give_up is
  // true when it wakes (call wake_all() after setting it). Only then does sent() notify ready().
  boost::asio::awaitable<void> control_written(const bool& give_up);
  // Drops everything (the WebSocket is gone); frames go back to their connections.
  void clear();

 private:
  struct queued_frame {
    std::shared_ptr<local_connection> connection;
    frame_slot* slot;
  };
  // The control frames of the next message; `ends_message` is set when nothing may follow them.
  std::size_t take_control(std::vector<boost::asio::const_buffer>& buffers, bool& ends_message);
  // Resumes a writer waiting in writer_idle(): inline when `now` (push_frame runs on the writer's
  // event loop), else through the event loop.
  void wake_writer(bool now);

  async_event ready_;
  // The idle writer's completion handler (type-erased, move-only; resume() runs it at most once),
  // shared with the completion of a wait on `idle_hold_`, a timer that never expires: a wake
  // through the event loop cancels that wait, whose handler resumes the writer; an inline wake
  // resumes it first. Held by a pending timer wait, the writer is destroyed with the event loop if
  // nothing wakes it, and nothing owned by the session keeps the session alive.
  struct idle_writer {
    virtual ~idle_writer() = default;
    virtual void resume() = 0;
  };
  boost::asio::steady_timer idle_hold_;
  std::weak_ptr<idle_writer> idle_;
  std::size_t max_message_;
  protocol::frame_limits limits_;
  std::vector<std::uint8_t> control_;
  std::vector<std::size_t> control_ends_;  // offsets in control_ where a message must end
  std::vector<std::uint8_t> control_sending_;
  std::deque<queued_frame> frames_;
  std::vector<queued_frame> sending_;
  bool awaiting_control_ = false;  // control_written() waits
};

}  // namespace localproxy::tunnel
