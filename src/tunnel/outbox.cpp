#include "localproxy/tunnel/outbox.hpp"

#include <algorithm>
#include <optional>

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/tunnel/local_connection.hpp"

namespace localproxy::tunnel {

void outbox::push_control(const protocol::message_fields& message) {
  if (auto e = protocol::encode_frame(message, {}, limits_, control_); e != protocol::encode_error::none) {
    LP_LOG(error) << "cannot encode " << protocol::type_name(message.type) << " message";
    return;
  }
  if (message.type == protocol::message_type::stream_start || message.type == protocol::message_type::stream_reset)
    control_ends_.push_back(control_.size());
  LP_LOG(trace) << "Sending " << protocol::type_name(message.type) << " stream " << message.stream_id << " service '"
                << message.service_id << "' connection " << message.connection_id;
  wake_writer(false);
}

void outbox::push_frame(std::shared_ptr<local_connection> connection, frame_slot& slot) {
  frames_.push_back({std::move(connection), &slot});
  wake_writer(true);
}

boost::asio::awaitable<void> outbox::writer_idle() {
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
      [this](auto handler) {
        using handler_type = decltype(handler);
        struct waiting final : idle_writer {
          explicit waiting(handler_type&& h) : handler(std::move(h)) {}
          void resume() override {
            if (!handler) return;
            auto h = std::move(*handler);
            handler.reset();
            std::move(h)();
          }
          std::optional<handler_type> handler;
        };
        auto writer = std::make_shared<waiting>(std::move(handler));
        idle_ = writer;
        idle_hold_.expires_at(boost::asio::steady_timer::time_point::max());
        idle_hold_.async_wait([writer](boost::system::error_code) { writer->resume(); });
      },
      boost::asio::use_awaitable);
}

void outbox::wake_writer(bool now) {
  const auto writer = idle_.lock();
  if (!writer) return;
  idle_hold_.cancel();  // its handler resumes the writer, unless resumed below first
  // Woken through the event loop, the writer can still be resumed at once until then: a data frame
  // pushed in this turn (a client's first bytes after its CONNECTION_START) sends both now.
  if (!now) return;
  idle_.reset();
  writer->resume();
}

void outbox::wake_all() {
  ready_.notify();
  wake_writer(false);
}

std::size_t outbox::take_control(std::vector<boost::asio::const_buffer>& buffers, bool& ends_message) {
  // Whole frames only, as many as fit (control frames are tiny; this loops only after a burst),
  // up to the first frame that must end its message.
  const std::size_t limit = control_ends_.empty() ? max_message_ : std::min(max_message_, control_ends_.front());
  std::size_t size = 0;
  while (size + 2 <= control_.size()) {
    const std::size_t frame = 2 + ((std::size_t{control_[size]} << 8) | control_[size + 1]);
    if (size + frame > limit) break;
    size += frame;
  }
  ends_message = !control_ends_.empty() && size == control_ends_.front();
  if (ends_message) control_ends_.erase(control_ends_.begin());
  for (auto& end : control_ends_) end -= size;
  control_sending_.assign(control_.begin(), control_.begin() + static_cast<std::ptrdiff_t>(size));
  control_.erase(control_.begin(), control_.begin() + static_cast<std::ptrdiff_t>(size));
  if (size > 0) buffers.emplace_back(control_sending_.data(), size);
  return size;
}

std::size_t outbox::take(std::vector<boost::asio::const_buffer>& buffers) {
  buffers.clear();
  bool ends_message = false;
  std::size_t size = take_control(buffers, ends_message);
  while (!ends_message && !frames_.empty()) {
    auto& next = frames_.front();
    if (next.connection->discards_outbound()) {
      next.connection->frame_done(*next.slot);
      frames_.pop_front();
      continue;
    }
    const std::size_t frame = next.slot->frame.size();
    if (size + frame > max_message_) break;
    buffers.emplace_back(next.slot->frame.data(), frame);
    size += frame;
    sending_.push_back(std::move(next));
    frames_.pop_front();
  }
  return size;
}

void outbox::sent() {
  control_sending_.clear();
  for (auto& f : sending_) f.connection->frame_done(*f.slot);
  sending_.clear();
  if (awaiting_control_) ready_.notify();  // the writer itself needs no wake-up
}

boost::asio::awaitable<void> outbox::control_written(const bool& give_up) {
  while (control_pending() && !give_up) {
    awaiting_control_ = true;
    co_await ready_.wait();
  }
  awaiting_control_ = false;
}

void outbox::clear() {
  sent();
  control_.clear();
  control_ends_.clear();
  for (auto& f : frames_) f.connection->frame_done(*f.slot);
  frames_.clear();
}

}  // namespace localproxy::tunnel
