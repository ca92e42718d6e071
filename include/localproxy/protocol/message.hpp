#pragma once
// A decoded tunnel message as views into the bytes it was decoded from (no copy of the payload).
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace localproxy::protocol {

// Values of Message.Type in proto/message.proto.
enum class message_type : std::int32_t {
  unknown = 0,
  data = 1,
  stream_start = 2,
  stream_reset = 3,
  session_reset = 4,
  service_ids = 5,
  connection_start = 6,
  connection_reset = 7,
};

[[nodiscard]] std::string_view type_name(message_type t) noexcept;
[[nodiscard]] bool is_known(message_type t) noexcept;

// Field presence matters for version detection (a V1 peer sends no service ID, a V2 peer no
// connection ID), so the has_* flags record whether the field was on the wire.
struct message_view {
  message_type type = message_type::unknown;
  std::int32_t stream_id = 0;
  bool ignorable = false;
  std::span<const std::uint8_t> payload;
  std::string_view service_id;
  std::vector<std::string_view> available_service_ids;
  std::uint32_t connection_id = 0;
  bool has_service_id = false;
  bool has_connection_id = false;
};

// What a message says, for building one to send. Empty service_id / zero connection_id = absent.
struct message_fields {
  message_type type = message_type::unknown;
  std::int32_t stream_id = 0;
  bool ignorable = false;
  std::string_view service_id;
  std::uint32_t connection_id = 0;
  std::span<const std::string> available_service_ids;
};

}  // namespace localproxy::protocol
