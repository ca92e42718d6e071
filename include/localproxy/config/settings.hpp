#pragma once
// Tunables read from --settings-json (keys under tunneling.proxy.), with the reference
// localproxy's names and defaults, plus the ones our tunnel needs. Every limit is here.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace localproxy::config {

struct settings {
  std::string default_bind_address = "localhost";
  std::string unix_socket_mode = "0600";  // unix_socket_mode (ours): octal mode of a source's Unix sockets
  std::string endpoint_format = "data.tunneling.iot.%s.amazonaws.com";  // %s = region
  std::string extra_regions;  // extra_regions (ours): regions to take as known besides the built-in list, comma separated

  // message.*
  std::size_t data_length_size = 2;
  std::size_t max_payload_size = 64512;
  std::size_t max_message_size = 65536;  // message.max_size
  std::size_t data_frame_max_size = 65538;  // message.data_frame_max_size (the reference's; checked only)

  // tcp.*
  int connection_retry_count = 5;
  std::uint32_t connection_retry_delay_ms = 2500;
  std::size_t tcp_read_buffer_size = 131076;       // tcp.read_buffer_size
  std::size_t tcp_write_buffer_size = 131076;      // tcp.write_buffer_size
  std::size_t max_active_connections = 128;
  std::uint32_t tcp_connect_timeout_ms = 10000;    // tcp.connect_timeout_ms (ours): one local connect attempt
  std::size_t connection_buffer_size = 131072;     // tcp.connection_buffer_size (ours): per-connection queue, each way
  std::size_t total_buffer_size = 1024 * 1024;  // tcp.total_buffer_size (ours): all connections together
  std::uint32_t half_close_linger_ms = 3000;       // tcp.half_close_linger_ms (ours): source, V3: a client's half-close
  std::uint32_t stall_timeout_ms = 5000;           // tcp.stall_timeout_ms (ours): a stuck local reader is reset after this
  std::uint32_t pending_connection_timeout_ms = 10000;  // tcp.pending_connection_timeout_ms (ours): a client accepted while the tunnel is down waits this long

  // websocket.*
  std::uint32_t ping_period_ms = 20000;
  std::uint32_t retry_delay_ms = 2500;
  int connect_retry_count = -1;
  bool reconnect_on_data_error = true;
  std::string subprotocol = "aws.iot.securetunneling-3.0";
  std::size_t max_frame_size = 131076;
  std::size_t write_buffer_size = 131076;
  std::size_t ws_read_buffer_size = 131076;         // websocket.read_buffer_size
  std::uint32_t retry_delay_max_ms = 60000;         // websocket.retry_delay_max_ms (ours): backoff cap
  std::uint32_t handshake_timeout_ms = 30000;       // websocket.handshake_timeout_ms (ours): each connect step
  std::uint32_t pong_timeout_ms = 0;  // websocket.pong_timeout_ms (ours): 0 = two ping periods
  std::uint32_t service_ids_timeout_ms = 2000;      // websocket.service_ids_timeout_ms (ours)
  bool generate_client_token = true;                // websocket.generate_client_token (ours)
  int certificate_failure_limit = 3;  // websocket.certificate_failure_limit (ours): exit 3 after this many in a row; 0 = retry

  std::uint32_t status_period_ms = 60000;           // status_period_ms (ours): 0 disables the status line

  // region -> endpoint host; a settings file merges over these
  std::map<std::string, std::string> region_endpoint_overrides = {
      {"cn-north-1", "data.tunneling.iot.cn-north-1.amazonaws.com.cn"},
      {"cn-northwest-1", "data.tunneling.iot.cn-northwest-1.amazonaws.com.cn"}};

  bool operator==(const settings&) const = default;
};

}  // namespace localproxy::config
