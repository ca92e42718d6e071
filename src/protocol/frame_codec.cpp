#include "localproxy/protocol/frame_codec.hpp"

#include <algorithm>
#include <cstring>

#include "message.pb.h"

namespace localproxy::protocol {
namespace {

namespace pb = com::amazonaws::iot::securedtunneling;

// Protobuf wire types and the field numbers of Message.
enum wire : std::uint32_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };
enum field : std::uint32_t {
  f_type = 1, f_stream_id = 2, f_ignorable = 3, f_payload = 4,
  f_service_id = 5, f_available_service_ids = 6, f_connection_id = 7
};

class reader {
 public:
  explicit reader(std::span<const std::uint8_t> b) : p_(b.data()), end_(b.data() + b.size()) {}
  [[nodiscard]] bool done() const { return p_ == end_; }

  // A varint of at most max_bytes bytes (10 hold any 64-bit value; a field's key, a 32-bit tag,
  // takes at most 5, and protobuf refuses a longer one even when its value is small).
  bool read_varint(std::uint64_t& v, int max_bytes = 10) {
    v = 0;
    for (int shift = 0; shift < 7 * max_bytes; shift += 7) {
      if (p_ == end_) return false;
      const std::uint8_t byte = *p_++;
      v |= std::uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80u) == 0) return true;
    }
    return false;
  }
  bool read_bytes(std::span<const std::uint8_t>& out) {
    std::uint64_t n = 0;
    if (!read_varint(n) || n > static_cast<std::uint64_t>(end_ - p_)) return false;
    out = {p_, static_cast<std::size_t>(n)};
    p_ += n;
    return true;
  }
  bool skip(std::uint32_t wire_type) {
    std::uint64_t ignored = 0;
    std::span<const std::uint8_t> bytes;
    switch (wire_type) {
      case varint: return read_varint(ignored);
      case length_delimited: return read_bytes(bytes);
      case fixed64: return advance(8);
      case fixed32: return advance(4);
      default: return false;  // groups are not part of this schema
    }
  }

 private:
  bool advance(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

std::string_view as_text(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) {
  while (v >= 0x80) { *p++ = static_cast<std::uint8_t>(v | 0x80); v >>= 7; }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

constexpr std::uint8_t tag(std::uint32_t field_number, std::uint32_t wire_type) {
  return static_cast<std::uint8_t>((field_number << 3) | wire_type);
}

}  // namespace

std::string_view type_name(message_type t) noexcept {
  switch (t) {
    case message_type::unknown: return "UNKNOWN";
    case message_type::data: return "DATA";
    case message_type::stream_start: return "STREAM_START";
    case message_type::stream_reset: return "STREAM_RESET";
    case message_type::session_reset: return "SESSION_RESET";
    case message_type::service_ids: return "SERVICE_IDS";
    case message_type::connection_start: return "CONNECTION_START";
    case message_type::connection_reset: return "CONNECTION_RESET";
  }
  return "UNRECOGNIZED";
}

bool is_known(message_type t) noexcept {
  const auto v = static_cast<std::int32_t>(t);
  return v >= 1 && v <= 7;
}

std::string_view describe(decode_error e) noexcept {
  switch (e) {
    case decode_error::none: return "no error";
    case decode_error::frame_too_large: return "frame length over the limit";
    case decode_error::unparseable: return "message cannot be parsed";
    case decode_error::zero_type: return "message type is zero";
    case decode_error::payload_too_large: return "payload over the limit";
  }
  return "unknown decode error";
}

decode_error parse_message(std::span<const std::uint8_t> body, const frame_limits& limits, message_view& out) {
  out.type = message_type::unknown;
  out.stream_id = 0;
  out.ignorable = false;
  out.payload = {};
  out.service_id = {};
  out.available_service_ids.clear();
  out.connection_id = 0;
  out.has_service_id = false;
  out.has_connection_id = false;

  reader in(body);
  while (!in.done()) {
    std::uint64_t key = 0;
    if (!in.read_varint(key, 5) || key > 0xFFFFFFFFu || (key >> 3) == 0) return decode_error::unparseable;
    const auto number = static_cast<std::uint32_t>(key >> 3);
    const auto wire_type = static_cast<std::uint32_t>(key & 7u);
    const bool known = number >= f_type && number <= f_connection_id;
    const bool length_field = number == f_payload || number == f_service_id || number == f_available_service_ids;
    if (!known) {
      if (!in.skip(wire_type)) return decode_error::unparseable;
      continue;
    }
    if (wire_type != (length_field ? length_delimited : varint)) return decode_error::unparseable;
    if (length_field) {
      std::span<const std::uint8_t> bytes;
      if (!in.read_bytes(bytes)) return decode_error::unparseable;
      if (number == f_payload) out.payload = bytes;
      else if (number == f_service_id) { out.service_id = as_text(bytes); out.has_service_id = true; }
      else out.available_service_ids.push_back(as_text(bytes));
      continue;
    }
    std::uint64_t v = 0;
    if (!in.read_varint(v)) return decode_error::unparseable;
    switch (number) {
      case f_type: out.type = static_cast<message_type>(static_cast<std::int32_t>(v)); break;
      case f_stream_id: out.stream_id = static_cast<std::int32_t>(v); break;
      case f_ignorable: out.ignorable = v != 0; break;
      default: out.connection_id = static_cast<std::uint32_t>(v); out.has_connection_id = true; break;
    }
  }
  if (out.type == message_type::unknown) return decode_error::zero_type;
  if (out.payload.size() > limits.max_payload) return decode_error::payload_too_large;
  return decode_error::none;
}

encode_error encode_frame(const message_fields& m, std::span<const std::uint8_t> payload,
                          const frame_limits& limits, std::vector<std::uint8_t>& out) {
  if (payload.size() > limits.max_payload) return encode_error::payload_too_large;
  if (m.type == message_type::unknown || m.service_id.size() > max_service_id_size)
    return encode_error::bad_field;
  pb::Message msg;
  msg.set_type(static_cast<pb::Message_Type>(m.type));
  msg.set_streamid(m.stream_id);
  msg.set_ignorable(m.ignorable);
  if (!payload.empty()) msg.set_payload(payload.data(), payload.size());
  if (!m.service_id.empty()) msg.set_serviceid(m.service_id.data(), m.service_id.size());
  for (const auto& id : m.available_service_ids) msg.add_availableserviceids(id);
  msg.set_connectionid(m.connection_id);

  const std::size_t size = msg.ByteSizeLong();
  if (size > limits.max_frame || size > 0xFFFF) return encode_error::frame_too_large;
  const std::size_t at = out.size();
  out.resize(at + 2 + size);
  out[at] = static_cast<std::uint8_t>(size >> 8);
  out[at + 1] = static_cast<std::uint8_t>(size & 0xFF);
  msg.SerializeWithCachedSizesToArray(out.data() + at + 2);
  return encode_error::none;
}

std::span<std::uint8_t> encode_data_header(std::span<std::uint8_t> payload, std::int32_t stream_id,
                                           std::string_view service_id, std::uint32_t connection_id,
                                           const frame_limits& limits) {
  if (payload.size() > limits.max_payload || service_id.size() > max_service_id_size) return {};
  // Field order on the wire is free in protobuf; putting the payload last lets it stay where the
  // reader put it, with the header written just in front.
  std::uint8_t header[data_header_max];
  std::uint8_t* p = header + 2;
  *p++ = tag(f_type, varint);
  *p++ = static_cast<std::uint8_t>(message_type::data);
  if (stream_id != 0) {
    *p++ = tag(f_stream_id, varint);
    p = put_varint(p, static_cast<std::uint64_t>(static_cast<std::int64_t>(stream_id)));
  }
  if (!service_id.empty()) {
    *p++ = tag(f_service_id, length_delimited);
    p = put_varint(p, service_id.size());
    std::memcpy(p, service_id.data(), service_id.size());
    p += service_id.size();
  }
  if (connection_id != 0) {
    *p++ = tag(f_connection_id, varint);
    p = put_varint(p, connection_id);
  }
  if (!payload.empty()) {
    *p++ = tag(f_payload, length_delimited);
    p = put_varint(p, payload.size());
  }
  const std::size_t header_size = static_cast<std::size_t>(p - header);
  const std::size_t body_size = header_size - 2 + payload.size();
  if (body_size > limits.max_frame || body_size > 0xFFFF) return {};
  header[0] = static_cast<std::uint8_t>(body_size >> 8);
  header[1] = static_cast<std::uint8_t>(body_size & 0xFF);
  std::uint8_t* start = payload.data() - header_size;
  std::memcpy(start, header, header_size);
  return {start, header_size + payload.size()};
}

std::size_t frame_decoder::partial_length() const noexcept {
  return partial_.size() < 2 ? 0 : (std::size_t{partial_[0]} << 8) | partial_[1];
}

std::size_t frame_decoder::fill_partial(std::span<const std::uint8_t> bytes) noexcept {
  // One copy, no zero-fill first (as resize + memcpy did).
  auto append = [this](std::span<const std::uint8_t> part) { partial_.insert(partial_.end(), part.begin(), part.end()); };
  std::size_t used = 0;
  if (partial_.size() < 2) {
    used = std::min(bytes.size(), 2 - partial_.size());
    append(bytes.first(used));
    if (partial_.size() < 2 || partial_length() > limits_.max_frame) return used;
  }
  const std::size_t more = std::min(bytes.size() - used, 2 + partial_length() - partial_.size());
  append(bytes.subspan(used, more));
  return used + more;
}

bool frame_decoder::partial_complete() const noexcept {
  return partial_.size() >= 2 && partial_.size() == 2 + partial_length();
}

}  // namespace localproxy::protocol
