#pragma once
// One local connection carried by the tunnel (a TCP or Unix socket, or stdin/stdout: see
// local_stream), with bounded buffers both ways:
//  - local -> tunnel: the reader frames what it reads in place (two frame slots, so one read
//    overlaps one WebSocket write); with both slots waiting for the writer, it stops reading.
//    A slot's buffer is drawn from the process's memory budget; without room, reading waits.
//  - tunnel -> local: payloads are queued and written in order; the session stops reading the
//    WebSocket while the queue is over its limit (or the budget is spent), and resets a
//    connection that stops moving.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "localproxy/protocol/frame_codec.hpp"
#include "localproxy/tunnel/async_event.hpp"
#include "localproxy/tunnel/local_stream.hpp"
#include "localproxy/tunnel/memory_budget.hpp"
#include "localproxy/tunnel/stream_table.hpp"

namespace localproxy::tunnel {

class outbox;

struct frame_slot {
  std::unique_ptr<std::uint8_t[]> buffer;  // not zero-filled: what is sent was first read into it
  std::size_t capacity = 0;               // charged to the memory budget
  std::span<const std::uint8_t> frame;
  bool busy = false;  // handed to the outbox, not yet written
};

struct connection_limits {
  protocol::frame_limits frames;
  std::size_t queue_limit = 131072;  // tunnel -> local bytes before the session pauses
  std::shared_ptr<memory_budget> budget;  // null: unbounded (tests of the bookkeeping alone)
  // After the application shut down its sending side, how long to go on carrying the reply to
  // it before the connection ends (the protocol has no half-close); 0: end at once.
  std::chrono::milliseconds half_close_linger{0};
};

class local_connection : public std::enable_shared_from_this<local_connection> {
 public:
  using socket_type = local_stream::socket_type;
  using clock = std::chrono::steady_clock;

  // `wire_service_id` / `wire_connection_id`: how DATA frames address it (per wire format).
  local_connection(const boost::asio::any_io_executor& ex, connection_ref ref, std::string wire_service_id,
                   std::uint32_t wire_connection_id, const connection_limits& limits, outbox& out);
  ~local_connection();
  local_connection(const local_connection&) = delete;
  local_connection& operator=(const local_connection&) = delete;

  // Starts both directions on a connected stream. on_local_end runs once the local side is
  // done (EOF or error) and everything read before it was written to the tunnel.
  void start(local_stream stream, std::function<void(local_connection&)> on_local_end);

  // tunnel -> local
  void deliver(std::span<const std::uint8_t> payload);
  [[nodiscard]] std::size_t pending_bytes() const noexcept { return queue_.size() + writing_.size() - written_; }
  [[nodiscard]] clock::time_point last_progress() const noexcept { return last_progress_; }
  [[nodiscard]] async_event& progress() noexcept { return progress_; }

  // The peer reset it: stop reading, write what was received, then close.
  void close_after_flush();
  // Close now, dropping what is queued.
  void abort() noexcept;

  // Called by the outbox once the frame of `slot` went out (or was dropped).
  void frame_done(frame_slot& slot);
  // Frames of a connection the peer reset or we aborted are dropped instead of sent.
  [[nodiscard]] bool discards_outbound() const noexcept { return closed_ || tunnel_closed_; }

  [[nodiscard]] const connection_ref& ref() const noexcept { return ref_; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] std::uint64_t bytes_from_local() const noexcept { return bytes_from_local_; }
  [[nodiscard]] std::uint64_t bytes_to_local() const noexcept { return bytes_to_local_; }
  // "1234 bytes to the tunnel, 56 bytes from it, 2.5 s", for the line that logs its end.
  [[nodiscard]] std::string summary() const;

 private:
  boost::asio::awaitable<void> read_loop(std::shared_ptr<local_connection> self);
  boost::asio::awaitable<void> write_loop(std::shared_ptr<local_connection> self);
  frame_slot* free_slot() noexcept;
  [[nodiscard]] bool slots_idle() const noexcept;
  // Gives `slot` room for a read of read_size_ bytes, reading less when the budget is short and
  // waiting while not even the smallest read fits. False when the connection ended meanwhile.
  boost::asio::awaitable<bool> make_room(frame_slot& slot);
  void release_slot(frame_slot& slot) noexcept;
  // Releases the buffers of the slots not handed to the outbox (but `keep`'s); true if any.
  bool release_idle_slots(const frame_slot* keep = nullptr) noexcept;
  // Charges (or releases) the budget for what the queue's storage now takes.
  void recharge_queue() noexcept;
  // Books n bytes written to the application.
  void written(std::size_t n);
  // Storage a quiet connection holds (a drained queue's, a waiting reader's buffers) goes back
  // to the budget after idle_release without traffic.
  void release_when_idle();

  local_stream stream_;
  connection_ref ref_;
  std::string wire_service_id_;
  std::uint32_t wire_connection_id_;
  connection_limits limits_;
  outbox& outbox_;
  std::function<void(local_connection&)> on_local_end_;

  static constexpr std::size_t min_read = 4096;
  static constexpr std::chrono::seconds idle_release{1};  // a drained queue keeps its storage this long
  std::array<frame_slot, 2> slots_;
  frame_slot* reading_ = nullptr;  // the slot a read is pending on
  std::size_t read_size_ = min_read;  // grows while reads fill it, up to max_payload; shrinks after
  async_event slot_freed_;

  std::vector<std::uint8_t> queue_;    // received, not yet being written
  std::vector<std::uint8_t> writing_;  // being written
  std::size_t written_ = 0;
  std::size_t queue_charged_ = 0;  // the queue's storage (capacity) charged to the budget
  async_event queue_changed_;
  boost::asio::steady_timer idle_timer_;
  bool idle_timer_armed_ = false;
  clock::time_point drained_at_;     // the queue ran empty
  clock::time_point waiting_since_;  // the reader began waiting for the application
  bool awaiting_data_ = false;       // the reader waits for the application to send
  bool awaiting_budget_ = false;     // the reader waits for room in the memory budget
  async_event progress_;
  clock::time_point last_progress_ = clock::now();

  clock::time_point opened_ = clock::now();
  // The application's last act was sending (it may be waiting for the answer), not receiving.
  bool awaiting_reply_ = false;
  bool started_ = false;
  bool tunnel_closed_ = false;
  bool closed_ = false;
  std::uint64_t bytes_from_local_ = 0;
  std::uint64_t bytes_to_local_ = 0;
};

}  // namespace localproxy::tunnel
