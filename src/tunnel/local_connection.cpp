#include "localproxy/tunnel/local_connection.hpp"

#include <algorithm>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/tunnel/outbox.hpp"

namespace localproxy::tunnel {

namespace asio = boost::asio;

local_connection::local_connection(const asio::any_io_executor& ex, connection_ref ref, std::string wire_service_id,
                                   std::uint32_t wire_connection_id, const connection_limits& limits, outbox& out)
    : stream_(ex),
      ref_(ref),
      wire_service_id_(std::move(wire_service_id)),
      wire_connection_id_(wire_connection_id),
      limits_(limits),
      outbox_(out),
      slot_freed_(ex),
      queue_changed_(ex),
      idle_timer_(ex),
      progress_(ex) {}

local_connection::~local_connection() {
  for (auto& s : slots_) release_slot(s);
  if (limits_.budget) limits_.budget->release(queue_charged_);
}

std::string local_connection::summary() const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - opened_).count();
  return std::to_string(bytes_from_local_) + " bytes to the tunnel, " + std::to_string(bytes_to_local_) +
         " bytes from it, " + std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
}

void local_connection::release_slot(frame_slot& slot) noexcept {
  if (slot.capacity == 0) return;
  if (limits_.budget) limits_.budget->release(slot.capacity);
  slot.buffer.reset();
  slot.capacity = 0;
}

bool local_connection::release_idle_slots(const frame_slot* keep) noexcept {
  bool released = false;
  for (auto& s : slots_)
    if (&s != keep && !s.busy && s.capacity > 0) {
      release_slot(s);
      released = true;
    }
  return released;
}

void local_connection::recharge_queue() noexcept {
  const auto now = queue_.capacity() + writing_.capacity();
  if (limits_.budget) {
    if (now > queue_charged_)
      limits_.budget->charge(now - queue_charged_);
    else if (now < queue_charged_)
      limits_.budget->release(queue_charged_ - now);
  }
  queue_charged_ = now;
}

asio::awaitable<bool> local_connection::make_room(frame_slot& slot) {
  const std::size_t header = protocol::data_header_max;
  for (bool logged = false;;) {
    if (discards_outbound()) co_return false;
    if (slot.capacity == header + read_size_) co_return true;
    release_slot(slot);
    // A connection that holds no buffer at all may always take the smallest one, over the budget
    // if need be (at most min_read per connection): others' bulk reads must not starve it.
    const bool only_buffer = std::all_of(slots_.begin(), slots_.end(), [](const frame_slot& s) { return s.capacity == 0; });
    for (std::size_t size = read_size_;; size = std::max(min_read, size / 2)) {
      bool charged = !limits_.budget || limits_.budget->try_charge_reads(header + size);
      if (!charged && only_buffer && size == min_read) {
        limits_.budget->charge(header + size);  // the floor
        charged = true;
      }
      if (charged) {
        slot.buffer.reset(new std::uint8_t[header + size]);
        slot.capacity = header + size;
        read_size_ = size;
        co_return true;
      }
      if (size == min_read) break;
    }
    // A reader waiting for room holds no idle buffer: the other slot's goes back first (were
    // every connection to keep one while waiting for another, none would ever be released).
    if (release_idle_slots(&slot)) continue;
    if (!logged) {
      LP_LOG(debug) << "Reads from " << describe_connection(ref_) << " wait: the buffers of all connections are full";
      logged = true;
    }
    awaiting_budget_ = true;
    co_await limits_.budget->wait_for_release();
    awaiting_budget_ = false;
  }
}

void local_connection::start(local_stream stream, std::function<void(local_connection&)> on_local_end) {
  if (closed_) {
    stream.close();
    return;
  }
  stream_ = std::move(stream);
  stream_.make_non_blocking();  // deliver() writes without waiting, or not at all
  on_local_end_ = std::move(on_local_end);
  started_ = true;
  // What the tunnel delivered while the connection was being made (a client's first bytes come
  // with the stream's start) goes to the application now, before the loops' first turn; what the
  // socket does not take, or an error, is left to the writer.
  if (!queue_.empty()) {
    boost::system::error_code ec;
    const std::size_t n = stream_.write_now(asio::buffer(queue_.data(), queue_.size()), ec);
    if (!ec && n > 0) {
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      written(n);
      if (queue_.empty()) {
        drained_at_ = clock::now();
        release_when_idle();  // as the writer does after a batch: the queue's storage is let go once idle
      }
    }
  }
  auto ex = stream_.get_executor();
  asio::co_spawn(ex, write_loop(shared_from_this()), asio::detached);
  asio::co_spawn(ex, read_loop(shared_from_this()), asio::detached);
}

frame_slot* local_connection::free_slot() noexcept {
  for (auto& s : slots_)
    if (!s.busy) return &s;
  return nullptr;
}

bool local_connection::slots_idle() const noexcept {
  return std::none_of(slots_.begin(), slots_.end(), [](const frame_slot& s) { return s.busy; });
}

asio::awaitable<void> local_connection::read_loop(std::shared_ptr<local_connection> self) {
  const std::size_t header = protocol::data_header_max;
  bool half_closed = false;
  // The last read took less than it asked for: the socket had no more, and the next read would
  // only say so (one system call per message an interactive connection passes on). The reader
  // waits at once instead; a socket's wait re-arms its readiness, so bytes that came meanwhile
  // end it at once (stdin may be a file, which cannot be waited on: it is always read first).
  bool drained = false;
  for (;;) {
    frame_slot* slot = free_slot();
    while (!slot && !discards_outbound()) {
      co_await slot_freed_.wait();
      slot = free_slot();
    }
    if (discards_outbound()) break;
    reading_ = slot;
    // What is there is read in this event-loop turn (the first bytes of a client that writes at
    // once leave with the connection's start, in one message); only when nothing is does the
    // reader wait, and then for readiness, not on a buffer.
    boost::system::error_code ec;
    std::size_t n = 0;
    for (;;) {
      if (!drained) {
        if (!co_await make_room(*slot)) {
          ec = asio::error::operation_aborted;
          break;
        }
        n = stream_.read_now(asio::buffer(slot->buffer.get() + header, read_size_), ec);
        if (ec != asio::error::would_block && ec != asio::error::try_again) break;
      }
      drained = false;
      // An interactive connection waits holding no buffer (hundreds of idle connections cost no
      // payload memory); one in the middle of a transfer keeps its buffers for the next read
      // until it has been quiet for idle_release.
      if (read_size_ == min_read) release_idle_slots();
      awaiting_data_ = true;
      waiting_since_ = clock::now();
      release_when_idle();
      std::tie(ec) = co_await stream_.async_wait_readable(asio::as_tuple(asio::use_awaitable));
      awaiting_data_ = false;
      if (ec || discards_outbound()) break;
    }
    reading_ = nullptr;
    if (ec || n == 0 || discards_outbound()) {
      half_closed = ec == asio::error::eof || (!ec && n == 0);
      break;
    }
    drained = n < read_size_ && stream_.wait_rearms();
    // Interactive traffic keeps small buffers; a bulk transfer grows them to a full payload, and
    // they shrink again after it.
    if (n == read_size_)
      read_size_ = std::min(read_size_ * 2, limits_.frames.max_payload);
    else if (n < read_size_ / 4)
      read_size_ = std::max(min_read, read_size_ / 2);
    slot->frame = protocol::encode_data_header(std::span(slot->buffer.get(), slot->capacity).subspan(header, n),
                                               ref_.stream_id, wire_service_id_, wire_connection_id_, limits_.frames);
    if (slot->frame.empty()) break;  // cannot happen with validated settings
    slot->busy = true;
    bytes_from_local_ += n;
    awaiting_reply_ = true;
    LP_LOG(trace) << "Sending DATA stream " << ref_.stream_id << " service '" << wire_service_id_ << "' connection "
                  << wire_connection_id_ << " payload " << n;
    outbox_.push_frame(self, *slot);
  }
  // Everything read before the end must reach the tunnel before the reset that follows it.
  while (!slots_idle() && !closed_) co_await slot_freed_.wait();
  const bool may_read_on = awaiting_reply_ || stream_.end_is_half_close();
  if (half_closed && may_read_on && limits_.half_close_linger.count() > 0 && !discards_outbound()) {
    // It sent, then shut down its sending side, and may still read: go on writing what arrives
    // until the peer ends the connection, a write fails, or the linger is over. (TCP cannot
    // tell this from a full close; an application that got its answer and closed ends at once.
    // stdin's end is a half-close for certain: stdout goes on taking the reply.)
    for (auto& s : slots_) release_slot(s);
    LP_LOG(debug) << "The application of " << describe_connection(ref_) << " shut down its sending side; carrying "
                  << "the reply for up to " << limits_.half_close_linger.count() << " ms (tcp.half_close_linger_ms)";
    const auto deadline = clock::now() + limits_.half_close_linger;
    while (!discards_outbound() && clock::now() < deadline) co_await slot_freed_.wait_until(deadline);
  }
  if (!discards_outbound() && on_local_end_) on_local_end_(*this);
  close_after_flush();
  release_idle_slots();
}

void local_connection::written(std::size_t n) {
  bytes_to_local_ += n;
  awaiting_reply_ = false;
  last_progress_ = clock::now();
  progress_.notify();
}

void local_connection::release_when_idle() {
  // Storage is kept from one message to the next of a transfer; a connection quiet for
  // idle_release holds none: its queue's once drained, its read buffers once the reader waits.
  // One timer per connection, armed once per idle_release at most, not once per message.
  const bool queue_held = pending_bytes() == 0 && queue_.capacity() + writing_.capacity() > 0;
  const bool slots_held =
      awaiting_data_ && std::any_of(slots_.begin(), slots_.end(), [](const frame_slot& s) { return !s.busy && s.capacity > 0; });
  if (idle_timer_armed_ || closed_ || (!queue_held && !slots_held)) return;
  idle_timer_armed_ = true;
  idle_timer_.expires_at(std::min(queue_held ? drained_at_ : clock::time_point::max() - idle_release,
                                  slots_held ? waiting_since_ : clock::time_point::max() - idle_release) +
                         idle_release);
  idle_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->idle_timer_armed_ = false;
    if (ec || self->closed_) return;
    const auto now = clock::now();
    if (self->pending_bytes() == 0 && now >= self->drained_at_ + idle_release) {
      std::vector<std::uint8_t>().swap(self->writing_);
      std::vector<std::uint8_t>().swap(self->queue_);
      self->recharge_queue();
    }
    if (self->awaiting_data_ && now >= self->waiting_since_ + idle_release) self->release_idle_slots();
    self->release_when_idle();  // what moved meanwhile: a whole idle period from then
  });
}

asio::awaitable<void> local_connection::write_loop(std::shared_ptr<local_connection> self) {
  for (;;) {
    while (queue_.empty() && !tunnel_closed_ && !closed_) co_await queue_changed_.wait();
    if (closed_ || queue_.empty()) break;
    std::swap(queue_, writing_);
    written_ = 0;
    while (written_ < writing_.size() && !closed_) {
      auto [ec, n] = co_await stream_.async_write_some(asio::buffer(writing_.data() + written_, writing_.size() - written_),
                                                        asio::as_tuple(asio::use_awaitable));
      if (ec) {
        // The application is gone: the peer must hear of it, as after a clean end. Unless the
        // write failed because the connection was ended here (abort() cancels it): whoever ended
        // it knows, and the service entry its ref points to may be gone already (a new list of
        // services replaces the entries of the connections it ends).
        const bool ended_already = closed_;
        auto on_local_end = std::move(on_local_end_);
        on_local_end_ = nullptr;
        abort();
        if (on_local_end && !ended_already && !tunnel_closed_) on_local_end(*this);
        co_return;
      }
      written_ += n;
      written(n);
    }
    writing_.clear();
    written_ = 0;
    if (queue_.empty()) {
      drained_at_ = clock::now();
      release_when_idle();
    }
  }
  if (!closed_) {
    // Half-close first so the application sees a clean end of stream after the last byte.
    stream_.shutdown(local_stream::socket_type::shutdown_send);
    abort();
  }
  (void)self;
}

void local_connection::deliver(std::span<const std::uint8_t> payload) {
  if (closed_ || tunnel_closed_ || payload.empty()) return;
  if (pending_bytes() == 0) {
    // Nothing waits and no write is under way: write now, in this turn of the event loop and
    // straight from the WebSocket's buffer; only what the socket does not take is queued (an
    // error is left to the writer, which meets it again and ends the connection).
    if (started_) {
      boost::system::error_code ec;
      const std::size_t n = stream_.write_now(asio::buffer(payload.data(), payload.size()), ec);
      if (!ec) {
        written(n);
        payload = payload.subspan(n);
        if (payload.empty()) return;
      }
    }
    last_progress_ = clock::now();  // the stall clock starts with the first byte waiting
  }
  queue_.insert(queue_.end(), payload.begin(), payload.end());
  // Data the tunnel delivered cannot be refused: it is charged even over the budget, and the
  // session pauses the tunnel when it is.
  recharge_queue();
  queue_changed_.notify();
}

void local_connection::close_after_flush() {
  if (closed_ || tunnel_closed_) return;
  tunnel_closed_ = true;
  if (!started_) {
    abort();
    return;
  }
  // Ends a pending read with end-of-stream; the writer closes once the queue is written.
  stream_.shutdown(local_stream::socket_type::shutdown_receive);
  slot_freed_.notify();
  queue_changed_.notify();
}

void local_connection::abort() noexcept {
  if (closed_) return;
  closed_ = true;
  stream_.close();
  idle_timer_.cancel();
  // A pending write is cancelled by the close without touching its buffer.
  std::vector<std::uint8_t>().swap(queue_);
  std::vector<std::uint8_t>().swap(writing_);
  recharge_queue();
  release_idle_slots();
  slot_freed_.notify();
  queue_changed_.notify();
  progress_.notify();
}

void local_connection::frame_done(frame_slot& slot) {
  slot.busy = false;
  slot.frame = {};
  // A slot bigger than the reads now need, while the reader waits on the other one, one of a
  // reader waiting for room or of an interactive connection waiting for its application, or one
  // of a connection that is over, goes back to the budget.
  if (discards_outbound() || awaiting_budget_ || (awaiting_data_ && read_size_ == min_read) ||
      (reading_ && reading_ != &slot && slot.capacity > protocol::data_header_max + read_size_))
    release_slot(slot);
  slot_freed_.notify();
}

}  // namespace localproxy::tunnel
