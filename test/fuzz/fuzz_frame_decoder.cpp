// The frame decoder fed a byte stream cut into WebSocket messages anywhere (empty messages too).
// Input: one byte (low 4 bits: the number N of cuts; bits 4-5: the limits), N 16-bit cut offsets,
// then the stream.
// Checks: however the stream is cut, the decoder hands out the same messages and stops with the
// same error as when it gets the stream whole; every message it accepts parses the same with
// protobuf-lite; what it accepts re-encodes (encode_frame, encode_data_header) to the same message.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "localproxy/protocol/frame_codec.hpp"
#include "message.pb.h"

namespace {

namespace lp = localproxy::protocol;
namespace pb = com::amazonaws::iot::securedtunneling;

struct decoded {
  lp::message_type type;
  std::int32_t stream_id;
  bool ignorable;
  std::string payload;
  std::string service_id;
  std::vector<std::string> available;
  std::uint32_t connection_id;
  bool has_service_id;
  bool has_connection_id;
  bool operator==(const decoded&) const = default;
};

decoded copy(const lp::message_view& m) {
  return {m.type,
          m.stream_id,
          m.ignorable,
          std::string(m.payload.begin(), m.payload.end()),
          std::string(m.service_id),
          std::vector<std::string>(m.available_service_ids.begin(), m.available_service_ids.end()),
          m.connection_id,
          m.has_service_id,
          m.has_connection_id};
}

std::string show(const decoded& d) {
  std::string s = "type " + std::to_string(static_cast<int>(d.type)) + " stream " + std::to_string(d.stream_id) +
                  " service '" + fuzz::printable(d.service_id) + "' connection " + std::to_string(d.connection_id) +
                  " payload " + std::to_string(d.payload.size()) + " ids " + std::to_string(d.available.size());
  return s;
}

bool ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Whether every occurrence of a string field (serviceId, availableServiceIds) in a body that the
// decoder accepted is ASCII; a later occurrence replaces an earlier one, which protobuf still checks.
bool string_fields_ascii(std::span<const std::uint8_t> body) {
  std::size_t i = 0;
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && i < body.size(); shift += 7) {
      const auto b = body[i++];
      v |= std::uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  while (i < body.size()) {
    std::uint64_t key = 0, v = 0;
    if (!varint(key)) return true;
    switch (key & 7) {
      case 0: if (!varint(v)) return true; break;
      case 1: i += 8; break;
      case 5: i += 4; break;
      case 2: {
        if (!varint(v) || v > body.size() - i) return true;
        const auto field = key >> 3;
        if ((field == 5 || field == 6) && !ascii({reinterpret_cast<const char*>(body.data() + i), v})) return false;
        i += v;
        break;
      }
      default: return true;
    }
  }
  return true;
}

// protobuf-lite must read every body the hand-written parser accepts, to the same fields. (It is
// stricter about one thing: proto3 strings must be UTF-8.)
void compare_with_protobuf(std::span<const std::uint8_t> body, const decoded& d) {
  pb::Message msg;
  const bool parsed = msg.ParseFromArray(body.data(), static_cast<int>(body.size()));
  const bool strings_ascii = string_fields_ascii(body);
  if (!parsed) {
    fuzz::check(!strings_ascii, "protobuf rejects a body the decoder accepted: " + show(d));
    return;
  }
  fuzz::check(static_cast<std::int32_t>(msg.type()) == static_cast<std::int32_t>(d.type), "type differs: " + show(d));
  fuzz::check(msg.streamid() == d.stream_id, "stream ID differs: " + show(d));
  fuzz::check(msg.ignorable() == d.ignorable, "ignorable differs: " + show(d));
  fuzz::check(msg.payload() == d.payload, "payload differs: " + show(d));
  fuzz::check(msg.serviceid() == d.service_id, "service ID differs: " + show(d));
  fuzz::check(msg.connectionid() == d.connection_id, "connection ID differs: " + show(d));
  fuzz::check(static_cast<std::size_t>(msg.availableserviceids_size()) == d.available.size(),
              "service ID list differs: " + show(d));
  for (int i = 0; i < msg.availableserviceids_size(); ++i)
    fuzz::check(msg.availableserviceids(i) == d.available[static_cast<std::size_t>(i)],
                "service ID list differs: " + show(d));
}

decoded decode_one(std::span<const std::uint8_t> frame, const char* what) {
  lp::frame_decoder decoder;
  std::vector<decoded> out;
  const auto err = decoder.feed(frame, [&](const lp::message_view& m) { out.push_back(copy(m)); });
  fuzz::check(err == lp::decode_error::none && out.size() == 1 && !decoder.mid_frame(),
              std::string(what) + " wrote a frame that does not decode as one message: " +
                  std::string(lp::describe(err)));
  return out.front();
}

// What the decoder accepted, sent again: encode_frame for control messages, the in-place
// encode_data_header for DATA, then decoded again.
void round_trip(const decoded& d) {
  if (!lp::is_known(d.type) || d.service_id.size() > lp::max_service_id_size) return;
  const auto payload = std::span(reinterpret_cast<const std::uint8_t*>(d.payload.data()), d.payload.size());
  if (d.type == lp::message_type::data) {
    std::vector<std::uint8_t> buffer(lp::data_header_max + payload.size());
    std::copy(payload.begin(), payload.end(), buffer.begin() + lp::data_header_max);
    auto frame = lp::encode_data_header(std::span(buffer).subspan(lp::data_header_max), d.stream_id, d.service_id,
                                        d.connection_id, {});
    if (frame.empty()) return;  // over the frame limit with this header: refused, not mangled
    fuzz::check(frame.data() >= buffer.data(), "encode_data_header wrote in front of its buffer");
    const auto again = decode_one(frame, "encode_data_header");
    fuzz::check(again.type == d.type && again.stream_id == d.stream_id && again.payload == d.payload &&
                    again.service_id == d.service_id && again.connection_id == d.connection_id && !again.ignorable,
                "encode_data_header changed the message: " + show(d) + " -> " + show(again));
    return;
  }
  lp::message_fields f;
  f.type = d.type;
  f.stream_id = d.stream_id;
  f.ignorable = d.ignorable;
  f.service_id = d.service_id;
  f.connection_id = d.connection_id;
  f.available_service_ids = d.available;
  std::vector<std::uint8_t> frame;
  if (lp::encode_frame(f, payload, {}, frame) != lp::encode_error::none) return;
  const auto again = decode_one(frame, "encode_frame");
  fuzz::check(again.type == d.type && again.stream_id == d.stream_id && again.payload == d.payload &&
                  again.service_id == d.service_id && again.connection_id == d.connection_id &&
                  again.ignorable == d.ignorable && again.available == d.available,
              "encode_frame changed the message: " + show(d) + " -> " + show(again));
}

struct outcome {
  std::vector<decoded> messages;
  lp::decode_error error = lp::decode_error::none;
  bool mid_frame = false;
};

outcome feed_in_pieces(std::span<const std::uint8_t> stream, const std::vector<std::size_t>& cuts,
                       const lp::frame_limits& limits) {
  lp::frame_decoder decoder(limits);
  outcome out;
  std::size_t at = 0;
  auto feed = [&](std::span<const std::uint8_t> piece) {
    const auto e = decoder.feed(piece, [&](const lp::message_view& m) { out.messages.push_back(copy(m)); });
    if (e != lp::decode_error::none && out.error == lp::decode_error::none) out.error = e;
    // Once failed, it stays failed and hands out nothing more.
    if (out.error != lp::decode_error::none)
      fuzz::check(e == out.error, "the decoder recovered from an error without reset()");
  };
  for (const auto cut : cuts) {
    feed(stream.subspan(at, cut - at));
    at = cut;
  }
  feed(stream.subspan(at));
  out.mid_frame = decoder.mid_frame();
  return out;
}

}  // namespace

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::cursor in(data, size);
  const auto first = in.byte();
  const std::size_t n_cuts = first & 0x0F;
  // The defaults, the smallest the settings allow, and limits where the frame is the tighter one.
  static constexpr lp::frame_limits choices[] = {{64512, 65535}, {1024, 1024}, {2000, 1500}, {64512, 1024}};
  const auto limits = choices[(first >> 4) & 3];
  std::vector<std::uint16_t> raw_cuts;
  for (std::size_t i = 0; i < n_cuts; ++i) raw_cuts.push_back(in.u16());
  const auto stream = in.rest();
  std::vector<std::size_t> cuts;
  for (auto c : raw_cuts) cuts.push_back(stream.empty() ? 0 : c % (stream.size() + 1));
  std::sort(cuts.begin(), cuts.end());  // equal cuts make empty WebSocket messages

  // The reference: the whole stream at once, with each accepted body checked on its own.
  lp::frame_decoder whole(limits);
  outcome expected;
  std::size_t offset = 0;
  expected.error = whole.feed(stream, [&](const lp::message_view& m) {
    auto d = copy(m);
    // A frame whole inside the slice is parsed in place: find its body to hand to protobuf.
    const std::size_t length = (std::size_t{stream[offset]} << 8) | stream[offset + 1];
    compare_with_protobuf(stream.subspan(offset + 2, length), d);
    round_trip(d);
    offset += 2 + length;
    expected.messages.push_back(std::move(d));
  });
  expected.mid_frame = whole.mid_frame();
  fuzz::check(expected.error != lp::decode_error::none || expected.mid_frame == (offset != stream.size()),
              "mid_frame() disagrees with the bytes left over");

  const auto pieces = feed_in_pieces(stream, cuts, limits);
  fuzz::check(pieces.messages.size() == expected.messages.size(),
              "cutting the stream changed the number of messages: " + std::to_string(expected.messages.size()) +
                  " whole, " + std::to_string(pieces.messages.size()) + " in pieces");
  for (std::size_t i = 0; i < pieces.messages.size(); ++i)
    fuzz::check(pieces.messages[i] == expected.messages[i],
                "cutting the stream changed message " + std::to_string(i) + ": " + show(expected.messages[i]) +
                    " whole, " + show(pieces.messages[i]) + " in pieces");
  fuzz::check(pieces.error == expected.error, "cutting the stream changed the error: " +
                                                  std::string(lp::describe(expected.error)) + " whole, " +
                                                  std::string(lp::describe(pieces.error)) + " in pieces");
  if (expected.error == lp::decode_error::none)
    fuzz::check(pieces.mid_frame == expected.mid_frame, "cutting the stream changed mid_frame()");
  return 0;
}
