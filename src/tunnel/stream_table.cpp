#include "localproxy/tunnel/stream_table.hpp"

#include <algorithm>

#include "localproxy/tunnel/local_connection.hpp"

namespace localproxy::tunnel {

using protocol::message_type;

std::string describe_connection(const connection_ref& c) {
  std::string text = c.service && !c.service->id.empty() ? "service " + c.service->id : std::string("the service");
  return text + " stream " + std::to_string(c.stream_id) + " connection " + std::to_string(c.connection_id);
}

namespace {
peer_facts told_by(protocol::endpoint_role role, wire_format format, bool forced) {
  if (role == protocol::endpoint_role::destination && !forced) return peer_facts{false, false, false};
  return peer_facts{format == wire_format::v3, format != wire_format::v1, forced};
}

// How many connections joined the service's stream with CONNECTION_START (all but the first).
std::uint32_t joined_connections(const service_entry& s) {
  return static_cast<std::uint32_t>(s.connections.size() - s.connections.count(1));
}
}  // namespace

stream_table::stream_table(protocol::endpoint_role role, wire_format format, bool format_forced)
    : role_(role), forced_(format_forced), told_(told_by(role, format, format_forced)), peer_(told_) {}

void stream_table::set_services(std::vector<service_entry> services) {
  for (auto& s : services)
    for (const auto& old : services_)
      if (old.id == s.id) s.counters = old.counters;
  services_ = std::move(services);
}

void stream_table::retire(service_entry& s, const local_connection* c) noexcept {
  if (c) s.counters.bytes_to_tunnel += c->bytes_from_local();
}

service_entry* stream_table::find(std::string_view service_id) noexcept {
  if (service_id.empty()) return services_.size() == 1 ? &services_.front() : nullptr;
  for (auto& s : services_)
    if (s.id == service_id) return &s;
  return nullptr;
}

stream_table::peer_news stream_table::learn(const protocol::message_view& m) {
  if (forced_) return peer_news::none;
  if (role_ == protocol::endpoint_role::source) return learn_from_destination(m);
  const bool starts = m.type == message_type::stream_start || m.type == message_type::connection_start;
  // A connection ID, or a message only V3 has, proves the peer multiplexes connections.
  const bool multiplexes = m.connection_id != 0 || m.type == message_type::connection_start ||
                           m.type == message_type::connection_reset;
  const bool names = m.has_service_id && !m.service_id.empty();
  if (!peer_.known) {
    if (!starts) return peer_news::none;
    peer_ = peer_facts{multiplexes, names, true};
    return peer_news::learned;
  }
  const auto before = peer_;
  peer_.multiplexed = peer_.multiplexed || multiplexes;
  peer_.names_services = peer_.names_services || names;
  const bool changed = before.multiplexed != peer_.multiplexed || before.names_services != peer_.names_services;
  return changed ? peer_news::learned : peer_news::none;
}

stream_table::peer_news stream_table::learn_from_destination(const protocol::message_view& m) {
  // Only what the destination says about a live stream of ours tells its version: a reset the
  // service sends, or stale data, carries no such sign.
  service_entry* s = find(m.service_id);
  if (!s || s->stream_id == 0 || m.stream_id != s->stream_id) return peer_news::none;
  if (!peer_.multiplexed && m.type == message_type::stream_reset && s->unanswered_joins > 0) {
    --s->unanswered_joins;
    return peer_news::answer;
  }
  if (peer_.known) return peer_news::none;
  if (m.connection_id != 0 || m.type == message_type::connection_reset) {
    // V3 confirmed: connection IDs come back (also after a reset taken for an older proxy's).
    const bool was_down = !peer_.multiplexed;
    peer_ = peer_facts{true, peer_.names_services, true};
    return was_down ? peer_news::learned : peer_news::none;
  }
  // A V3 destination on an unnamed tunnel sends no service ID either: only on a named one does
  // its absence say V1.
  const bool names = !(m.service_id.empty() && !s->id.empty());
  const bool first_sign = peer_.multiplexed;
  if (m.type == message_type::data && s->connections.contains(1)) {
    peer_ = peer_facts{false, names, true};
    if (first_sign) expect_join_answers(nullptr);
    return first_sign ? peer_news::older_peer : peer_news::none;
  }
  if (m.type != message_type::stream_reset || joined_connections(*s) == 0) return peer_news::none;
  // A STREAM_RESET of a stream with CONNECTION_STARTs: an older proxy answering what it cannot
  // read, or a V3 one ending the stream (the reference does so when its application cannot be
  // reached). Taken for the former until the next answer tells: starts go on carrying
  // connection IDs, which a V3 destination sends back.
  peer_ = peer_facts{false, names, false};
  expect_join_answers(s);
  return s->connections.contains(1) ? peer_news::older_peer_answer : peer_news::older_peer;
}

void stream_table::expect_join_answers(const service_entry* answered) {
  for (auto& e : services_) {
    const auto joins = joined_connections(e);
    e.unanswered_joins = joins - (&e == answered && joins > 0 ? 1 : 0);
  }
}

std::vector<std::shared_ptr<local_connection>> stream_table::refuse_joined() {
  std::vector<std::shared_ptr<local_connection>> refused;
  for (auto& s : services_)
    for (auto it = s.connections.begin(); it != s.connections.end();) {
      if (it->first == 1) {
        ++it;
        continue;
      }
      remember(&s, s.stream_id, it->first);
      retire(s, it->second.get());
      ++s.counters.refused;
      if (it->second) refused.push_back(std::move(it->second));
      it = s.connections.erase(it);
    }
  return refused;
}

std::optional<stream_table::opened> stream_table::open_connection(service_entry& s) {
  if (s.stream_id == 0) {
    s.stream_id = next_stream_id_++;
    s.next_connection_id = 2;
    s.connections = {{1, nullptr}};
    ++s.counters.opened;
    return opened{{&s, s.stream_id, 1}, message_type::stream_start};
  }
  if (!peer_.multiplexed) {
    ++s.counters.refused;
    return std::nullopt;
  }
  const auto id = s.next_connection_id++;
  s.connections.emplace(id, nullptr);
  ++s.counters.opened;
  return opened{{&s, s.stream_id, id}, message_type::connection_start};
}

stream_table::started stream_table::on_start(const protocol::message_view& m, std::size_t max_connections) {
  started result;
  service_entry* s = find(m.service_id);
  const auto connection_id = protocol::effective_connection_id(m);
  auto refuse = [&](const char* why) {
    result.why = why;
    result.refusal = answer_unroutable(m);
    return result;
  };
  if (!s) return refuse("the tunnel has no such service here");
  const auto refuse_for = [&](const char* why) {
    ++s->counters.refused;
    return refuse(why);
  };
  if (m.type == message_type::stream_start) {
    result.replaced = end_current_stream(*s);
    // A stream ID may come again (a restarted source counts from 1): it is a new stream.
    std::erase_if(ended_, [&](const ended_key& k) { return k.service == s && k.stream_id == m.stream_id; });
    s->stream_id = m.stream_id;
    s->connections = {{connection_id, nullptr}};
    s->next_connection_id = connection_id + 1;
  } else {
    // A destination given -y V1/V2 is the older proxy it stands for: it answers as they do.
    if (!peer_.multiplexed) return refuse_for("this destination speaks one connection per stream (-y)");
    if (m.stream_id != s->stream_id) {
      // A destination started again (a crash, a restart) knows nothing of the stream the source
      // goes on with, and a service may not reset it at the source: take it up, or no connection
      // of the source would be carried again. Not a stream this session saw end (a start that
      // was on its way then, or one lost_stream_resets() ended), nor one beside the current one.
      if (s->stream_id != 0 || remembered(s, m.stream_id, 0)) return refuse_for("its stream is not the current one");
      s->stream_id = m.stream_id;
      s->connections.clear();
      s->next_connection_id = connection_id + 1;
      result.taken_up = true;
    }
    if (s->connections.contains(connection_id)) {
      result.why = "that connection is already open";
      return result;
    }
    if (s->connections.size() >= max_connections) return refuse_for("tcp.max_active_connections is reached");
    s->connections.emplace(connection_id, nullptr);
  }
  ++s->counters.opened;
  result.ref = {s, m.stream_id, connection_id};
  return result;
}

void stream_table::attach(const connection_ref& c, std::shared_ptr<local_connection> connection) {
  if (!c.service || c.service->stream_id != c.stream_id) return;
  if (auto it = c.service->connections.find(c.connection_id); it != c.service->connections.end())
    it->second = std::move(connection);
}

std::shared_ptr<local_connection> stream_table::route(const protocol::message_view& m) {
  service_entry* s = find(m.service_id);
  if (!s || s->stream_id == 0 || m.stream_id != s->stream_id) return nullptr;
  auto it = s->connections.find(protocol::effective_connection_id(m));
  return it == s->connections.end() ? nullptr : it->second;
}

std::shared_ptr<local_connection> stream_table::reset_by_peer(const protocol::message_view& m) {
  service_entry* s = find(m.service_id);
  if (!s || s->stream_id == 0 || m.stream_id != s->stream_id) return nullptr;
  const auto connection_id = protocol::effective_connection_id(m);
  auto it = s->connections.find(connection_id);
  if (it == s->connections.end()) return nullptr;
  auto connection = std::move(it->second);
  s->connections.erase(it);
  retire(*s, connection.get());
  remember(s, m.stream_id, connection_id);
  return connection;
}

std::vector<std::shared_ptr<local_connection>> stream_table::end_current_stream(service_entry& s) {
  std::vector<std::shared_ptr<local_connection>> ended;
  if (s.stream_id == 0) return ended;
  for (auto& [id, connection] : s.connections) {
    retire(s, connection.get());
    if (connection) ended.push_back(std::move(connection));
  }
  s.connections.clear();
  s.unanswered_joins = 0;
  remember(&s, s.stream_id, 0);
  s.stream_id = 0;
  return ended;
}

std::vector<std::shared_ptr<local_connection>> stream_table::end_stream(const protocol::message_view& m) {
  std::vector<std::shared_ptr<local_connection>> ended;
  // A reset without a service ID on a tunnel with several services names the stream alone.
  const bool any_service = m.service_id.empty() && services_.size() > 1;
  for (auto& s : services_) {
    if (!(any_service || &s == find(m.service_id)) || s.stream_id == 0 || s.stream_id != m.stream_id) continue;
    auto some = end_current_stream(s);
    ended.insert(ended.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return ended;
}

std::vector<std::shared_ptr<local_connection>> stream_table::end_all() {
  std::vector<std::shared_ptr<local_connection>> ended;
  for (auto& s : services_) {
    auto some = end_current_stream(s);
    ended.insert(ended.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return ended;
}

std::vector<std::shared_ptr<local_connection>> stream_table::end_session() {
  lost_.clear();
  if (role_ == protocol::endpoint_role::destination)
    for (const auto& s : services_)
      if (s.stream_id != 0) lost_.push_back({s.id, s.stream_id, !wire_service_id(s).empty()});
  auto ended = end_all();
  ended_.clear();
  peer_ = told_;
  return ended;
}

std::vector<protocol::message_fields> stream_table::lost_stream_resets() {
  std::vector<protocol::message_fields> resets;
  for (const auto& lost : lost_) {
    service_entry* s = find(lost.service_id);
    if (!s || s->id != lost.service_id) continue;  // the tunnel's services changed meanwhile
    remember(s, lost.stream_id, 0);
    protocol::message_fields f;
    f.type = message_type::stream_reset;
    f.stream_id = lost.stream_id;
    if (lost.named) f.service_id = s->id;
    resets.push_back(f);
  }
  lost_.clear();
  return resets;
}

bool stream_table::is_live(const connection_ref& c) const noexcept {
  return c.service && c.service->stream_id == c.stream_id && c.service->connections.contains(c.connection_id);
}

std::optional<protocol::message_fields> stream_table::close_connection(const connection_ref& c,
                                                                     const local_connection* expected) {
  if (!is_live(c)) return std::nullopt;
  auto& live = c.service->connections.at(c.connection_id);
  if (expected && live.get() != expected) return std::nullopt;
  retire(*c.service, live.get());
  c.service->connections.erase(c.connection_id);
  remember(c.service, c.stream_id, c.connection_id);
  if (peer_.multiplexed) return address(message_type::connection_reset, c);
  // V1/V2 carry one connection per stream: its end is the stream's end.
  (void)end_current_stream(*c.service);
  return address(message_type::stream_reset, c);
}

std::optional<protocol::message_fields> stream_table::answer_unroutable(const protocol::message_view& m) {
  if (m.type != message_type::data && m.type != message_type::stream_start && m.type != message_type::connection_start)
    return std::nullopt;  // a reset is never answered: the reference answers ours with one of its own
  const service_entry* s = find(m.service_id);
  const auto connection_id = protocol::effective_connection_id(m);
  // Data for what already ended is what the peer had in flight. A start is always answered:
  // behind it a client waits.
  if (m.type == message_type::data && (remembered(s, m.stream_id, 0) || remembered(s, m.stream_id, connection_id)))
    return std::nullopt;
  remember(s, m.stream_id, connection_id);
  protocol::message_fields f;
  f.stream_id = m.stream_id;
  f.service_id = forced_ && !peer_.names_services ? std::string_view{} : m.service_id;
  // Before any start of this session told what the peer speaks (data of a connection from before
  // the WebSocket was renewed), a connection ID says V3: a STREAM_RESET would end all of the
  // stream's connections at the source, and look like an older proxy's answer.
  const bool names_connection = !peer_.known && !forced_ && m.connection_id != 0;
  if (peer_.multiplexed || names_connection) {
    f.type = message_type::connection_reset;
    f.connection_id = connection_id;
  } else {
    f.type = message_type::stream_reset;
  }
  return f;
}

void stream_table::remember(const service_entry* s, std::int32_t stream_id, std::uint32_t connection_id) {
  // Not looked up first: a connection ends once, so a key comes twice only when a start for what
  // already ended is refused, and the copy costs a slot, where a look-up would cost every close a
  // pass over the whole list.
  if (ended_.size() >= max_remembered) ended_.pop_front();
  ended_.push_back({s, stream_id, connection_id});
}

bool stream_table::remembered(const service_entry* s, std::int32_t stream_id, std::uint32_t connection_id) const {
  return std::any_of(ended_.begin(), ended_.end(), [&](const ended_key& k) {
    return k.service == s && k.stream_id == stream_id && k.connection_id == connection_id;
  });
}

std::size_t stream_table::live_connections() const noexcept {
  std::size_t n = 0;
  for (const auto& s : services_) n += s.connections.size();
  return n;
}

std::string_view stream_table::wire_service_id(const service_entry& s) const noexcept {
  return peer_.names_services ? std::string_view{s.id} : std::string_view{};
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
