#pragma once
// The session's bookkeeping, with no I/O: which stream each service has, which connection IDs
// are live on it, which wire format the peer speaks, and where an incoming message belongs.
// The session executes what this decides; unit tests drive it with scripted messages.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "localproxy/config/options.hpp"
#include "localproxy/protocol/message.hpp"
#include "localproxy/protocol/rules.hpp"

namespace localproxy::tunnel {

// How messages are addressed: V1 no service ID, V2 service ID, V3 service and connection IDs.
enum class wire_format { v1 = 1, v2 = 2, v3 = 3 };

struct service_entry {
  std::string id;  // empty for a V1 tunnel (no service IDs)
  config::service_mapping mapping;
  std::int32_t stream_id = 0;  // current stream; 0 = none
  std::uint32_t next_connection_id = 1;
  std::set<std::uint32_t> connections;  // live connection IDs of the current stream
};

struct connection_ref {
  service_entry* service = nullptr;
  std::int32_t stream_id = 0;
  std::uint32_t connection_id = 0;
};

// "service SSH stream 3 connection 2", for log lines.
[[nodiscard]] std::string describe_connection(const connection_ref& c);

class stream_table {
 public:
  // format: the source's from -y (or V3); a destination's is detected from the peer's first start.
  stream_table(protocol::endpoint_role role, wire_format format) : role_(role), format_(format) {}

  void set_services(std::vector<service_entry> services) { services_ = std::move(services); }
  [[nodiscard]] std::vector<service_entry>& services() noexcept { return services_; }
  // An empty id means "the only service" (V1 peers send none).
  [[nodiscard]] service_entry* find(std::string_view service_id) noexcept;

  [[nodiscard]] wire_format format() const noexcept { return format_; }
  [[nodiscard]] protocol::endpoint_role role() const noexcept { return role_; }

  // Source: a local client connected to service s. Returns its IDs and whether it opens a new
  // stream (STREAM_START) or joins the current one (CONNECTION_START); nullopt when a V1/V2
  // peer already has this service's one connection.
  struct opened {
    connection_ref ref;
    protocol::message_type start_type;
  };
  [[nodiscard]] std::optional<opened> open_connection(service_entry& s);

  // Destination: a STREAM_START or CONNECTION_START arrived (already rule-checked).
  struct started {
    connection_ref ref;                       // the connection to open; service null = ignore
    std::vector<std::uint32_t> replaced;      // connections of the stream it replaces, to close
    std::optional<wire_format> detected;      // set when this start revealed the peer's format
  };
  [[nodiscard]] started on_start(const protocol::message_view& m);

  // DATA / CONNECTION_RESET: the live connection it is for, or nullopt (stale or unknown: drop).
  [[nodiscard]] std::optional<connection_ref> route(const protocol::message_view& m);

  // STREAM_RESET for the current stream: its connections, now forgotten (empty when stale).
  [[nodiscard]] std::vector<connection_ref> end_stream(const protocol::message_view& m);
  // SESSION_RESET or loss of the WebSocket: every connection, now forgotten.
  [[nodiscard]] std::vector<connection_ref> end_all();

  // A connection is over (local close, failed connect, or reset received). Returns the message
  // to tell the peer (CONNECTION_RESET for V3, STREAM_RESET for V1/V2, which also ends the
  // stream); `notify` false forgets it without a message.
  [[nodiscard]] protocol::message_fields close_connection(const connection_ref& c);
  void forget_connection(const connection_ref& c);
  [[nodiscard]] bool is_live(const connection_ref& c) const noexcept;

  // Addressing of an outgoing message about connection c, per the wire format.
  [[nodiscard]] protocol::message_fields address(protocol::message_type type, const connection_ref& c) const;
  [[nodiscard]] std::string_view wire_service_id(const service_entry& s) const noexcept;
  [[nodiscard]] std::uint32_t wire_connection_id(std::uint32_t connection_id) const noexcept {
    return format_ == wire_format::v3 ? connection_id : 0;
  }

  [[nodiscard]] std::size_t live_connections(const service_entry& s) const noexcept { return s.connections.size(); }

 private:
  service_entry* for_message(const protocol::message_view& m) noexcept;

  protocol::endpoint_role role_;
  wire_format format_;
  bool format_detected_ = false;
  std::vector<service_entry> services_;
  std::int32_t next_stream_id_ = 1;  // never reused within the process's life
};

}  // namespace localproxy::tunnel
