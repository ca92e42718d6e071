#include "localproxy/tunnel/stream_table.hpp"

#include <gtest/gtest.h>

namespace lt = localproxy::tunnel;
namespace lp = localproxy::protocol;
using lp::endpoint_role;
using lp::message_type;
using lt::wire_format;

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

}  // namespace

TEST(StreamTableSource, V3FirstConnectionStartsStreamLaterOnesJoinIt) {
  lt::stream_table t(endpoint_role::source, wire_format::v3);
  t.set_services({service("SSH"), service("WEB")});
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

TEST(StreamTableSource, V2AllowsOneConnectionPerServiceAndResetEndsTheStream) {
  lt::stream_table t(endpoint_role::source, wire_format::v2);
  t.set_services({service("SSH")});
  auto a = t.open_connection(*t.find("SSH"));
  ASSERT_TRUE(a);
  EXPECT_FALSE(t.open_connection(*t.find("SSH")));
  auto reset = t.close_connection(a->ref);
  EXPECT_EQ(reset.type, message_type::stream_reset);
  EXPECT_EQ(reset.service_id, "SSH");
  EXPECT_EQ(reset.connection_id, 0u);  // V2 carries no connection ID
  auto b = t.open_connection(*t.find("SSH"));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->start_type, message_type::stream_start);
  EXPECT_GT(b->ref.stream_id, a->ref.stream_id);
}

TEST(StreamTableSource, V1SendsNoServiceId) {
  lt::stream_table t(endpoint_role::source, wire_format::v1);
  t.set_services({service("SSH")});
  auto a = t.open_connection(*t.find("SSH"));
  ASSERT_TRUE(a);
  auto f = t.address(message_type::stream_start, a->ref);
  EXPECT_TRUE(f.service_id.empty());
  EXPECT_EQ(f.connection_id, 0u);
  // messages without a service ID route to the only service
  EXPECT_TRUE(t.route(msg(message_type::data, a->ref.stream_id)));
}

TEST(StreamTableSource, StaleDataAndUnknownConnectionsAreDropped) {
  lt::stream_table t(endpoint_role::source, wire_format::v3);
  t.set_services({service("SSH")});
  auto a = t.open_connection(*t.find("SSH"));
  EXPECT_TRUE(t.route(msg(message_type::data, a->ref.stream_id, "SSH", 1)));
  EXPECT_TRUE(t.route(msg(message_type::data, a->ref.stream_id, "SSH", 0)));  // 0 means 1
  EXPECT_FALSE(t.route(msg(message_type::data, a->ref.stream_id + 7, "SSH", 1)));
  EXPECT_FALSE(t.route(msg(message_type::data, a->ref.stream_id, "SSH", 5)));
  EXPECT_FALSE(t.route(msg(message_type::data, a->ref.stream_id, "NOPE", 1)));
}

TEST(StreamTableSource, ConnectionResetIsNotEchoedAndStreamGoesOn) {
  lt::stream_table t(endpoint_role::source, wire_format::v3);
  t.set_services({service("SSH")});
  auto a = t.open_connection(*t.find("SSH"));
  auto b = t.open_connection(*t.find("SSH"));
  auto routed = t.route(msg(message_type::connection_reset, a->ref.stream_id, "SSH", 1));
  ASSERT_TRUE(routed);
  t.forget_connection(*routed);
  EXPECT_FALSE(t.is_live(a->ref));
  EXPECT_TRUE(t.is_live(b->ref));
  auto c = t.open_connection(*t.find("SSH"));
  EXPECT_EQ(c->start_type, message_type::connection_start);
  EXPECT_EQ(c->ref.connection_id, 3u);
}

TEST(StreamTableSource, StreamResetEndsAllItsConnectionsOnlyWhenCurrent) {
  lt::stream_table t(endpoint_role::source, wire_format::v3);
  t.set_services({service("SSH")});
  auto a = t.open_connection(*t.find("SSH"));
  (void)t.open_connection(*t.find("SSH"));
  EXPECT_TRUE(t.end_stream(msg(message_type::stream_reset, a->ref.stream_id + 1, "SSH")).empty());
  EXPECT_EQ(t.end_stream(msg(message_type::stream_reset, a->ref.stream_id, "SSH")).size(), 2u);
  EXPECT_EQ(t.open_connection(*t.find("SSH"))->start_type, message_type::stream_start);
}

TEST(StreamTableDestination, DetectsPeerFormatFromFirstStart) {
  {
    lt::stream_table t(endpoint_role::destination, wire_format::v3);
    t.set_services({service("SSH")});
    auto s = t.on_start(msg(message_type::stream_start, 1));
    ASSERT_TRUE(s.detected);
    EXPECT_EQ(*s.detected, wire_format::v1);
    EXPECT_TRUE(t.address(message_type::stream_reset, s.ref).service_id.empty());
  }
  {
    lt::stream_table t(endpoint_role::destination, wire_format::v3);
    t.set_services({service("SSH")});
    auto s = t.on_start(msg(message_type::stream_start, 1, "SSH"));
    EXPECT_EQ(*s.detected, wire_format::v2);
    EXPECT_EQ(t.close_connection(s.ref).type, message_type::stream_reset);
  }
  {
    lt::stream_table t(endpoint_role::destination, wire_format::v3);
    t.set_services({service("SSH")});
    auto s = t.on_start(msg(message_type::stream_start, 1, "SSH", 1));
    EXPECT_EQ(*s.detected, wire_format::v3);
    EXPECT_FALSE(t.on_start(msg(message_type::stream_start, 2, "SSH", 1)).detected);  // once per session
    auto reset = t.close_connection({s.ref.service, 2, 1});
    EXPECT_EQ(reset.type, message_type::connection_reset);
    EXPECT_EQ(reset.connection_id, 1u);
  }
}

TEST(StreamTableDestination, NewStreamStartReplacesTheOldStream) {
  lt::stream_table t(endpoint_role::destination, wire_format::v3);
  t.set_services({service("SSH")});
  auto first = t.on_start(msg(message_type::stream_start, 4, "SSH", 1));
  auto second = t.on_start(msg(message_type::connection_start, 4, "SSH", 2));
  ASSERT_NE(second.ref.service, nullptr);
  auto third = t.on_start(msg(message_type::stream_start, 9, "SSH", 1));
  EXPECT_EQ(third.replaced, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_FALSE(t.route(msg(message_type::data, 4, "SSH", 1)));
  EXPECT_TRUE(t.route(msg(message_type::data, 9, "SSH", 1)));
  (void)first;
}

TEST(StreamTableDestination, ConnectionStartForStaleStreamOrUnknownServiceIsIgnored) {
  lt::stream_table t(endpoint_role::destination, wire_format::v3);
  t.set_services({service("SSH")});
  (void)t.on_start(msg(message_type::stream_start, 4, "SSH", 1));
  EXPECT_EQ(t.on_start(msg(message_type::connection_start, 3, "SSH", 2)).ref.service, nullptr);
  EXPECT_EQ(t.on_start(msg(message_type::connection_start, 4, "RDP", 2)).ref.service, nullptr);
  EXPECT_EQ(t.on_start(msg(message_type::connection_start, 4, "SSH", 1)).ref.service, nullptr);  // duplicate
}

TEST(StreamTableDestination, SessionResetEndsEverything) {
  lt::stream_table t(endpoint_role::destination, wire_format::v3);
  t.set_services({service("SSH"), service("WEB")});
  (void)t.on_start(msg(message_type::stream_start, 1, "SSH", 1));
  (void)t.on_start(msg(message_type::stream_start, 2, "WEB", 1));
  (void)t.on_start(msg(message_type::connection_start, 2, "WEB", 2));
  EXPECT_EQ(t.end_all().size(), 3u);
  EXPECT_FALSE(t.route(msg(message_type::data, 1, "SSH", 1)));
}
