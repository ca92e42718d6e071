// Replays what a reference 3.3.1 pair exchanged against our destination (the script plays the
// reference source and the service) and against our source (the script plays the reference
// destination and the service). Every connection carries bytes no other connection carries, and
// each local socket must receive exactly its own; everything we send must be what the script
// expects at that point, in order, with nothing extra (a reset answered with a reset, say).
#include <map>
#include <memory>
#include <sstream>
#include <tuple>

#include "reference_wire_scenarios.hpp"
#include "session_fixture.hpp"

using namespace session_test;

namespace reference_wire {
// gtest names a parameter by this, not by its bytes.
void PrintTo(const scenario& s, std::ostream* os) { *os << s.name; }
}  // namespace reference_wire

namespace {

struct line {
  std::string who;  // source, destination, to-source, to-destination, source-connected, ...
  lp::message_type type = lp::message_type::unknown;
  std::int32_t stream = 0;
  std::uint32_t conn = 0;
  std::string service;
};

lp::message_type type_named(const std::string& name) {
  for (int t = 1; t <= 7; ++t)
    if (lp::type_name(static_cast<lp::message_type>(t)) == name) return static_cast<lp::message_type>(t);
  ADD_FAILURE() << "unknown type " << name;
  return lp::message_type::unknown;
}

std::vector<line> parse(const char* text, std::vector<std::string>& services) {
  std::vector<line> out;
  std::istringstream in(text);
  std::string row;
  while (std::getline(in, row)) {
    if (row.empty()) continue;
    std::istringstream words(row);
    line l;
    words >> l.who;
    if (l.who == "services") {
      std::string list;
      words >> list;
      std::istringstream ids(list == "-" ? "" : list);
      for (std::string id; std::getline(ids, id, ',');) services.push_back(id);
      continue;
    }
    if (l.who.ends_with("-connected")) {
      out.push_back(l);
      continue;
    }
    std::string type;
    words >> type >> l.stream >> l.conn >> l.service;
    l.type = type_named(type);
    if (l.service == "-") l.service.clear();
    out.push_back(l);
  }
  return out;
}

// A recorded connection ID of 0 (absent) means connection 1.
std::uint32_t protocol_conn(std::uint32_t c) { return c == 0 ? 1 : c; }

using key = std::tuple<std::string, std::int32_t, std::uint32_t>;  // service, stream, connection as recorded

class ReferenceWire : public SessionTest, public ::testing::WithParamInterface<reference_wire::scenario> {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    script_ = parse(GetParam().lines, services_);
    // One mapping per tunnel service (an unnamed one on a tunnel without services), all to the
    // test's acceptor: a start is followed by its accept before the script goes on.
    opts_.mappings.clear();
    for (const auto& id : services_.empty() ? std::vector<std::string>{""} : services_) {
      lc::service_mapping m;
      m.service_id = id;
      m.host = "127.0.0.1";
      m.port = acceptor_.local_endpoint().port();
      opts_.mappings.push_back(m);
    }
  }

  // The next message our side sent, which must match; waits for it.
  void expect_sent(lp::message_type type, std::int32_t stream, std::uint32_t conn, const std::string& service,
                   const std::string& payload = {}) {
    ASSERT_TRUE(run_until([&] { return ws_->sent.size() > consumed_; }))
        << "nothing sent; expected " << lp::type_name(type) << " stream " << stream << " connection " << conn;
    const auto& m = ws_->sent[consumed_++];
    EXPECT_EQ(lp::type_name(m.type), lp::type_name(type));
    EXPECT_EQ(m.stream_id, stream);
    EXPECT_EQ(m.connection_id, conn);
    EXPECT_EQ(m.service_id, service);
    EXPECT_EQ(m.payload, payload);
  }
  void expect_nothing_more() {
    run_until([] { return false; }, std::chrono::milliseconds(100));
    for (std::size_t i = consumed_; i < ws_->sent.size(); ++i)
      ADD_FAILURE() << "unexpected " << lp::type_name(ws_->sent[i].type) << " stream " << ws_->sent[i].stream_id
                    << " connection " << ws_->sent[i].connection_id;
    EXPECT_FALSE(end_.has_value()) << (end_ ? end_->detail : "");
  }
  void connect(bool first) {
    if (first)
      start(services_);
    else
      reconnect(services_);
    consumed_ = 0;
  }
  std::string payload(const char* from, const line& l) {
    return std::string(from) + ":" + l.service + ":" + std::to_string(l.stream) + ":" + std::to_string(l.conn) + "#" +
           std::to_string(++counter_);
  }
  void expect_closed(tcp::socket& s) {
    auto [rest, ec] = read_app_to_end(s);
    EXPECT_EQ(rest, "");
    EXPECT_EQ(ec, asio::error::eof);
  }
  // The sockets of one stream's connections: the local end of each recorded connection.
  void close_stream(std::map<key, std::unique_ptr<tcp::socket>>& sockets, const std::string& service,
                    std::int32_t stream) {
    for (auto it = sockets.begin(); it != sockets.end();) {
      const auto& [s, st, c] = it->first;
      if ((s == service || service.empty()) && (st == stream || stream == 0)) {
        expect_closed(*it->second);
        it = sockets.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::vector<std::string> services_;
  std::vector<line> script_;
  std::size_t consumed_ = 0;
  int counter_ = 0;
};

lp::message_fields as_fields(const line& l, std::int32_t stream, std::uint32_t conn) {
  lp::message_fields f;
  f.type = l.type;
  f.stream_id = stream;
  f.connection_id = conn;
  f.service_id = l.service;
  return f;
}

// Our destination, the script's reference source.
TEST_P(ReferenceWire, OurDestinationServesTheReferenceSource) {
  std::map<key, std::unique_ptr<tcp::socket>> apps;
  std::map<std::string, std::int32_t> streams;  // the current stream of each service, as our side has it
  bool connected = false;
  for (const auto& l : script_) {
    SCOPED_TRACE(l.who + " " + std::string(lp::type_name(l.type)) + " stream " + std::to_string(l.stream) +
                 " connection " + std::to_string(l.conn) + " service '" + l.service + "'");
    const key k{l.service, l.stream, protocol_conn(l.conn)};
    const auto stream_ends = [&] {
      if (auto it = streams.find(l.service); it != streams.end() && it->second == l.stream) streams.erase(it);
    };
    if (l.who == "destination-connected") {
      connect(!connected);
      // Where ours differs from the reference: once connected again, it ends at the source the
      // streams it lost (the recorded service did so too, from its side; another may not).
      for (const auto& [service, stream] : streams) expect_sent(lp::message_type::stream_reset, stream, 0, service);
      streams.clear();
      connected = true;
    } else if (l.who == "to-destination") {
      ws_->push(as_fields(l, l.stream, l.conn));
      if (l.type == lp::message_type::stream_reset) {
        close_stream(apps, l.service, l.stream);
        stream_ends();
      }
      if (l.type == lp::message_type::session_reset) {
        close_stream(apps, "", 0);
        streams.clear();
      }
    } else if (l.who == "source") {
      const auto f = as_fields(l, l.stream, l.conn);
      switch (l.type) {
        case lp::message_type::stream_start:
          streams[l.service] = l.stream;
          ws_->push(f);
          close_stream(apps, l.service, 0);  // a new stream replaces the service's old one
          apps[k] = std::make_unique<tcp::socket>(accept_app());
          break;
        case lp::message_type::connection_start:
          ws_->push(f);
          apps[k] = std::make_unique<tcp::socket>(accept_app());
          break;
        case lp::message_type::data: {
          const auto p = payload("src", l);
          ws_->push(f, p);
          ASSERT_TRUE(apps.contains(k));
          EXPECT_EQ(read_app(*apps[k], p.size()), p);
          break;
        }
        case lp::message_type::connection_reset:
          ws_->push(f);
          ASSERT_TRUE(apps.contains(k));
          expect_closed(*apps[k]);
          apps.erase(k);
          break;
        case lp::message_type::stream_reset:
          ws_->push(f);
          close_stream(apps, l.service, l.stream);
          stream_ends();
          break;
        default: FAIL() << "unexpected line";
      }
    } else if (l.who == "destination") {
      if (l.type == lp::message_type::data) {
        ASSERT_TRUE(apps.contains(k));
        const auto p = payload("dst", l);
        write_app(*apps[k], p);
        expect_sent(lp::message_type::data, l.stream, l.conn, l.service, p);
      } else if (l.type == lp::message_type::connection_reset && apps.contains(k)) {
        // The destination's application closed first.
        apps[k]->close();
        apps.erase(k);
        expect_sent(l.type, l.stream, l.conn, l.service);
      }
      // Otherwise it is the reference answering the source's reset: ours need not.
    }
  }
  expect_nothing_more();
}

// Our source, the script's reference destination. Our source numbers its streams and
// connections itself; what the script calls (stream, connection) maps to what ours chose.
TEST_P(ReferenceWire, OurSourceDrivesTheReferenceDestination) {
  opts_.mode = lc::proxy_mode::source;
  opts_.destination_client_type = GetParam().destination_client_type;
  opts_.tunables.half_close_linger_ms = 0;  // the script's clients close both ways, as the reference's reset at once
  for (auto& m : opts_.mappings) m.port = 0;
  std::map<key, std::unique_ptr<tcp::socket>> clients;
  std::map<key, std::pair<std::int32_t, std::uint32_t>> ours;
  std::map<std::pair<std::string, std::int32_t>, std::int32_t> our_stream;
  bool connected = false;
  for (const auto& l : script_) {
    SCOPED_TRACE(l.who + " " + std::string(lp::type_name(l.type)) + " stream " + std::to_string(l.stream) +
                 " connection " + std::to_string(l.conn) + " service '" + l.service + "'");
    const key k{l.service, l.stream, protocol_conn(l.conn)};
    auto mapped = [&] { return ours.contains(k) ? ours[k] : std::pair<std::int32_t, std::uint32_t>{-1, 0}; };
    // The connection ID as ours puts it on the wire: none for V1/V2, as the recording.
    auto wire_conn = [&] { return l.conn == 0 ? 0u : mapped().second; };
    if (l.who == "source-connected") {
      connect(!connected);
      connected = true;
    } else if (l.who == "to-source") {
      if (l.type == lp::message_type::stream_reset) {
        const auto s = our_stream[{l.service, l.stream}];
        ws_->push(as_fields(l, s, 0));
        close_stream(clients, l.service, l.stream);
      } else if (l.type == lp::message_type::session_reset) {
        ws_->push(as_fields(l, 0, 0));
        close_stream(clients, "", 0);
      }
    } else if (l.who == "source") {
      switch (l.type) {
        case lp::message_type::stream_start:
        case lp::message_type::connection_start: {
          clients[k] = std::make_unique<tcp::socket>(connect_client(l.service));
          ASSERT_TRUE(run_until([&] { return ws_->sent.size() > consumed_; }));
          const auto& sent = ws_->sent[consumed_];
          ours[k] = {sent.stream_id, sent.connection_id == 0 ? 1 : sent.connection_id};
          our_stream[{l.service, l.stream}] = sent.stream_id;
          expect_sent(l.type, mapped().first, wire_conn(), l.service);
          break;
        }
        case lp::message_type::data: {
          ASSERT_TRUE(clients.contains(k));
          const auto p = payload("src", l);
          write_app(*clients[k], p);
          expect_sent(l.type, mapped().first, wire_conn(), l.service, p);
          break;
        }
        case lp::message_type::connection_reset:
        case lp::message_type::stream_reset:
          ASSERT_TRUE(clients.contains(k));
          clients[k]->close();
          clients.erase(k);
          expect_sent(l.type, mapped().first, wire_conn(), l.service);
          break;
        default: FAIL() << "unexpected line";
      }
    } else if (l.who == "destination") {
      const auto [stream, conn] = mapped();
      ASSERT_NE(stream, -1) << "the script names a connection ours never opened";
      if (l.type == lp::message_type::data) {
        const auto p = payload("dst", l);
        ws_->push(as_fields(l, stream, wire_conn()), p);
        ASSERT_TRUE(clients.contains(k));
        EXPECT_EQ(read_app(*clients[k], p.size()), p);
      } else if (l.type == lp::message_type::connection_reset) {
        // Either the destination's app closed first, or the reference answers our reset with
        // one of its own: the client (if still open) sees the end, and nothing goes back.
        ws_->push(as_fields(l, stream, conn));
        if (clients.contains(k)) {
          expect_closed(*clients[k]);
          clients.erase(k);
        }
      }
    }
  }
  expect_nothing_more();
}

INSTANTIATE_TEST_SUITE_P(Recorded, ReferenceWire, ::testing::ValuesIn(reference_wire::scenarios),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
