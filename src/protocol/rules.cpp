#include "localproxy/protocol/rules.hpp"

namespace localproxy::protocol {

std::string_view describe(rule_violation v) noexcept {
  switch (v) {
    case rule_violation::none: return "no violation";
    case rule_violation::zero_type: return "message type is zero";
    case rule_violation::unknown_type: return "unknown message type not marked ignorable";
    case rule_violation::missing_stream_id: return "stream message without a stream ID";
    case rule_violation::start_from_destination: return "start message sent by a destination";
    case rule_violation::service_only_type: return "SESSION_RESET or SERVICE_IDS sent by a client";
    case rule_violation::unknown_service_id: return "service ID not opened with the tunnel";
  }
  return "unknown violation";
}

bool is_stream_typed(message_type t) noexcept {
  switch (t) {
    case message_type::data:
    case message_type::stream_start:
    case message_type::stream_reset:
    case message_type::connection_start:
    case message_type::connection_reset: return true;
    default: return false;
  }
}

bool should_skip(const message_view& m) noexcept { return !is_known(m.type) && m.ignorable; }

namespace {
rule_violation check_common(const message_view& m) {
  if (m.type == message_type::unknown) return rule_violation::zero_type;
  if (!is_known(m.type)) return m.ignorable ? rule_violation::none : rule_violation::unknown_type;
  if (is_stream_typed(m.type) && m.stream_id == 0) return rule_violation::missing_stream_id;
  return rule_violation::none;
}
bool is_start(message_type t) { return t == message_type::stream_start || t == message_type::connection_start; }
}  // namespace

rule_violation check_sent_by(endpoint_role sender, const message_view& m,
                             const std::function<bool(std::string_view)>& known_service) {
  if (auto v = check_common(m); v != rule_violation::none) return v;
  if (m.type == message_type::session_reset || m.type == message_type::service_ids)
    return rule_violation::service_only_type;
  if (sender == endpoint_role::destination && is_start(m.type)) return rule_violation::start_from_destination;
  if (!m.service_id.empty() && known_service && !known_service(m.service_id))
    return rule_violation::unknown_service_id;
  return rule_violation::none;
}

rule_violation check_received_by(endpoint_role receiver, const message_view& m) {
  if (auto v = check_common(m); v != rule_violation::none) return v;
  if (receiver == endpoint_role::source && is_start(m.type)) return rule_violation::start_from_destination;
  return rule_violation::none;
}

}  // namespace localproxy::protocol
