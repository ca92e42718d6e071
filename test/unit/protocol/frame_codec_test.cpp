#include "localproxy/protocol/frame_codec.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "message.pb.h"

namespace lp = localproxy::protocol;
namespace pb = com::amazonaws::iot::securedtunneling;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<std::uint8_t> frame_of(const pb::Message& m) {
  std::string body = m.SerializeAsString();
  std::vector<std::uint8_t> out(2 + body.size());
  out[0] = static_cast<std::uint8_t>(body.size() >> 8);
  out[1] = static_cast<std::uint8_t>(body.size() & 0xFF);
  std::copy(body.begin(), body.end(), out.begin() + 2);
  return out;
}

pb::Message parse_frame(std::span<const std::uint8_t> frame) {
  EXPECT_GE(frame.size(), 2u);
  const std::size_t len = (std::size_t{frame[0]} << 8) | frame[1];
  EXPECT_EQ(len + 2, frame.size());
  pb::Message m;
  EXPECT_TRUE(m.ParseFromArray(frame.data() + 2, static_cast<int>(len)));
  return m;
}

struct collected {
  lp::message_type type;
  std::int32_t stream_id;
  std::string payload;
  std::string service_id;
  std::uint32_t connection_id;
  bool has_service_id;
  bool has_connection_id;
};

std::vector<collected> decode_all(lp::frame_decoder& d, std::span<const std::uint8_t> bytes,
                                  lp::decode_error& err) {
  std::vector<collected> out;
  err = d.feed(bytes, [&](const lp::message_view& m) {
    out.push_back({m.type, m.stream_id, std::string(m.payload.begin(), m.payload.end()),
                   std::string(m.service_id), m.connection_id, m.has_service_id, m.has_connection_id});
  });
  return out;
}

}  // namespace

TEST(FrameCodec, ControlFrameMatchesProtobuf) {
  std::vector<std::uint8_t> out;
  lp::message_fields f;
  f.type = lp::message_type::stream_start;
  f.stream_id = 7;
  f.service_id = "SSH1";
  f.connection_id = 1;
  ASSERT_EQ(lp::encode_frame(f, {}, {}, out), lp::encode_error::none);
  auto m = parse_frame(out);
  EXPECT_EQ(m.type(), pb::Message::STREAM_START);
  EXPECT_EQ(m.streamid(), 7);
  EXPECT_EQ(m.serviceid(), "SSH1");
  EXPECT_EQ(m.connectionid(), 1u);
}

TEST(FrameCodec, ServiceIdsListRoundTrip) {
  std::vector<std::string> ids{"SSH", "WEB", "RDP"};
  std::vector<std::uint8_t> out;
  lp::message_fields f;
  f.type = lp::message_type::service_ids;
  f.available_service_ids = ids;
  ASSERT_EQ(lp::encode_frame(f, {}, {}, out), lp::encode_error::none);
  lp::frame_decoder d;
  std::vector<std::string> seen;
  ASSERT_EQ(d.feed(out, [&](const lp::message_view& m) {
              for (auto s : m.available_service_ids) seen.emplace_back(s);
            }),
            lp::decode_error::none);
  EXPECT_EQ(seen, ids);
}

TEST(FrameCodec, DataHeaderInPlaceMatchesProtobuf) {
  for (std::size_t size : {0u, 1u, 127u, 128u, 16383u, 16384u, 64512u}) {
    std::vector<std::uint8_t> buf(lp::data_header_max + size);
    for (std::size_t i = 0; i < size; ++i) buf[lp::data_header_max + i] = static_cast<std::uint8_t>(i * 31);
    auto frame = lp::encode_data_header(std::span(buf).subspan(lp::data_header_max, size), 300, "WEB", 70000, {});
    ASSERT_FALSE(frame.empty()) << size;
    auto m = parse_frame(frame);
    EXPECT_EQ(m.type(), pb::Message::DATA);
    EXPECT_EQ(m.streamid(), 300);
    EXPECT_EQ(m.serviceid(), "WEB");
    EXPECT_EQ(m.connectionid(), 70000u);
    ASSERT_EQ(m.payload().size(), size);
    EXPECT_EQ(m.payload(), std::string(buf.begin() + lp::data_header_max, buf.end()));
  }
}

TEST(FrameCodec, DataHeaderWithoutOptionalFields) {
  std::vector<std::uint8_t> buf(lp::data_header_max + 3, 'x');
  auto frame = lp::encode_data_header(std::span(buf).subspan(lp::data_header_max), 1, "", 0, {});
  auto m = parse_frame(frame);
  EXPECT_EQ(m.serviceid(), "");
  EXPECT_EQ(m.connectionid(), 0u);
  EXPECT_EQ(m.payload(), "xxx");
}

TEST(FrameCodec, OversizePayloadRejectedByEncoders) {
  std::vector<std::uint8_t> big(64513);
  std::vector<std::uint8_t> out;
  lp::message_fields f;
  f.type = lp::message_type::data;
  f.stream_id = 1;
  EXPECT_EQ(lp::encode_frame(f, big, {}, out),
            lp::encode_error::payload_too_large);
  std::vector<std::uint8_t> buf(lp::data_header_max + 64513);
  EXPECT_TRUE(lp::encode_data_header(std::span(buf).subspan(lp::data_header_max), 1, "", 0, {}).empty());
}

TEST(FrameDecoder, OneByteAtATimeAndRandomSlices) {
  std::mt19937 rng(42);
  std::vector<std::uint8_t> stream;
  std::vector<pb::Message> sent;
  for (int i = 0; i < 200; ++i) {
    pb::Message m;
    m.set_type(i % 5 == 0 ? pb::Message::STREAM_START : pb::Message::DATA);
    m.set_streamid(i + 1);
    m.set_serviceid(i % 2 ? "SSH" : "");
    m.set_connectionid(static_cast<std::uint32_t>(i % 3));
    std::string payload(rng() % 3000, '\0');
    for (auto& c : payload) c = static_cast<char>(rng());
    m.set_payload(payload);
    auto f = frame_of(m);
    stream.insert(stream.end(), f.begin(), f.end());
    sent.push_back(m);
  }
  for (int mode = 0; mode < 2; ++mode) {
    lp::frame_decoder d;
    std::vector<collected> got;
    std::size_t at = 0;
    while (at < stream.size()) {
      std::size_t n = mode == 0 ? 1 : 1 + rng() % 5000;
      n = std::min(n, stream.size() - at);
      lp::decode_error err;
      auto part = decode_all(d, std::span(stream).subspan(at, n), err);
      ASSERT_EQ(err, lp::decode_error::none);
      got.insert(got.end(), part.begin(), part.end());
      at += n;
    }
    EXPECT_FALSE(d.mid_frame());
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(static_cast<int>(got[i].type), sent[i].type());
      EXPECT_EQ(got[i].stream_id, sent[i].streamid());
      EXPECT_EQ(got[i].payload, sent[i].payload());
      EXPECT_EQ(got[i].service_id, sent[i].serviceid());
      EXPECT_EQ(got[i].connection_id, sent[i].connectionid());
      EXPECT_EQ(got[i].has_service_id, !sent[i].serviceid().empty());
      EXPECT_EQ(got[i].has_connection_id, sent[i].connectionid() != 0);
    }
  }
}

TEST(FrameDecoder, FrameLengthOverLimit) {
  lp::frame_decoder d({.max_payload = 64512, .max_frame = 1000});
  std::vector<std::uint8_t> bytes{0x03, 0xE9};  // 1001
  lp::decode_error err;
  decode_all(d, bytes, err);
  EXPECT_EQ(err, lp::decode_error::frame_too_large);
  // split length prefix too
  lp::frame_decoder d2({.max_payload = 64512, .max_frame = 1000});
  decode_all(d2, std::span(bytes).first(1), err);
  EXPECT_EQ(err, lp::decode_error::none);
  decode_all(d2, std::span(bytes).subspan(1), err);
  EXPECT_EQ(err, lp::decode_error::frame_too_large);
}

TEST(FrameDecoder, Garbage) {
  lp::frame_decoder d;
  lp::decode_error err;
  decode_all(d, bytes_of(std::string("\x00\x03\xff\xff\xff", 5)), err);
  EXPECT_EQ(err, lp::decode_error::unparseable);
  // a later feed keeps reporting the error
  decode_all(d, bytes_of("ab"), err);
  EXPECT_EQ(err, lp::decode_error::unparseable);
}

TEST(FrameDecoder, ZeroType) {
  pb::Message m;
  m.set_streamid(1);
  lp::frame_decoder d;
  lp::decode_error err;
  decode_all(d, frame_of(m), err);
  EXPECT_EQ(err, lp::decode_error::zero_type);
}

TEST(FrameDecoder, PayloadOverLimit) {
  pb::Message m;
  m.set_type(pb::Message::DATA);
  m.set_streamid(1);
  m.set_payload(std::string(2000, 'a'));
  lp::frame_decoder d({.max_payload = 1000, .max_frame = 65535});
  lp::decode_error err;
  decode_all(d, frame_of(m), err);
  EXPECT_EQ(err, lp::decode_error::payload_too_large);
}

TEST(FrameDecoder, UnknownFieldsSkippedWrongWireTypeRejected) {
  pb::Message m;
  m.set_type(pb::Message::DATA);
  m.set_streamid(5);
  auto f = frame_of(m);
  // append field 9 (varint) = 1 and fix the length
  f.push_back(9 << 3);
  f.push_back(1);
  f[1] = static_cast<std::uint8_t>(f.size() - 2);
  lp::frame_decoder d;
  lp::decode_error err;
  auto got = decode_all(d, f, err);
  EXPECT_EQ(err, lp::decode_error::none);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].stream_id, 5);
  // field 2 (streamId) sent as length-delimited
  std::vector<std::uint8_t> bad{0x00, 0x05, 0x08, 0x01, 0x12, 0x01, 0x05};
  lp::frame_decoder d2;
  decode_all(d2, bad, err);
  EXPECT_EQ(err, lp::decode_error::unparseable);
}

TEST(FrameDecoder, AKeyLongerThanFiveBytesIsRefusedAsProtobufRefusesIt) {
  // Field 1 (type) as a key padded to 5 bytes is read; padded to 6 (found by fuzz_frame_decoder:
  // protobuf-lite refuses it), it is not.
  lp::frame_decoder d;
  lp::decode_error err;
  auto got = decode_all(d, std::vector<std::uint8_t>{0x00, 0x0b, 0x88, 0x80, 0x80, 0x80, 0x00, 0x01, 0x10, 0x01, 0x22, 0x01, 'x'}, err);
  EXPECT_EQ(err, lp::decode_error::none);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, lp::message_type::data);
  lp::frame_decoder d2;
  decode_all(d2, std::vector<std::uint8_t>{0x00, 0x0c, 0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x10, 0x01, 0x22, 0x01, 'x'}, err);
  EXPECT_EQ(err, lp::decode_error::unparseable);
}

TEST(FrameDecoder, TruncatedVarintAndLengthPastEnd) {
  lp::frame_decoder d;
  lp::decode_error err;
  decode_all(d, std::vector<std::uint8_t>{0x00, 0x02, 0x08, 0x80}, err);
  EXPECT_EQ(err, lp::decode_error::unparseable);
  lp::frame_decoder d2;
  decode_all(d2, std::vector<std::uint8_t>{0x00, 0x04, 0x08, 0x01, 0x22, 0x05}, err);
  EXPECT_EQ(err, lp::decode_error::unparseable);
}
