#include "settings_keys.hpp"

#include <algorithm>
#include <array>

namespace localproxy::config::settings_keys {
namespace {

constexpr long long hour_ms = 3'600'000;
constexpr long long day_ms = 24 * hour_ms;
constexpr long long mib = 1024 * 1024;

// The ranges keep a typo from becoming a hang or a multi-gigabyte buffer: timeouts of up to a day,
// buffers of up to 16 MiB (64 MiB for a connection's queue), and the protocol's own limits on
// message sizes (a payload of at most 64512 bytes, a WebSocket frame of at most 131076).
const std::array<key, 34> keys{{
    {"default_bind_address", &settings::default_bind_address, 1, 255},
    {"unix_socket_mode", &settings::unix_socket_mode, 3, 4},
    {"endpoint_format", &settings::endpoint_format, 3, 255},
    {"extra_regions", &settings::extra_regions, 0, 4096},
    {"message.data_length_size", &settings::data_length_size, 2, 2},
    {"message.max_payload_size", &settings::max_payload_size, 1024, 64512},
    {"message.max_size", &settings::max_message_size, 1024, 65536},
    {"message.data_frame_max_size", &settings::data_frame_max_size, 1024, 16 * mib},
    {"tcp.connection_retry_count", &settings::connection_retry_count, -1, 1'000'000},
    {"tcp.connection_retry_delay_ms", &settings::connection_retry_delay_ms, 0, hour_ms},
    {"tcp.read_buffer_size", &settings::tcp_read_buffer_size, 1024, 16 * mib},
    {"tcp.write_buffer_size", &settings::tcp_write_buffer_size, 1024, 16 * mib},
    {"tcp.max_active_connections", &settings::max_active_connections, 1, 65535},
    {"tcp.connect_timeout_ms", &settings::tcp_connect_timeout_ms, 1, hour_ms},
    {"tcp.connection_buffer_size", &settings::connection_buffer_size, 1024, 64 * mib},
    {"tcp.total_buffer_size", &settings::total_buffer_size, 256 * 1024, 1024 * mib},
    {"tcp.half_close_linger_ms", &settings::half_close_linger_ms, 0, hour_ms},
    {"tcp.stall_timeout_ms", &settings::stall_timeout_ms, 1, day_ms},
    {"tcp.pending_connection_timeout_ms", &settings::pending_connection_timeout_ms, 0, hour_ms},
    {"websocket.ping_period_ms", &settings::ping_period_ms, 100, hour_ms},
    {"websocket.retry_delay_ms", &settings::retry_delay_ms, 0, hour_ms},
    {"websocket.connect_retry_count", &settings::connect_retry_count, -1, 1'000'000},
    {"websocket.reconnect_on_data_error", &settings::reconnect_on_data_error, 0, 0},
    {"websocket.subprotocol", &settings::subprotocol, 1, 64},
    {"websocket.max_frame_size", &settings::max_frame_size, 65538, 131076},
    {"websocket.write_buffer_size", &settings::write_buffer_size, 1024, 16 * mib},
    {"websocket.read_buffer_size", &settings::ws_read_buffer_size, 1024, 16 * mib},
    {"websocket.retry_delay_max_ms", &settings::retry_delay_max_ms, 1, day_ms},
    {"websocket.handshake_timeout_ms", &settings::handshake_timeout_ms, 100, hour_ms},
    {"websocket.pong_timeout_ms", &settings::pong_timeout_ms, 0, hour_ms},
    {"websocket.service_ids_timeout_ms", &settings::service_ids_timeout_ms, 0, hour_ms},
    {"websocket.generate_client_token", &settings::generate_client_token, 0, 0},
    {"websocket.certificate_failure_limit", &settings::certificate_failure_limit, 0, 1000},
    {"status_period_ms", &settings::status_period_ms, 0, day_ms},
}};

}  // namespace

std::span<const key> all() { return keys; }

bool is_file_mode(std::string_view value) {
  if (value.size() < 3 || value.size() > 4 || (value.size() == 4 && value.front() != '0')) return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '7'; });
}

bool is_known_subprotocol(std::string_view value) {
  return value == "aws.iot.securetunneling-1.0" || value == "aws.iot.securetunneling-2.0" ||
         value == "aws.iot.securetunneling-3.0";
}

}  // namespace localproxy::config::settings_keys
