// What two reference localproxy 3.3.1 processes exchanged through a logging service, one line a
// message in the order the service saw them (transcribed from ../shared/reference-wire/; a run of
// DATA frames is one line here). Fields: who, type, stream, connection (0 = absent), service (- = absent).
#pragma once

namespace reference_wire {

struct scenario {
  const char* name;
  int destination_client_type;  // -y the reference source ran with: 0 (none), 1 or 2
  const char* lines;
};

inline constexpr scenario scenarios[] = {
    {"v1_unnamed_one_connection", 1, R"(
services -
destination-connected
source-connected
source STREAM_START 1 0 -
source DATA 1 0 -
destination DATA 1 0 -
source STREAM_RESET 1 0 -
)"},
    {"v2_two_services", 2, R"(
services A,B
destination-connected
source-connected
source STREAM_START 1 0 A
destination DATA 1 0 A
source DATA 1 0 A
source STREAM_START 1 0 B
source DATA 1 0 A
destination DATA 1 0 A
destination DATA 1 0 B
source DATA 1 0 B
source STREAM_RESET 1 0 A
destination DATA 1 0 B
source STREAM_RESET 1 0 B
)"},
    {"v2_unnamed_one_connection", 2, R"(
services -
destination-connected
source-connected
source STREAM_START 1 0 -
source DATA 1 0 -
destination DATA 1 0 -
source STREAM_RESET 1 0 -
)"},
    {"v3_two_services_many_connections", 0, R"(
services A,B
destination-connected
source-connected
source STREAM_START 1 1 A
destination DATA 1 1 A
source DATA 1 1 A
source STREAM_START 1 1 B
destination DATA 1 1 A
source DATA 1 1 A
destination DATA 1 1 B
source DATA 1 1 B
source CONNECTION_RESET 1 1 A
destination DATA 1 1 B
destination CONNECTION_RESET 1 1 A
destination DATA 1 1 B
source CONNECTION_RESET 1 1 B
destination CONNECTION_RESET 1 1 B
source CONNECTION_START 1 2 A
destination DATA 1 2 A
source DATA 1 2 A
source CONNECTION_START 1 2 B
destination DATA 1 2 A
source CONNECTION_RESET 1 2 A
destination DATA 1 2 B
source CONNECTION_START 1 3 A
destination CONNECTION_RESET 1 2 A
source DATA 1 2 B
destination DATA 1 3 A
destination DATA 1 2 B
source DATA 1 3 A
source CONNECTION_START 1 3 B
destination DATA 1 3 A
source CONNECTION_RESET 1 2 B
source CONNECTION_START 1 4 A
destination DATA 1 3 A
destination DATA 1 3 B
destination DATA 1 4 A
source DATA 1 3 B
destination CONNECTION_RESET 1 2 B
source DATA 1 4 A
destination DATA 1 4 A
source DATA 1 3 B
destination DATA 1 3 B
source CONNECTION_RESET 1 3 A
source DATA 1 3 B
destination DATA 1 4 A
destination DATA 1 3 B
destination CONNECTION_RESET 1 3 A
destination DATA 1 3 B
source DATA 1 3 B
source CONNECTION_START 1 4 B
source CONNECTION_START 1 5 A
destination DATA 1 3 B
source CONNECTION_START 1 5 B
destination DATA 1 3 B
destination DATA 1 5 A
destination DATA 1 4 B
destination DATA 1 5 B
source DATA 1 4 B
source DATA 1 5 A
source DATA 1 5 B
source CONNECTION_RESET 1 4 A
source CONNECTION_RESET 1 3 B
source CONNECTION_RESET 1 4 B
destination DATA 1 5 A
destination DATA 1 5 B
destination CONNECTION_RESET 1 4 A
destination CONNECTION_RESET 1 3 B
destination CONNECTION_RESET 1 4 B
source CONNECTION_RESET 1 5 B
destination DATA 1 5 A
source CONNECTION_RESET 1 5 A
destination CONNECTION_RESET 1 5 B
destination CONNECTION_RESET 1 5 A
)"},
    {"v3_unnamed_one_then_eight_connections", 0, R"(
services -
destination-connected
source-connected
source STREAM_START 1 1 -
source DATA 1 1 -
destination DATA 1 1 -
source CONNECTION_RESET 1 1 -
destination CONNECTION_RESET 1 1 -
source CONNECTION_START 1 2 -
source DATA 1 2 -
destination DATA 1 2 -
source CONNECTION_START 1 3 -
source DATA 1 3 -
destination DATA 1 2 -
source CONNECTION_START 1 4 -
source DATA 1 3 -
destination DATA 1 2 -
destination DATA 1 3 -
source DATA 1 4 -
source CONNECTION_START 1 5 -
source DATA 1 4 -
destination DATA 1 3 -
source CONNECTION_RESET 1 2 -
destination DATA 1 3 -
source DATA 1 5 -
destination DATA 1 4 -
source CONNECTION_START 1 6 -
source DATA 1 5 -
destination DATA 1 4 -
destination CONNECTION_RESET 1 2 -
destination DATA 1 4 -
source DATA 1 5 -
source CONNECTION_START 1 7 -
source DATA 1 6 -
destination DATA 1 5 -
source CONNECTION_START 1 8 -
source DATA 1 6 -
destination DATA 1 5 -
destination DATA 1 6 -
source CONNECTION_RESET 1 3 -
source DATA 1 6 -
source CONNECTION_START 1 9 -
source DATA 1 7 -
destination DATA 1 6 -
destination CONNECTION_RESET 1 3 -
destination DATA 1 6 -
source DATA 1 7 -
destination DATA 1 7 -
source CONNECTION_RESET 1 4 -
source DATA 1 8 -
destination DATA 1 7 -
destination CONNECTION_RESET 1 4 -
destination DATA 1 7 -
destination DATA 1 8 -
source DATA 1 8 -
source DATA 1 9 -
destination DATA 1 9 -
source CONNECTION_RESET 1 5 -
source CONNECTION_RESET 1 6 -
source CONNECTION_RESET 1 7 -
source CONNECTION_RESET 1 8 -
destination DATA 1 9 -
destination CONNECTION_RESET 1 5 -
destination CONNECTION_RESET 1 6 -
destination CONNECTION_RESET 1 7 -
destination CONNECTION_RESET 1 8 -
destination DATA 1 9 -
source CONNECTION_RESET 1 9 -
destination CONNECTION_RESET 1 9 -
)"},
    {"v3_unnamed_reconnect_each_side", 0, R"(
services -
destination-connected
source-connected
source STREAM_START 1 1 -
source DATA 1 1 -
destination DATA 1 1 -
source CONNECTION_RESET 1 1 -
destination CONNECTION_RESET 1 1 -
destination-connected
to-source STREAM_RESET 1 0 -
source STREAM_START 2 2 -
source DATA 2 2 -
destination DATA 2 2 -
source CONNECTION_RESET 2 2 -
destination CONNECTION_RESET 2 2 -
source-connected
to-destination STREAM_RESET 2 0 -
source STREAM_START 1 1 -
source DATA 1 1 -
destination DATA 1 1 -
source CONNECTION_RESET 1 1 -
destination CONNECTION_RESET 1 1 -
)"},
    {"v3_unnamed_session_reset", 0, R"(
services -
destination-connected
source-connected
source STREAM_START 1 1 -
source DATA 1 1 -
destination DATA 1 1 -
source CONNECTION_RESET 1 1 -
destination CONNECTION_RESET 1 1 -
to-source SESSION_RESET 0 0 -
to-destination SESSION_RESET 0 0 -
source STREAM_START 2 2 -
source DATA 2 2 -
destination DATA 2 2 -
source CONNECTION_RESET 2 2 -
destination CONNECTION_RESET 2 2 -
)"},
};

}  // namespace reference_wire
