#pragma once
// The session's one model of what is live, with no I/O: for each service its current stream and
// that stream's live connections (each with its local connection, the only record of it), plus
// what the peer is known to speak. The session executes what this decides; unit tests drive it
// with scripted messages.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "localproxy/config/options.hpp"
#include "localproxy/protocol/message.hpp"
#include "localproxy/protocol/rules.hpp"
#include "localproxy/tunnel/metrics.hpp"

namespace localproxy::tunnel {

class local_connection;

// What -y asks a source to speak: V1 no service IDs, V2 service IDs, V3 service and connection IDs.
enum class wire_format { v1 = 1, v2 = 2, v3 = 3 };

// Two independent facts about the peer. A destination learns them from the peer's messages and
// only ever upgrades them within a session. A source told them by -y keeps them; without -y it
// assumes V3 until the destination's answers confirm it or show an older proxy, and then
// downgrades once. A destination given -y speaks only that format (as an older proxy would).
// An absent service ID does not mean V1: on a tunnel without services a V3 peer sends none but
// does send connection IDs.
struct peer_facts {
  bool multiplexed = true;     // many connections per stream (V3), each with its own ID
  bool names_services = true;  // service IDs on the wire (V2/V3)
  bool known = false;          // learned from the peer (or told by -y): no longer to be found out
  [[nodiscard]] int version() const noexcept { return multiplexed ? 3 : names_services ? 2 : 1; }
};

struct service_entry {
  std::string id;  // empty on a tunnel without services
  config::service_mapping mapping;
  std::int32_t stream_id = 0;  // current stream; 0 = none
  std::uint32_t next_connection_id = 1;
  // The live connections of the current stream. An entry exists from the start message until
  // the connection ends; its local connection is attached right after the entry is made.
  std::map<std::uint32_t, std::shared_ptr<local_connection>> connections;
  service_counters counters;  // kept across sessions and a change of the tunnel's services
  // Source: CONNECTION_STARTs of the current stream refused when the destination turned out to be
  // older before it answered them; its STREAM_RESETs answering them are not the stream's end.
  std::uint32_t unanswered_joins = 0;
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
  // format_forced: -y was given (a source: the destination's format; a destination: its own).
  stream_table(protocol::endpoint_role role, wire_format format, bool format_forced = false);

  // New entries take over the counters of the old ones with the same ID.
  void set_services(std::vector<service_entry> services);
  [[nodiscard]] std::vector<service_entry>& services() noexcept { return services_; }
  // An empty id means "the only service" (a tunnel without services, or a V1 peer).
  [[nodiscard]] service_entry* find(std::string_view service_id) noexcept;

  [[nodiscard]] const peer_facts& peer() const noexcept { return peer_; }
  // What a message received from the peer shows about it.
  //  - learned: (destination) the facts were learned (the first start) or upgraded (a later sign
  //    of V3 or of named services);
  //  - older_peer: (source without -y) the destination answered the first connection of a stream
  //    without a connection ID, or reset a stream that has CONNECTION_START connections (its
  //    answer to a type it does not know): it is V2, or V1 when it sends no service ID on a
  //    tunnel with a named service. The facts are now those; call refuse_joined();
  //  - older_peer_answer: as older_peer, and the message (that STREAM_RESET) answered the
  //    CONNECTION_STARTs alone: it does not end the stream's first connection. Such a reset is
  //    also what a V3 destination sends when it ends the stream, so the facts stay unconfirmed
  //    and a connection ID in a later answer makes the peer V3 again (learned).
  //  A downgrade is reported once (older_peer or older_peer_answer), a return to V3 as learned;
  //  a later STREAM_RESET that answers a refused CONNECTION_START is peer_news::answer (nothing
  //  to do: it does not end the stream's first connection).
  enum class peer_news { none, learned, older_peer, older_peer_answer, answer };
  peer_news learn(const protocol::message_view& m);
  // After older_peer: the connections that joined a stream with CONNECTION_START, now forgotten
  // (the peer never had them; it is told nothing). Each stream's first connection stays.
  [[nodiscard]] std::vector<std::shared_ptr<local_connection>> refuse_joined();

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
    connection_ref ref;  // the connection to open; service null = not opened
    std::vector<std::shared_ptr<local_connection>> replaced;  // of the stream a STREAM_START replaces
    std::optional<protocol::message_fields> refusal;  // the reset that answers a start we cannot honour
    const char* why = nullptr;                        // why it was not opened, for the log
    bool learned = false;                             // the peer facts were learned or upgraded
    bool taken_up = false;  // a CONNECTION_START took up a stream this destination had not seen start
  };
  [[nodiscard]] started on_start(const protocol::message_view& m, std::size_t max_connections);

  // Puts the local connection into the entry open_connection / on_start made for it.
  void attach(const connection_ref& c, std::shared_ptr<local_connection> connection);

  // DATA: the live connection its IDs name, or null.
  [[nodiscard]] std::shared_ptr<local_connection> route(const protocol::message_view& m);
  // CONNECTION_RESET from the peer: the connection it ends, now forgotten, or null.
  [[nodiscard]] std::shared_ptr<local_connection> reset_by_peer(const protocol::message_view& m);
  // STREAM_RESET for the current stream: its connections, now forgotten (empty when stale).
  [[nodiscard]] std::vector<std::shared_ptr<local_connection>> end_stream(const protocol::message_view& m);
  // SESSION_RESET: every connection, now forgotten. The peer facts stay.
  [[nodiscard]] std::vector<std::shared_ptr<local_connection>> end_all();
  // The WebSocket is gone: every connection, and (destination) what was learned of the peer.
  [[nodiscard]] std::vector<std::shared_ptr<local_connection>> end_session();
  // Destination, once the next session knows its services: a STREAM_RESET for each stream that
  // was live when the last session ended. The source heard nothing of that end and goes on with
  // those streams, whose connections here are gone: without the reset its clients wait on them.
  // Each is remembered as ended, so that a start for it still on its way is refused. Called once
  // per session (it forgets them); empty on a source.
  [[nodiscard]] std::vector<protocol::message_fields> lost_stream_resets();

  // A live connection is over on our side (local close, failed connect, stall): forgets it and
  // returns the message that tells the peer (CONNECTION_RESET for V3, STREAM_RESET for V1/V2,
  // which also ends the stream); nullopt when it was no longer live. With `expected`, only when
  // that is the connection live under those IDs (a late callback must not end a newer one).
  [[nodiscard]] std::optional<protocol::message_fields> close_connection(const connection_ref& c,
                                                                         const local_connection* expected = nullptr);
  [[nodiscard]] bool is_live(const connection_ref& c) const noexcept;

  // A message whose IDs name no live connection: the reset that tells the peer (for exactly the
  // IDs it named), or nullopt when no answer is due: a reset, or IDs that already ended (stale
  // data in flight) or were already answered. Each unknown connection is answered once.
  [[nodiscard]] std::optional<protocol::message_fields> answer_unroutable(const protocol::message_view& m);

  // Addressing of an outgoing message about connection c, per the peer facts.
  [[nodiscard]] protocol::message_fields address(protocol::message_type type, const connection_ref& c) const;
  [[nodiscard]] std::string_view wire_service_id(const service_entry& s) const noexcept;
  // A source not yet sure that its destination is older names its connections anyway: an older
  // proxy ignores the ID, a V3 one sends it back.
  [[nodiscard]] std::uint32_t wire_connection_id(std::uint32_t connection_id) const noexcept {
    const bool unsure = role_ == protocol::endpoint_role::source && !peer_.known;
    return peer_.multiplexed || unsure ? connection_id : 0;
  }

  [[nodiscard]] std::size_t live_connections(const service_entry& s) const noexcept { return s.connections.size(); }
  [[nodiscard]] std::size_t live_connections() const noexcept;

 private:
  // A connection (or, with connection 0, a whole stream) known to be over, so that what the
  // peer had in flight for it is dropped quietly instead of answered.
  struct ended_key {
    const service_entry* service;
    std::int32_t stream_id;
    std::uint32_t connection_id;
  };
  static constexpr std::size_t max_remembered = 512;

  peer_news learn_from_destination(const protocol::message_view& m);
  // The peer is older: the STREAM_RESETs still due for the CONNECTION_STARTs it got (less the
  // one that `answered` one of them) will not end the streams.
  void expect_join_answers(const service_entry* answered);

  void remember(const service_entry* s, std::int32_t stream_id, std::uint32_t connection_id);
  [[nodiscard]] bool remembered(const service_entry* s, std::int32_t stream_id, std::uint32_t connection_id) const;
  std::vector<std::shared_ptr<local_connection>> end_current_stream(service_entry& s);
  // A connection leaves the table: what it read counts for its service from now on.
  static void retire(service_entry& s, const local_connection* c) noexcept;

  protocol::endpoint_role role_;
  bool forced_;
  peer_facts told_;  // what the options say, restored when a session ends
  peer_facts peer_;
  std::vector<service_entry> services_;
  std::deque<ended_key> ended_;
  // Destination: the streams the last session ended with, for lost_stream_resets().
  struct lost_stream {
    std::string service_id;
    std::int32_t stream_id;
    bool named;  // its messages carried the service ID
  };
  std::vector<lost_stream> lost_;
  std::int32_t next_stream_id_ = 1;  // never reused within the process's life
};

}  // namespace localproxy::tunnel
