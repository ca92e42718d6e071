#include "localproxy/tunnel/stream_table.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "localproxy/tunnel/local_connection.hpp"
#include "localproxy/tunnel/outbox.hpp"

namespace lt = localproxy::tunnel;
namespace lp = localproxy::protocol;
using lp::endpoint_role;
using lp::message_type;
using lt::wire_format;
constexpr auto learned = lt::stream_table::peer_news::learned;
constexpr auto nothing = lt::stream_table::peer_news::none;

namespace {

lt::service_entry service(const std::string& id) {
  lt::service_entry e;
  e.id = id;
  return e;
}

lp::message_view msg(message_type t, std::int32_t stream, std::string_view service_id = {}, std::uint32_t conn = 0) {
  lp::message_view m;
  m.type = t;
  m.stream_id = stream;
  m.service_id = service_id;
  m.has_service_id = !service_id.empty();
  m.connection_id = conn;
  m.has_connection_id = conn != 0;
  return m;
}

// A table with real (unstarted) local connections attached, as the session does.
class Table : public ::testing::Test {
 protected:
  lt::stream_table make(endpoint_role role, wire_format format, std::vector<std::string> ids) {
    lt::stream_table t(role, format, format != wire_format::v3);  // as -y V1/V2 makes them
    std::vector<lt::service_entry> services;
    for (auto& id : ids) services.push_back(service(id));
    t.set_services(std::move(services));
    return t;
  }
  std::shared_ptr<lt::local_connection> attach(lt::stream_table& t, const lt::connection_ref& ref) {
    auto c = std::make_shared<lt::local_connection>(ioc_.get_executor(), ref, "", ref.connection_id, limits_, out_);
    t.attach(ref, c);
    return c;
  }
  lt::connection_ref open(lt::stream_table& t, std::string_view id) {
    auto o = t.open_connection(*t.find(id));
    EXPECT_TRUE(o);
    attach(t, o->ref);
    return o->ref;
  }
  lt::connection_ref start(lt::stream_table& t, const lp::message_view& m) {
    (void)t.learn(m);
    auto s = t.on_start(m, 128);
    EXPECT_NE(s.ref.service, nullptr) << (s.why ? s.why : "");
    if (s.ref.service) attach(t, s.ref);
    return s.ref;
  }

  boost::asio::io_context ioc_;
  lt::connection_limits limits_;
  lt::outbox out_{ioc_.get_executor(), 131076, lp::frame_limits{}};
};

}  // namespace

TEST_F(Table, SourceV3FirstConnectionStartsStreamLaterOnesJoinIt) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH", "WEB"});
  auto a = t.open_connection(*t.find("SSH"));
  auto b = t.open_connection(*t.find("SSH"));
  auto c = t.open_connection(*t.find("WEB"));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->start_type, message_type::stream_start);
  EXPECT_EQ(a->ref.connection_id, 1u);
  EXPECT_EQ(b->start_type, message_type::connection_start);
  EXPECT_EQ(b->ref.stream_id, a->ref.stream_id);
  EXPECT_EQ(b->ref.connection_id, 2u);
  EXPECT_EQ(c->start_type, message_type::stream_start);
  EXPECT_NE(c->ref.stream_id, a->ref.stream_id);  // stream IDs are never reused
  auto f = t.address(message_type::stream_start, a->ref);
  EXPECT_EQ(f.service_id, "SSH");
  EXPECT_EQ(f.connection_id, 1u);  // V3 names connection 1 explicitly
}

TEST_F(Table, SourceOnAnUnnamedTunnelSendsConnectionIdsButNoServiceId) {
  auto t = make(endpoint_role::source, wire_format::v3, {""});
  auto a = open(t, "");
  auto b = t.open_connection(*t.find(""));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->start_type, message_type::connection_start);
  auto f = t.address(message_type::connection_start, b->ref);
  EXPECT_TRUE(f.service_id.empty());
  EXPECT_EQ(f.connection_id, 2u);
  auto reset = t.close_connection(a);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->type, message_type::connection_reset);
  EXPECT_TRUE(t.is_live(b->ref));  // the stream outlives its first connection
}

TEST_F(Table, SourceV2AllowsOneConnectionPerServiceAndResetEndsTheStream) {
  auto t = make(endpoint_role::source, wire_format::v2, {"SSH"});
  auto a = open(t, "SSH");
  EXPECT_FALSE(t.open_connection(*t.find("SSH")));
  auto reset = t.close_connection(a);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->type, message_type::stream_reset);
  EXPECT_EQ(reset->service_id, "SSH");
  EXPECT_EQ(reset->connection_id, 0u);  // V2 carries no connection ID
  EXPECT_FALSE(t.close_connection(a));  // once only
  auto b = t.open_connection(*t.find("SSH"));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->start_type, message_type::stream_start);
  EXPECT_GT(b->ref.stream_id, a.stream_id);
}

TEST_F(Table, SourceV1SendsNoServiceId) {
  auto t = make(endpoint_role::source, wire_format::v1, {"SSH"});
  auto a = open(t, "SSH");
  auto f = t.address(message_type::stream_start, a);
  EXPECT_TRUE(f.service_id.empty());
  EXPECT_EQ(f.connection_id, 0u);
  // messages without a service ID route to the only service
  EXPECT_TRUE(t.route(msg(message_type::data, a.stream_id)));
}

TEST_F(Table, DataRoutesOnlyToTheLiveConnectionItsIdsName) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH", "WEB"});
  auto a = open(t, "SSH");
  auto b = open(t, "SSH");
  auto w = open(t, "WEB");
  auto to = [&](std::int32_t stream, std::string_view id, std::uint32_t conn) {
    auto c = t.route(msg(message_type::data, stream, id, conn));
    return c ? std::optional(c->ref()) : std::nullopt;
  };
  EXPECT_EQ(to(a.stream_id, "SSH", 1)->connection_id, 1u);
  EXPECT_EQ(to(a.stream_id, "SSH", 0)->connection_id, 1u);  // 0 means 1
  EXPECT_EQ(to(b.stream_id, "SSH", 2)->connection_id, 2u);
  EXPECT_EQ(to(w.stream_id, "WEB", 1)->service->id, "WEB");
  EXPECT_FALSE(to(a.stream_id + 7, "SSH", 1));
  EXPECT_FALSE(to(a.stream_id, "SSH", 5));
  EXPECT_FALSE(to(a.stream_id, "NOPE", 1));
  EXPECT_FALSE(to(a.stream_id, "", 1));  // several services: no service ID names none
}

TEST_F(Table, ConnectionResetFromThePeerEndsOnlyThatConnection) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  auto b = open(t, "SSH");
  auto ended = t.reset_by_peer(msg(message_type::connection_reset, a.stream_id, "SSH", 1));
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->ref().connection_id, 1u);
  EXPECT_FALSE(t.is_live(a));
  EXPECT_TRUE(t.is_live(b));
  EXPECT_FALSE(t.reset_by_peer(msg(message_type::connection_reset, a.stream_id, "SSH", 1)));  // the reference echoes
  auto c = t.open_connection(*t.find("SSH"));
  EXPECT_EQ(c->start_type, message_type::connection_start);
  EXPECT_EQ(c->ref.connection_id, 3u);
}

TEST_F(Table, StreamResetEndsAllItsConnectionsOnlyWhenCurrent) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  (void)open(t, "SSH");
  EXPECT_TRUE(t.end_stream(msg(message_type::stream_reset, a.stream_id + 1, "SSH")).empty());
  EXPECT_EQ(t.end_stream(msg(message_type::stream_reset, a.stream_id, "SSH")).size(), 2u);
  EXPECT_EQ(t.live_connections(), 0u);
  EXPECT_EQ(t.open_connection(*t.find("SSH"))->start_type, message_type::stream_start);
}

TEST_F(Table, StreamResetWithoutServiceIdOnANamedTunnelEndsThatStream) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH", "WEB"});
  auto a = open(t, "SSH");
  auto w = open(t, "WEB");
  EXPECT_EQ(t.end_stream(msg(message_type::stream_reset, w.stream_id)).size(), 1u);
  EXPECT_TRUE(t.is_live(a));
  EXPECT_FALSE(t.is_live(w));
}

TEST_F(Table, DestinationLearnsMultiplexingAndNamingApart) {
  struct row {
    const char* name;
    std::string_view service;
    std::uint32_t conn;
    int version;
    bool multiplexed, named;
  };
  for (const auto& r : {row{"V3 unnamed tunnel", "", 1, 3, true, false}, row{"V3 named", "SSH", 1, 3, true, true},
                        row{"V2 named", "SSH", 0, 2, false, true}, row{"V1 or -y V2 unnamed", "", 0, 1, false, false}}) {
    SCOPED_TRACE(r.name);
    auto t = make(endpoint_role::destination, wire_format::v3, {std::string(r.service)});
    EXPECT_FALSE(t.peer().known);
    const auto m = msg(message_type::stream_start, 1, r.service, r.conn);
    EXPECT_EQ(t.learn(m), learned);
    EXPECT_EQ(t.learn(m), nothing);  // once
    EXPECT_EQ(t.peer().version(), r.version);
    EXPECT_EQ(t.peer().multiplexed, r.multiplexed);
    EXPECT_EQ(t.peer().names_services, r.named);
    auto ref = start(t, m);
    EXPECT_EQ(t.address(message_type::data, ref).service_id, r.named ? r.service : "");
    EXPECT_EQ(t.address(message_type::data, ref).connection_id, r.multiplexed ? 1u : 0u);
  }
}

// The conformance bug: a V3 source on a tunnel without services sends no service ID; taking it
// for V1 ended the stream with its first connection, and every later connection hung.
TEST_F(Table, DestinationOnAnUnnamedTunnelKeepsTheStreamAcrossConnections) {
  auto t = make(endpoint_role::destination, wire_format::v3, {""});
  auto first = start(t, msg(message_type::stream_start, 1, "", 1));
  auto reset = t.close_connection(first);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->type, message_type::connection_reset);
  EXPECT_EQ(reset->connection_id, 1u);
  EXPECT_TRUE(reset->service_id.empty());
  for (std::uint32_t id = 2; id <= 9; ++id) {
    auto ref = start(t, msg(message_type::connection_start, 1, "", id));
    EXPECT_EQ(ref.connection_id, id);
    EXPECT_EQ(t.address(message_type::data, ref).connection_id, id);  // never 0: that would mean connection 1
  }
  EXPECT_EQ(t.live_connections(), 8u);
}

TEST_F(Table, DestinationUpgradesToMultiplexedOnAConnectionStart) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  (void)start(t, msg(message_type::stream_start, 1, "SSH"));
  EXPECT_EQ(t.peer().version(), 2);
  EXPECT_EQ(t.learn(msg(message_type::connection_start, 1, "SSH", 2)), learned);
  EXPECT_EQ(t.peer().version(), 3);
}

TEST_F(Table, DestinationForgetsThePeerWithTheSessionNotOnSessionReset) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  (void)start(t, msg(message_type::stream_start, 1, "SSH", 1));
  EXPECT_EQ(t.end_all().size(), 1u);
  EXPECT_TRUE(t.peer().known);
  (void)start(t, msg(message_type::stream_start, 2, "SSH", 2));
  EXPECT_EQ(t.end_session().size(), 1u);
  EXPECT_FALSE(t.peer().known);
  EXPECT_EQ(t.learn(msg(message_type::stream_start, 1, "SSH")), learned);
  EXPECT_EQ(t.peer().version(), 2);
}

TEST_F(Table, DestinationNewStreamStartReplacesTheOldStream) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  (void)start(t, msg(message_type::stream_start, 4, "SSH", 1));
  (void)start(t, msg(message_type::connection_start, 4, "SSH", 2));
  const auto m = msg(message_type::stream_start, 9, "SSH", 1);
  auto third = t.on_start(m, 128);
  EXPECT_EQ(third.replaced.size(), 2u);
  attach(t, third.ref);
  EXPECT_FALSE(t.route(msg(message_type::data, 4, "SSH", 1)));
  EXPECT_TRUE(t.route(msg(message_type::data, 9, "SSH", 1)));
  EXPECT_FALSE(t.answer_unroutable(msg(message_type::data, 4, "SSH", 2)));  // the replaced stream's data in flight
}

TEST_F(Table, DestinationAnswersStartsItCannotHonourForExactlyTheirIds) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  (void)start(t, msg(message_type::stream_start, 4, "SSH", 1));
  auto stale = t.on_start(msg(message_type::connection_start, 3, "SSH", 2), 128);
  EXPECT_EQ(stale.ref.service, nullptr);
  ASSERT_TRUE(stale.refusal);
  EXPECT_EQ(stale.refusal->type, message_type::connection_reset);
  EXPECT_EQ(stale.refusal->stream_id, 3);
  EXPECT_EQ(stale.refusal->connection_id, 2u);
  EXPECT_EQ(stale.refusal->service_id, "SSH");
  auto unknown = t.on_start(msg(message_type::connection_start, 4, "RDP", 2), 128);
  EXPECT_EQ(unknown.ref.service, nullptr);
  ASSERT_TRUE(unknown.refusal);
  EXPECT_EQ(unknown.refusal->service_id, "RDP");
  auto duplicate = t.on_start(msg(message_type::connection_start, 4, "SSH", 1), 128);
  EXPECT_EQ(duplicate.ref.service, nullptr);
  EXPECT_FALSE(duplicate.refusal);  // answering would reset the live connection 1
  EXPECT_TRUE(t.is_live({t.find("SSH"), 4, 1}));
  auto over = t.on_start(msg(message_type::connection_start, 4, "SSH", 2), 1);
  EXPECT_EQ(over.ref.service, nullptr);
  ASSERT_TRUE(over.refusal);
  EXPECT_EQ(over.refusal->connection_id, 2u);
}

TEST_F(Table, DestinationAfterANewSessionTakesUpTheStreamTheSourceGoesOnWith) {
  // The source opened stream 7 and connections up to 4; then this destination's WebSocket was
  // renewed (end_session). The source, which saw nothing of that, joins stream 7 again.
  auto t = make(endpoint_role::destination, wire_format::v3, {""});
  (void)start(t, msg(message_type::stream_start, 7, "", 1));
  (void)start(t, msg(message_type::connection_start, 7, "", 4));
  (void)t.end_session();
  const auto m = msg(message_type::connection_start, 7, "", 5);
  (void)t.learn(m);
  auto s = t.on_start(m, 128);
  ASSERT_NE(s.ref.service, nullptr) << (s.why ? s.why : "");
  EXPECT_TRUE(s.taken_up);
  attach(t, s.ref);
  EXPECT_TRUE(t.route(msg(message_type::data, 7, "", 5)));
  EXPECT_FALSE(s.refusal);
  // A connection of the stream from before: gone with the old session, and answered as such.
  auto gone = t.answer_unroutable(msg(message_type::data, 7, "", 4));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->type, message_type::connection_reset);
  EXPECT_EQ(gone->connection_id, 4u);
  // Taken up once: the next join is an ordinary one.
  auto next = t.on_start(msg(message_type::connection_start, 7, "", 6), 128);
  ASSERT_NE(next.ref.service, nullptr);
  EXPECT_FALSE(next.taken_up);
}

TEST_F(Table, DestinationEndsTheStreamsItLostWithItsWebSocketOnceTheNextSessionStarts) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH", "WEB", "DB"});
  (void)start(t, msg(message_type::stream_start, 3, "SSH", 1));
  (void)start(t, msg(message_type::connection_start, 3, "SSH", 2));
  (void)start(t, msg(message_type::stream_start, 5, "WEB", 1));
  EXPECT_TRUE(t.lost_stream_resets().empty());  // nothing lost yet
  EXPECT_EQ(t.end_session().size(), 3u);
  t.set_services({service("SSH"), service("WEB"), service("DB")});  // the next session's SERVICE_IDS
  auto resets = t.lost_stream_resets();
  ASSERT_EQ(resets.size(), 2u);
  EXPECT_EQ(resets[0].type, message_type::stream_reset);
  EXPECT_EQ(resets[0].stream_id, 3);
  EXPECT_EQ(resets[0].service_id, "SSH");  // named on the wire as the lost session named them
  EXPECT_EQ(resets[1].stream_id, 5);
  EXPECT_EQ(resets[1].service_id, "WEB");
  EXPECT_TRUE(t.lost_stream_resets().empty());  // once
  // A join of a stream this session ended is refused, not taken up: the source is ending it.
  auto late = t.on_start(msg(message_type::connection_start, 3, "SSH", 3), 128);
  EXPECT_EQ(late.ref.service, nullptr);
  EXPECT_FALSE(late.taken_up);
  // A new stream starts as ever.
  EXPECT_NE(start(t, msg(message_type::stream_start, 4, "SSH", 1)).service, nullptr);
}

TEST_F(Table, OnlyADestinationEndsLostStreamsAndOnlyOnTheServiceTheyWereOn) {
  auto src = make(endpoint_role::source, wire_format::v3, {""});
  (void)open(src, "");
  (void)src.end_session();
  EXPECT_TRUE(src.lost_stream_resets().empty());
  auto dst = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  (void)start(dst, msg(message_type::stream_start, 2, "SSH", 1));
  (void)dst.end_session();
  dst.set_services({service("RDP")});  // the tunnel's services changed meanwhile
  EXPECT_TRUE(dst.lost_stream_resets().empty());
}

TEST_F(Table, DestinationTakesUpNoStreamItSawEndNorOneBesideTheCurrent) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  (void)start(t, msg(message_type::stream_start, 2, "SSH", 1));
  ASSERT_FALSE(t.end_stream(msg(message_type::stream_reset, 2, "SSH")).empty());
  // A join that was on its way when the stream ended: refused, as before.
  auto late = t.on_start(msg(message_type::connection_start, 2, "SSH", 2), 128);
  EXPECT_EQ(late.ref.service, nullptr);
  ASSERT_TRUE(late.refusal);
  EXPECT_EQ(late.refusal->type, message_type::connection_reset);
  // With a current stream, a join of another one is stale whatever this session saw.
  (void)start(t, msg(message_type::stream_start, 3, "SSH", 1));
  auto beside = t.on_start(msg(message_type::connection_start, 1, "SSH", 2), 128);
  EXPECT_EQ(beside.ref.service, nullptr);
  EXPECT_FALSE(beside.taken_up);
  EXPECT_TRUE(t.is_live({t.find("SSH"), 3, 1}));
}

TEST_F(Table, DestinationAfterANewSessionAnswersDataOfAnOldConnectionForThatConnectionAlone) {
  auto t = make(endpoint_role::destination, wire_format::v3, {""});
  (void)start(t, msg(message_type::stream_start, 1, "", 1));
  (void)start(t, msg(message_type::connection_start, 1, "", 2));
  (void)t.end_session();  // the peer's version is not known again until a start comes
  auto answer = t.answer_unroutable(msg(message_type::data, 1, "", 2));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->type, message_type::connection_reset);
  EXPECT_EQ(answer->connection_id, 2u);
  // Without a connection ID (V1/V2 data) the answer is the stream's reset, as before.
  auto older = t.answer_unroutable(msg(message_type::data, 3, ""));
  ASSERT_TRUE(older);
  EXPECT_EQ(older->type, message_type::stream_reset);
}

TEST_F(Table, DataForAnUnknownConnectionIsAnsweredOnceAndForAnEndedOneNot) {
  auto t = make(endpoint_role::destination, wire_format::v3, {""});
  auto a = start(t, msg(message_type::stream_start, 1, "", 1));
  auto answer = t.answer_unroutable(msg(message_type::data, 1, "", 5));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->type, message_type::connection_reset);
  EXPECT_EQ(answer->stream_id, 1);
  EXPECT_EQ(answer->connection_id, 5u);
  EXPECT_FALSE(t.answer_unroutable(msg(message_type::data, 1, "", 5)));
  ASSERT_TRUE(t.close_connection(a));
  EXPECT_FALSE(t.answer_unroutable(msg(message_type::data, 1, "", 1)));  // what it had in flight
  EXPECT_FALSE(t.answer_unroutable(msg(message_type::connection_reset, 1, "", 7)));  // a reset is never answered
  EXPECT_FALSE(t.answer_unroutable(msg(message_type::stream_reset, 3)));
}

TEST_F(Table, OneConnectionPeersAreAnsweredWithStreamReset) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  (void)start(t, msg(message_type::stream_start, 1, "SSH"));
  auto answer = t.answer_unroutable(msg(message_type::data, 2, "SSH"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->type, message_type::stream_reset);
  EXPECT_EQ(answer->stream_id, 2);
  EXPECT_EQ(answer->connection_id, 0u);
}

TEST_F(Table, ARestartedSourceMayStartItsStreamIdsAgain) {
  auto t = make(endpoint_role::destination, wire_format::v3, {""});
  (void)start(t, msg(message_type::stream_start, 1, "", 1));
  (void)start(t, msg(message_type::stream_start, 2, "", 2));  // ends stream 1
  auto again = start(t, msg(message_type::stream_start, 1, "", 1));
  EXPECT_TRUE(t.is_live(again));
  EXPECT_TRUE(t.answer_unroutable(msg(message_type::data, 1, "", 3)));  // stream 1 is live again, not ended
}

TEST_F(Table, ALateCallbackDoesNotEndANewerConnectionWithTheSameIds) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  const auto m = msg(message_type::stream_start, 1, "SSH", 1);
  (void)t.learn(m);
  auto s = t.on_start(m, 128);
  auto old_connection = attach(t, s.ref);
  auto s2 = t.on_start(m, 128);  // the same stream started again
  ASSERT_EQ(s2.replaced.size(), 1u);
  auto new_connection = attach(t, s2.ref);
  EXPECT_FALSE(t.close_connection(s.ref, old_connection.get()));
  EXPECT_TRUE(t.is_live(s2.ref));
  EXPECT_TRUE(t.close_connection(s2.ref, new_connection.get()));
}

TEST_F(Table, SessionResetEndsEverything) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH", "WEB"});
  (void)start(t, msg(message_type::stream_start, 1, "SSH", 1));
  (void)start(t, msg(message_type::stream_start, 2, "WEB", 1));
  (void)start(t, msg(message_type::connection_start, 2, "WEB", 2));
  EXPECT_EQ(t.end_all().size(), 3u);
  EXPECT_FALSE(t.route(msg(message_type::data, 1, "SSH", 1)));
  EXPECT_EQ(t.live_connections(), 0u);
}

// ---- a source without -y finds an older destination ------------------------------------------

TEST_F(Table, SourceWithoutYConfirmsV3FromAConnectionIdInTheAnswer) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  auto b = open(t, "SSH");
  EXPECT_EQ(t.learn(msg(message_type::data, a.stream_id, "SSH", 1)), lt::stream_table::peer_news::none);
  EXPECT_TRUE(t.peer().known);
  EXPECT_TRUE(t.peer().multiplexed);
  // Confirmed: a later reset of the stream is just that.
  EXPECT_EQ(t.learn(msg(message_type::stream_reset, a.stream_id, "SSH")), lt::stream_table::peer_news::none);
  EXPECT_TRUE(t.is_live(b));
}

TEST_F(Table, SourceWithoutYSeesAV2DestinationInAnAnswerWithoutConnectionId) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  auto b = open(t, "SSH");  // CONNECTION_START, sent before the answer came
  EXPECT_EQ(t.learn(msg(message_type::data, a.stream_id, "SSH")), lt::stream_table::peer_news::older_peer);
  EXPECT_EQ(t.peer().version(), 2);
  auto refused = t.refuse_joined();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]->ref().connection_id, b.connection_id);
  EXPECT_TRUE(t.is_live(a));
  EXPECT_FALSE(t.is_live(b));
  EXPECT_TRUE(t.route(msg(message_type::data, a.stream_id, "SSH")));
  EXPECT_FALSE(t.open_connection(*t.find("SSH")));  // one connection per service from now on
  EXPECT_EQ(t.learn(msg(message_type::data, a.stream_id, "SSH")), lt::stream_table::peer_news::none);  // once
  auto reset = t.close_connection(a);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->type, message_type::stream_reset);
  auto next = t.open_connection(*t.find("SSH"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->start_type, message_type::stream_start);
  EXPECT_EQ(t.address(message_type::stream_start, next->ref).connection_id, 0u);
  EXPECT_EQ(t.address(message_type::stream_start, next->ref).service_id, "SSH");
}

TEST_F(Table, SourceWithoutYSeesAV1DestinationInAnAnswerWithoutServiceId) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  EXPECT_EQ(t.learn(msg(message_type::data, a.stream_id)), lt::stream_table::peer_news::older_peer);
  EXPECT_EQ(t.peer().version(), 1);
  EXPECT_TRUE(t.refuse_joined().empty());
  EXPECT_TRUE(t.address(message_type::data, a).service_id.empty());
}

TEST_F(Table, SourceWithoutYOnAnUnnamedTunnelSeesV2NotV1) {
  auto t = make(endpoint_role::source, wire_format::v3, {""});
  auto a = open(t, "");
  EXPECT_EQ(t.learn(msg(message_type::data, a.stream_id)), lt::stream_table::peer_news::older_peer);
  EXPECT_EQ(t.peer().version(), 2);
}

TEST_F(Table, SourceWithoutYSeesAnOlderDestinationResetItsConnectionStart) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  auto b = open(t, "SSH");
  // The destination answered the CONNECTION_START it cannot read with a STREAM_RESET: that
  // refuses b alone, a goes on.
  EXPECT_EQ(t.learn(msg(message_type::stream_reset, a.stream_id, "SSH")),
            lt::stream_table::peer_news::older_peer_answer);
  EXPECT_EQ(t.peer().version(), 2);
  EXPECT_EQ(t.refuse_joined().size(), 1u);
  EXPECT_TRUE(t.is_live(a));
  EXPECT_FALSE(t.is_live(b));
  // Data b had in flight is dropped, not answered.
  EXPECT_FALSE(t.answer_unroutable(msg(message_type::data, b.stream_id, "SSH", b.connection_id)));
}

TEST_F(Table, SourceWithoutYTakesAResetOfALoneConnectionAsItsEnd) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  // No CONNECTION_START was sent: a STREAM_RESET without a connection ID says nothing.
  EXPECT_EQ(t.learn(msg(message_type::stream_reset, a.stream_id, "SSH")), lt::stream_table::peer_news::none);
  EXPECT_FALSE(t.peer().known);
  EXPECT_EQ(t.end_stream(msg(message_type::stream_reset, a.stream_id, "SSH")).size(), 1u);
}

TEST_F(Table, SourceWithoutYIgnoresSignsAboutStreamsNotLive) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  EXPECT_EQ(t.learn(msg(message_type::data, a.stream_id + 7, "SSH")), lt::stream_table::peer_news::none);
  EXPECT_FALSE(t.peer().known);
}

TEST_F(Table, SourceToldByYNeverChangesItsFormat) {
  lt::stream_table t(endpoint_role::source, wire_format::v3, true);
  t.set_services({service("SSH")});
  auto a = open(t, "SSH");
  EXPECT_EQ(t.learn(msg(message_type::data, a.stream_id, "SSH")), lt::stream_table::peer_news::none);
  EXPECT_EQ(t.peer().version(), 3);
}

TEST_F(Table, DestinationGivenYAnswersAConnectionStartWithAStreamReset) {
  lt::stream_table t(endpoint_role::destination, wire_format::v1, true);
  t.set_services({service("SSH")});
  auto a = start(t, msg(message_type::stream_start, 3, "SSH", 1));
  EXPECT_EQ(t.peer().version(), 1);  // learns nothing: it is the older proxy
  auto s = t.on_start(msg(message_type::connection_start, 3, "SSH", 2), 128);
  EXPECT_EQ(s.ref.service, nullptr);
  ASSERT_TRUE(s.refusal);
  EXPECT_EQ(s.refusal->type, message_type::stream_reset);
  EXPECT_EQ(s.refusal->stream_id, 3);
  EXPECT_TRUE(s.refusal->service_id.empty());  // V1: no service IDs
  EXPECT_TRUE(t.is_live(a));
  EXPECT_EQ(t.address(message_type::data, a).connection_id, 0u);
}

TEST_F(Table, CountsOpenedAndRefusedConnectionsPerServiceAcrossAChangeOfServices) {
  lt::stream_table t(endpoint_role::source, wire_format::v2, true);
  t.set_services({service("SSH"), service("WEB")});
  (void)open(t, "SSH");
  EXPECT_FALSE(t.open_connection(*t.find("SSH")));  // V2: one at a time
  EXPECT_EQ(t.find("SSH")->counters.opened, 1u);
  EXPECT_EQ(t.find("SSH")->counters.refused, 1u);
  EXPECT_EQ(t.find("WEB")->counters.opened, 0u);
  (void)t.end_all();
  t.set_services({service("SSH")});
  EXPECT_EQ(t.find("SSH")->counters.opened, 1u);  // the same service keeps its counters
}

TEST_F(Table, DestinationCountsStartsItHonoursAndRefuses) {
  auto t = make(endpoint_role::destination, wire_format::v3, {"SSH"});
  (void)start(t, msg(message_type::stream_start, 1, "SSH", 1));
  (void)start(t, msg(message_type::connection_start, 1, "SSH", 2));
  (void)t.on_start(msg(message_type::connection_start, 9, "SSH", 3), 128);  // not the current stream
  EXPECT_EQ(t.find("SSH")->counters.opened, 2u);
  EXPECT_EQ(t.find("SSH")->counters.refused, 1u);
}

TEST_F(Table, SourceWithoutYTakesTheLateAnswerToARefusedConnectionStartForWhatItIs) {
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  (void)open(t, "SSH");  // CONNECTION_START in flight when the answer without connection ID comes
  EXPECT_EQ(t.learn(msg(message_type::data, a.stream_id, "SSH")), lt::stream_table::peer_news::older_peer);
  EXPECT_EQ(t.refuse_joined().size(), 1u);
  // The older destination's STREAM_RESET for that CONNECTION_START: not the end of a.
  EXPECT_EQ(t.learn(msg(message_type::stream_reset, a.stream_id, "SSH")), lt::stream_table::peer_news::answer);
  EXPECT_TRUE(t.is_live(a));
  // The next one is.
  EXPECT_EQ(t.learn(msg(message_type::stream_reset, a.stream_id, "SSH")), lt::stream_table::peer_news::none);
  EXPECT_EQ(t.end_stream(msg(message_type::stream_reset, a.stream_id, "SSH")).size(), 1u);
}

TEST_F(Table, SourceWithoutYGoesBackToV3WhenAResetWasAV3DestinationEndingTheStream) {
  // The reference 3.3.1 answers each start whose application it cannot reach with a STREAM_RESET.
  auto t = make(endpoint_role::source, wire_format::v3, {"SSH"});
  auto a = open(t, "SSH");
  (void)open(t, "SSH");
  (void)open(t, "SSH");
  EXPECT_EQ(t.learn(msg(message_type::stream_reset, a.stream_id, "SSH")),
            lt::stream_table::peer_news::older_peer_answer);
  EXPECT_EQ(t.refuse_joined().size(), 2u);
  EXPECT_FALSE(t.peer().known);  // to be confirmed
  EXPECT_EQ(t.learn(msg(message_type::stream_reset, a.stream_id, "SSH")), lt::stream_table::peer_news::answer);
  EXPECT_EQ(t.learn(msg(message_type::stream_reset, a.stream_id, "SSH")), lt::stream_table::peer_news::none);
  EXPECT_EQ(t.end_stream(msg(message_type::stream_reset, a.stream_id, "SSH")).size(), 1u);
  // The next start still names its connection; a V3 destination sends the ID back.
  auto next = t.open_connection(*t.find("SSH"));
  ASSERT_TRUE(next);
  EXPECT_EQ(t.address(message_type::stream_start, next->ref).connection_id, 1u);
  attach(t, next->ref);
  EXPECT_EQ(t.learn(msg(message_type::data, next->ref.stream_id, "SSH", 1)), learned);
  EXPECT_EQ(t.peer().version(), 3);
  EXPECT_TRUE(t.peer().known);
  EXPECT_TRUE(t.open_connection(*t.find("SSH")));  // many connections again
}
