#include "localproxy/protocol/rules.hpp"

#include <gtest/gtest.h>

namespace lp = localproxy::protocol;
using lp::endpoint_role;
using lp::message_type;
using lp::rule_violation;

namespace {
lp::message_view msg(message_type t, std::int32_t stream = 1) {
  lp::message_view m;
  m.type = t;
  m.stream_id = stream;
  return m;
}
}  // namespace

TEST(Rules, StreamTypedNeedStreamId) {
  for (auto t : {message_type::data, message_type::stream_start, message_type::stream_reset,
                 message_type::connection_start, message_type::connection_reset}) {
    EXPECT_EQ(lp::check_sent_by(endpoint_role::source, msg(t, 0)), rule_violation::missing_stream_id);
    EXPECT_EQ(lp::check_received_by(endpoint_role::destination, msg(t, 0)), rule_violation::missing_stream_id);
  }
  EXPECT_EQ(lp::check_received_by(endpoint_role::source, msg(message_type::session_reset, 0)), rule_violation::none);
  EXPECT_EQ(lp::check_received_by(endpoint_role::source, msg(message_type::service_ids, 0)), rule_violation::none);
}

TEST(Rules, WhoMaySendWhat) {
  EXPECT_EQ(lp::check_sent_by(endpoint_role::destination, msg(message_type::stream_start)),
            rule_violation::start_from_destination);
  EXPECT_EQ(lp::check_sent_by(endpoint_role::destination, msg(message_type::connection_start)),
            rule_violation::start_from_destination);
  EXPECT_EQ(lp::check_sent_by(endpoint_role::source, msg(message_type::stream_start)), rule_violation::none);
  EXPECT_EQ(lp::check_sent_by(endpoint_role::source, msg(message_type::session_reset, 0)),
            rule_violation::service_only_type);
  EXPECT_EQ(lp::check_sent_by(endpoint_role::destination, msg(message_type::service_ids, 0)),
            rule_violation::service_only_type);
  EXPECT_EQ(lp::check_received_by(endpoint_role::source, msg(message_type::stream_start)),
            rule_violation::start_from_destination);
  EXPECT_EQ(lp::check_received_by(endpoint_role::destination, msg(message_type::stream_start)), rule_violation::none);
}

TEST(Rules, UnknownTypes) {
  auto m = msg(static_cast<message_type>(42));
  EXPECT_EQ(lp::check_received_by(endpoint_role::source, m), rule_violation::unknown_type);
  EXPECT_FALSE(lp::should_skip(m));
  m.ignorable = true;
  EXPECT_EQ(lp::check_received_by(endpoint_role::source, m), rule_violation::none);
  EXPECT_TRUE(lp::should_skip(m));
  EXPECT_FALSE(lp::should_skip(msg(message_type::data)));
}

TEST(Rules, ServiceIdMustBeKnown) {
  auto m = msg(message_type::data);
  m.service_id = "RDP";
  auto known = [](std::string_view s) { return s == "SSH"; };
  EXPECT_EQ(lp::check_sent_by(endpoint_role::source, m, known), rule_violation::unknown_service_id);
  m.service_id = "SSH";
  EXPECT_EQ(lp::check_sent_by(endpoint_role::source, m, known), rule_violation::none);
}

TEST(Rules, EffectiveConnectionId) {
  auto m = msg(message_type::data);
  EXPECT_EQ(lp::effective_connection_id(m), 1u);
  m.connection_id = 9;
  EXPECT_EQ(lp::effective_connection_id(m), 9u);
}
