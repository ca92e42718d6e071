#pragma once
// The message rules of PROTOCOL.md §3, in one place: which side may send what, which messages
// need a stream ID, and what happens to unknown types. The proxy's session and the test tunnel
// service both call these; neither repeats them.
#include <functional>
#include <string_view>

#include "localproxy/protocol/message.hpp"

namespace localproxy::protocol {

// The two ends of a tunnel. (The service itself is neither.)
enum class endpoint_role { source, destination };

enum class rule_violation {
  none,
  zero_type,
  unknown_type,             // unknown and not ignorable
  missing_stream_id,        // stream-typed message with stream ID 0
  start_from_destination,   // a destination sent STREAM_START/CONNECTION_START
  service_only_type,        // a client sent SESSION_RESET or SERVICE_IDS
  unknown_service_id,       // service ID not one the tunnel was opened with
};
[[nodiscard]] std::string_view describe(rule_violation v) noexcept;

// True for the types that belong to a stream and so need a non-zero stream ID.
[[nodiscard]] bool is_stream_typed(message_type t) noexcept;

// An unknown type marked ignorable is skipped by every receiver.
[[nodiscard]] bool should_skip(const message_view& m) noexcept;

// Rules the service enforces on a message a client sends. known_service is asked only when the
// message carries a service ID; pass nullptr to accept any.
[[nodiscard]] rule_violation check_sent_by(endpoint_role sender, const message_view& m,
                                           const std::function<bool(std::string_view)>& known_service = {});

// Rules a proxy applies to a message it receives from the service (sent by the peer or by the
// service itself): a source never receives a start message.
[[nodiscard]] rule_violation check_received_by(endpoint_role receiver, const message_view& m);

// A connection ID of 0 or unset means the stream's first connection (V3 guide).
[[nodiscard]] inline std::uint32_t effective_connection_id(const message_view& m) noexcept {
  return m.connection_id == 0 ? 1 : m.connection_id;
}

}  // namespace localproxy::protocol
