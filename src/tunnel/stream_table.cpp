#include "localproxy/tunnel/stream_table.hpp"

#include <algorithm>

namespace localproxy::tunnel {

using protocol::message_type;

std::string describe_connection(const connection_ref& c) {
  std::string text = c.service && !c.service->id.empty() ? "service " + c.service->id : std::string("the service");
  return text + " stream " + std::to_string(c.stream_id) + " connection " + std::to_string(c.connection_id);
}

service_entry* stream_table::find(std::string_view service_id) noexcept {
  if (service_id.empty()) return services_.size() == 1 ? &services_.front() : nullptr;
  for (auto& s : services_)
    if (s.id == service_id) return &s;
  return nullptr;
}

service_entry* stream_table::for_message(const protocol::message_view& m) noexcept {
  return find(m.service_id);
}

std::optional<stream_table::opened> stream_table::open_connection(service_entry& s) {
  if (s.stream_id == 0) {
    s.stream_id = next_stream_id_++;
    s.next_connection_id = 2;
    s.connections = {1};
    return opened{{&s, s.stream_id, 1}, message_type::stream_start};
  }
  if (format_ != wire_format::v3) return std::nullopt;
  const auto id = s.next_connection_id++;
  s.connections.insert(id);
  return opened{{&s, s.stream_id, id}, message_type::connection_start};
}

stream_table::started stream_table::on_start(const protocol::message_view& m) {
  started result;
  if (!format_detected_) {
    // The peer's first start tells what it speaks: no service ID = V1, no connection ID = V2.
    format_ = !m.has_service_id ? wire_format::v1 : !m.has_connection_id ? wire_format::v2 : wire_format::v3;
    format_detected_ = true;
    result.detected = format_;
  }
  service_entry* s = for_message(m);
  if (!s) return result;
  const auto connection_id = protocol::effective_connection_id(m);
  if (m.type == message_type::stream_start) {
    if (s->stream_id != 0)
      result.replaced.assign(s->connections.begin(), s->connections.end());
    s->stream_id = m.stream_id;
    s->connections = {connection_id};
    s->next_connection_id = connection_id + 1;
  } else {
    if (m.stream_id != s->stream_id || s->connections.contains(connection_id)) return result;
    s->connections.insert(connection_id);
  }
  result.ref = {s, m.stream_id, connection_id};
  return result;
}

std::optional<connection_ref> stream_table::route(const protocol::message_view& m) {
  service_entry* s = for_message(m);
  if (!s || s->stream_id == 0 || m.stream_id != s->stream_id) return std::nullopt;
  const auto connection_id = protocol::effective_connection_id(m);
  if (!s->connections.contains(connection_id)) return std::nullopt;
  return connection_ref{s, s->stream_id, connection_id};
}

std::vector<connection_ref> stream_table::end_stream(const protocol::message_view& m) {
  std::vector<connection_ref> ended;
  service_entry* s = for_message(m);
  if (!s || s->stream_id == 0 || m.stream_id != s->stream_id) return ended;
  for (auto id : s->connections) ended.push_back({s, s->stream_id, id});
  s->connections.clear();
  s->stream_id = 0;
  return ended;
}

std::vector<connection_ref> stream_table::end_all() {
  std::vector<connection_ref> ended;
  for (auto& s : services_) {
    for (auto id : s.connections) ended.push_back({&s, s.stream_id, id});
    s.connections.clear();
    s.stream_id = 0;
  }
  if (role_ == protocol::endpoint_role::destination) format_detected_ = false;
  return ended;
}

bool stream_table::is_live(const connection_ref& c) const noexcept {
  return c.service && c.service->stream_id == c.stream_id && c.service->connections.contains(c.connection_id);
}

void stream_table::forget_connection(const connection_ref& c) {
  if (!is_live(c)) return;
  c.service->connections.erase(c.connection_id);
  // V1/V2 carry one connection per stream: its end is the stream's end.
  if (format_ != wire_format::v3) c.service->stream_id = 0;
}

protocol::message_fields stream_table::close_connection(const connection_ref& c) {
  forget_connection(c);
  return address(format_ == wire_format::v3 ? message_type::connection_reset : message_type::stream_reset, c);
}

std::string_view stream_table::wire_service_id(const service_entry& s) const noexcept {
  return format_ == wire_format::v1 ? std::string_view{} : std::string_view{s.id};
}

protocol::message_fields stream_table::address(message_type type, const connection_ref& c) const {
  protocol::message_fields f;
  f.type = type;
  f.stream_id = c.stream_id;
  if (c.service) f.service_id = wire_service_id(*c.service);
  f.connection_id = wire_connection_id(c.connection_id);
  return f;
}

}  // namespace localproxy::tunnel
