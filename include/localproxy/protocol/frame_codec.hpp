#pragma once
// Tunnel frames: a 2-byte big-endian length, then that many bytes of a protobuf Message
// (PROTOCOL.md §2). Tunnel frames are not aligned with WebSocket messages.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "localproxy/protocol/message.hpp"

namespace localproxy::protocol {

struct frame_limits {
  std::size_t max_payload = 64512;  // message.max_payload_size
  std::size_t max_frame = 65535;    // largest message body (the 2-byte length caps it at 65535)
};

// Largest number of bytes encode_data_header() writes in front of a payload (length prefix
// included), for a service ID of at most 128 bytes.
inline constexpr std::size_t data_header_max = 160;
inline constexpr std::size_t max_service_id_size = 128;

enum class encode_error { none, payload_too_large, frame_too_large, bad_field };

// Appends one frame (length + message) to out. DATA messages go through encode_data_frame.
[[nodiscard]] encode_error encode_frame(const message_fields& m, std::span<const std::uint8_t> payload,
                                        const frame_limits& limits, std::vector<std::uint8_t>& out);

// Writes a DATA frame header in place, right in front of a payload that is already in its buffer:
// `payload` must be preceded by at least data_header_max writable bytes. Returns the whole frame
// (header + payload), or an empty span when the payload or service ID is too large.
[[nodiscard]] std::span<std::uint8_t> encode_data_header(std::span<std::uint8_t> payload,
                                                         std::int32_t stream_id, std::string_view service_id,
                                                         std::uint32_t connection_id,
                                                         const frame_limits& limits);

enum class decode_error { none, frame_too_large, unparseable, zero_type, payload_too_large };
[[nodiscard]] std::string_view describe(decode_error e) noexcept;

// Parses one message body (without the length prefix). The view points into body.
[[nodiscard]] decode_error parse_message(std::span<const std::uint8_t> body, const frame_limits& limits,
                                         message_view& out);

// Streaming decoder: fed byte slices in order, hands out each complete message. A frame that is
// whole inside the slice is parsed in place; only a frame split across slices is copied.
class frame_decoder {
 public:
  explicit frame_decoder(frame_limits limits = {}) : limits_(limits) {}

  // Calls on_message(const message_view&) for every complete message in order. Stops at the
  // first error, which it returns; the decoder is then unusable until reset().
  template <class OnMessage>
  decode_error feed(std::span<const std::uint8_t> bytes, OnMessage&& on_message);

  [[nodiscard]] bool mid_frame() const noexcept { return !partial_.empty(); }
  void reset() noexcept { partial_.clear(); failed_ = decode_error::none; }

 private:
  // Returns the number of bytes of `bytes` consumed into a complete partial frame, or all of them.
  std::size_t fill_partial(std::span<const std::uint8_t> bytes) noexcept;
  [[nodiscard]] bool partial_complete() const noexcept;
  // The body length announced by the partial frame's prefix (0 while the prefix is incomplete).
  [[nodiscard]] std::size_t partial_length() const noexcept;

  frame_limits limits_;
  std::vector<std::uint8_t> partial_;
  decode_error failed_ = decode_error::none;
  message_view view_;
};

template <class OnMessage>
decode_error frame_decoder::feed(std::span<const std::uint8_t> bytes, OnMessage&& on_message) {
  if (failed_ != decode_error::none) return failed_;
  auto fail = [this](decode_error e) { return failed_ = e; };
  if (!partial_.empty()) {
    bytes = bytes.subspan(fill_partial(bytes));
    if (!partial_complete())
      return partial_length() > limits_.max_frame ? fail(decode_error::frame_too_large) : decode_error::none;
    if (auto e = parse_message(std::span(partial_).subspan(2), limits_, view_); e != decode_error::none)
      return fail(e);
    on_message(static_cast<const message_view&>(view_));
    partial_.clear();
  }
  while (bytes.size() >= 2) {
    const std::size_t length = (std::size_t{bytes[0]} << 8) | bytes[1];
    if (length > limits_.max_frame) return fail(decode_error::frame_too_large);
    if (bytes.size() < 2 + length) break;
    if (auto e = parse_message(bytes.subspan(2, length), limits_, view_); e != decode_error::none)
      return fail(e);
    on_message(static_cast<const message_view&>(view_));
    bytes = bytes.subspan(2 + length);
  }
  if (!bytes.empty()) fill_partial(bytes);
  return decode_error::none;
}

}  // namespace localproxy::protocol
