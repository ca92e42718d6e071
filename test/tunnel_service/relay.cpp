#include "relay.hpp"

#include <optional>
#include <span>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/protocol/frame_codec.hpp"

namespace tunnel_service {

namespace asio = boost::asio;
namespace lp = localproxy::protocol;

namespace {

void send_message(peer& p, const lp::message_fields& f) {
  std::vector<std::uint8_t> frame;
  if (lp::encode_frame(f, {}, {}, frame) == lp::encode_error::none) p.send(frame);
}

void track_streams(tunnel& t, const lp::message_view& m) {
  const std::string service(m.service_id);
  if (m.type == lp::message_type::stream_start) t.streams[service] = m.stream_id;
  if (m.type == lp::message_type::stream_reset) {
    auto it = t.streams.find(service);
    if (it != t.streams.end() && it->second == m.stream_id) t.streams.erase(it);
  }
}

// Forwards the whole frames at the start of `pending`; returns the bytes they took, or nothing (and
// closes the violator) when a frame breaks a rule.
std::optional<std::size_t> forward_frames(peer& self, tunnel& t, role r, std::span<const std::uint8_t> pending) {
  std::size_t at = 0;
  lp::message_view m;
  while (pending.size() - at >= 2) {
    const std::size_t length = (std::size_t{pending[at]} << 8) | pending[at + 1];
    if (pending.size() - at < 2 + length) break;
    auto err = lp::parse_message(std::span(pending).subspan(at + 2, length), {}, m);
    auto violation = err == lp::decode_error::none
                         ? lp::check_sent_by(r, m, [&t](std::string_view s) { return t.knows(s); })
                         : lp::rule_violation::none;
    if (err != lp::decode_error::none || violation != lp::rule_violation::none) {
      const auto why = err != lp::decode_error::none ? lp::describe(err) : lp::describe(violation);
      LP_LOG(warning) << "Tunnel " << t.id << ": closing the " << role_name(r) << " for a protocol violation: " << why;
      self.close(1002, std::string(why));
      return std::nullopt;
    }
    track_streams(t, m);
    if (m.type != lp::message_type::data)
      LP_LOG(trace) << "Tunnel " << t.id << ": " << lp::type_name(m.type) << " from the " << role_name(r);
    auto& from = t.of(r);
    from.bytes += 2 + length;
    ++from.frames;
    if (auto& to = t.of(other(r)).connection; to && to->open()) to->send(pending.subspan(at, 2 + length));
    at += 2 + length;
  }
  return at;
}

asio::awaitable<void> throttle(tunnel& t, std::size_t bytes, double rate) {
  if (rate <= 0) co_return;
  const auto now = std::chrono::steady_clock::now();
  t.bucket = std::min(rate, t.bucket + rate * std::chrono::duration<double>(now - t.refilled).count());
  t.refilled = now;
  t.bucket -= static_cast<double>(bytes);
  if (t.bucket >= 0) co_return;
  asio::steady_timer wait(co_await asio::this_coro::executor,
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(-t.bucket / rate)));
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

void send_service_ids(peer& p, const tunnel& t) {
  lp::message_fields f;
  f.type = lp::message_type::service_ids;
  f.available_service_ids = t.services;
  send_message(p, f);
}

void send_session_reset(peer& p) {
  lp::message_fields f;
  f.type = lp::message_type::session_reset;
  send_message(p, f);
}

void reset_streams(tunnel& t, peer& to) {
  for (const auto& [service, stream] : t.streams) {
    lp::message_fields f;
    f.type = lp::message_type::stream_reset;
    f.stream_id = stream;
    f.service_id = service;
    send_message(to, f);
  }
  t.streams.clear();
}

asio::awaitable<void> relay(std::shared_ptr<peer> self, std::shared_ptr<tunnel> t, role r, relay_settings settings) {
  std::span<const std::uint8_t> message;
  std::vector<std::uint8_t> pending;  // a frame split across messages (at most 2 + 65535 bytes)
  asio::steady_timer frozen(co_await asio::this_coro::executor);
  for (;;) {
    while (t->of(r).frozen && t->of(r).connection == self && self->open()) {
      frozen.expires_after(std::chrono::milliseconds(50));
      co_await frozen.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    auto ec = co_await self->read(message);
    if (ec) {
      LP_LOG(info) << "Tunnel " << t->id << ": " << role_name(r) << " disconnected (" << ec.message() << ")";
      break;
    }
    // Frames are forwarded from the message itself; only a frame split across messages is copied.
    std::optional<std::size_t> used;
    if (pending.empty()) {
      used = forward_frames(*self, *t, r, message);
      if (used) pending.assign(message.begin() + static_cast<std::ptrdiff_t>(*used), message.end());
    } else {
      pending.insert(pending.end(), message.begin(), message.end());
      used = forward_frames(*self, *t, r, pending);
      if (used) pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(*used));
    }
    if (!used) break;
    co_await throttle(*t, message.size(), settings.bandwidth);
    // Backpressure: a slow receiver stops this sender instead of growing the queue.
    for (auto to = t->of(other(r)).connection; to && to->open() && self->open() && to->queued() > settings.queue_limit;)
      co_await to->drained().wait();
  }
  if (t->of(r).connection == self) t->of(r).connection.reset();
}

}  // namespace tunnel_service
