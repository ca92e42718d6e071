// The session's dispatch with a scripted service: the input is decoded into a script of tunnel
// messages (type, stream ID, service ID, connection ID from small sets so that they meet; payload),
// WebSocket message boundaries, local socket actions and bounded runs of the io_context, played
// against a destination session (mapped to listeners this target opens, or to nothing) or a source
// session (local clients adopted through tunnel_session::adopt).
// Checks: no crash, no sanitizer report, no exception out of the io_context; live connections
// never exceed tcp.max_active_connections per service and their queues stay bounded; everything
// the session sends decodes and keeps the rules the service enforces; once the WebSocket is lost
// the session ends, forgets every connection and all its work finishes.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include "fuzz_common.hpp"
#include "localproxy/protocol/frame_codec.hpp"
#include "localproxy/protocol/rules.hpp"
#include "localproxy/tunnel/async_event.hpp"
#include "localproxy/tunnel/session.hpp"
#include "localproxy/tunnel/tunnel.hpp"
#include "scripted_websocket.hpp"

namespace {

namespace asio = boost::asio;
namespace lp = localproxy::protocol;
namespace lt = localproxy::tunnel;
namespace lc = localproxy::config;
using generic_socket = asio::generic::stream_protocol::socket;
using std::chrono::milliseconds;

constexpr std::size_t max_ws_message = 131076;  // what the real transport lets through (read_message_max)
constexpr std::size_t max_active = 3;           // tcp.max_active_connections, small so that it is reached
constexpr std::size_t queue_limit = 4096;       // tcp.connection_buffer_size, small so that it is reached

// ---- a protobuf writer that can also put zero-valued fields on the wire ----------------------

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_varint_field(std::vector<std::uint8_t>& out, unsigned field, std::uint64_t v) {
  put_varint(out, field << 3);
  put_varint(out, v);
}
void put_bytes_field(std::vector<std::uint8_t>& out, unsigned field, std::string_view b) {
  put_varint(out, (field << 3) | 2);
  put_varint(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

struct script_message {
  std::int32_t type = 1;
  std::optional<std::int32_t> stream_id;
  bool ignorable = false;
  std::optional<std::string> service_id;
  std::optional<std::uint32_t> connection_id;
  std::vector<std::string> available;
  std::string payload;
};

void append_frame(std::vector<std::uint8_t>& stream, const script_message& m) {
  std::vector<std::uint8_t> body;
  put_varint_field(body, 1, static_cast<std::uint64_t>(static_cast<std::int64_t>(m.type)));
  if (m.stream_id) put_varint_field(body, 2, static_cast<std::uint64_t>(static_cast<std::int64_t>(*m.stream_id)));
  if (m.ignorable) put_varint_field(body, 3, 1);
  if (!m.payload.empty()) put_bytes_field(body, 4, m.payload);
  if (m.service_id) put_bytes_field(body, 5, *m.service_id);
  for (const auto& id : m.available) put_bytes_field(body, 6, id);
  if (m.connection_id) put_varint_field(body, 7, *m.connection_id);
  if (body.size() > 0xFFFF) return;
  stream.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  stream.push_back(static_cast<std::uint8_t>(body.size() & 0xFF));
  stream.insert(stream.end(), body.begin(), body.end());
}

// ---- the small sets the script picks its IDs from --------------------------------------------

const std::array<std::int32_t, 8> stream_ids{1, 2, 3, 4, 0, -1, 0x7FFFFFFF, 5};
const std::array<std::uint32_t, 8> connection_ids{1, 2, 3, 0, 4, 5, 0xFFFFFFFFu, 7};
const std::array<std::string, 6> service_ids{"SSH", "WEB", "", "FTP", std::string(129, 'A'), "ssh"};

// ---- one local socket on the application's side (destination app, source client) -------------

struct local_end {
  explicit local_end(generic_socket s) : socket(std::move(s)) {}
  generic_socket socket;
  std::array<char, 65536> buffer{};
  bool reading = false;
  bool writing = false;
  std::uint64_t received = 0;
};

// ---- one input's world ------------------------------------------------------------------------

class world {
 public:
  explicit world(fuzz::cursor& in) : in_(in) {}

  void play() {
    configure();
    context_ = std::make_unique<lt::tunnel_context>(ioc_, opts_);
    // The scripted service side of the WebSocket: a slow service (set_blocked) that takes one
    // write at a time, of at most what the real transport lets through.
    auto ws = std::make_unique<test_support::scripted_websocket>(ioc_.get_executor(), subprotocol_, "fuzz-channel");
    ws->on_write = [](std::span<const std::uint8_t> bytes, bool overlapping) {
      fuzz::check(!overlapping, "two WebSocket writes at once");
      fuzz::check(bytes.size() <= max_ws_message,
                  "a WebSocket message over websocket.max_frame_size: " + std::to_string(bytes.size()));
    };
    ws_ = ws.get();
    session_ = std::make_shared<lt::tunnel_session>(*context_, std::move(ws));
    asio::co_spawn(ioc_, session_->run(), [this](std::exception_ptr e, lt::session_end end) {
      if (e) std::rethrow_exception(e);
      end_ = end;
    });
    for (int step = 0; step < 256 && !in_.empty(); ++step) {
      op();
      check_bounds();
    }
    flush(stream_.size());
    poll(64);
    check_bounds();
    tear_down();
  }

  ~world() {
    // Whatever the checks left behind (they abort the process anyway on failure).
    for (const auto& path : unix_paths_) ::unlink(path.c_str());
  }

 private:
  void configure() {
    const auto mode = in_.byte();
    source_ = (mode & 1) != 0;
    static const std::array<const char*, 3> protocols{"aws.iot.securetunneling-1.0", "aws.iot.securetunneling-2.0",
                                                      "aws.iot.securetunneling-3.0"};
    subprotocol_ = protocols[((mode >> 1) & 3) % 3];
    opts_.mode = source_ ? lc::proxy_mode::source : lc::proxy_mode::destination;
    opts_.access_token = "token";
    opts_.endpoint.host = "localhost";
    opts_.bind_address = "127.0.0.1";
    opts_.destination_client_type = source_ ? 1 + ((mode >> 3) & 3) % 3 : 3;
    auto& t = opts_.tunables;
    t.max_active_connections = max_active;
    t.connection_buffer_size = queue_limit;
    t.connection_retry_count = (mode >> 5) & 1;
    t.connection_retry_delay_ms = 1;
    t.tcp_connect_timeout_ms = 50;
    t.stall_timeout_ms = 1 + (mode >> 6);
    t.ping_period_ms = 3600000;
    t.service_ids_timeout_ms = 4;
    t.status_period_ms = 0;
    t.pending_connection_timeout_ms = 0;
    t.generate_client_token = false;

    const auto layout = in_.byte();
    const bool named = (layout & 1) == 0;
    const std::size_t count = named ? 1 + ((layout >> 1) & 1) : 1;
    for (std::size_t i = 0; i < count; ++i) {
      lc::service_mapping m;
      m.service_id = named ? service_ids[i] : "";
      if (source_) {
        m.host = "127.0.0.1";
        m.port = 0;  // a free port: the listener is the tunnel's, the clients are adopted directly
      } else {
        target(m, (layout >> (2 + 2 * i)) & 3);
      }
      opts_.mappings.push_back(m);
    }
  }

  // Destination: where a service's connections go. A Unix listener, a TCP listener on loopback,
  // a refused TCP port, or a missing Unix path.
  void target(lc::service_mapping& m, int kind) {
    static unsigned counter = 0;
    switch (kind) {
      case 0: {
        const auto path = "/tmp/lp-fuzz-session-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        ::unlink(path.c_str());
        auto& a = unix_acceptors_.emplace_back(ioc_, asio::local::stream_protocol::endpoint(path));
        unix_paths_.push_back(path);
        m.unix_path = path;
        accept_loop(a);
        break;
      }
      case 1: {
        auto& a = tcp_acceptors_.emplace_back(ioc_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        m.host = "127.0.0.1";
        m.port = a.local_endpoint().port();
        accept_loop(a);
        break;
      }
      case 2:
        m.host = "127.0.0.1";
        m.port = 1;  // nothing listens on port 1 here: refused at once
        break;
      default:
        m.unix_path = "/tmp/lp-fuzz-session-missing/none.sock";
        break;
    }
  }

  template <class Acceptor>
  void accept_loop(Acceptor& acceptor) {
    acceptor.async_accept([this, &acceptor](boost::system::error_code ec, typename Acceptor::protocol_type::socket s) {
      if (ec) return;
      const auto protocol = s.local_endpoint().protocol();
      locals_.push_back(std::make_unique<local_end>(
          generic_socket(ioc_, asio::generic::stream_protocol(protocol), s.release())));
      accept_loop(acceptor);
    });
  }

  void op() {
    const auto code = in_.byte();
    switch (code & 15) {
      case 8: service_ids_message(); break;
      case 9: flush(in_.byte() % 2 == 0 ? stream_.size() : in_.u16() % (stream_.size() + 1)); break;
      case 10: poll(1 + in_.byte() % 32); break;
      case 11: wait(); break;
      case 12: local_action(); break;
      case 13: adopt(); break;
      case 14: {  // junk between frames
        auto junk = in_.bytes(in_.byte() % 16);
        stream_.insert(stream_.end(), junk.begin(), junk.end());
        // It may form whole messages (a start or a SERVICE_IDS naming any ID at all), which the
        // session may answer: the script no longer knows which service IDs it was sent.
        if (!junk.empty()) junk_sent_ = true;
        break;
      }
      case 15: ws_->set_blocked(!ws_->write_blocked); break;
      default: tunnel_message(code); break;
    }
  }

  void tunnel_message(std::uint8_t code) {
    script_message m;
    const auto t = code & 7;
    const auto ids = in_.byte();
    const auto flags = in_.byte();
    m.type = t != 0 ? t : (flags & 0x80) ? 0 : 8 + (flags & 0x0F);  // 0, or a type from a later version
    if ((flags & 1) == 0) m.stream_id = stream_ids[ids & 7];
    if ((flags & 2) == 0) {
      // SSH, WEB, none, FTP (not the tunnel's); with flag 0x80: one over 128 bytes, or "ssh"
      const std::size_t pick = (ids >> 3) & 3;
      m.service_id = service_ids[(t != 0 && (flags & 0x80)) ? 4 + (pick & 1) : pick];
      named_.insert(*m.service_id);
    }
    if ((flags & 4) == 0) m.connection_id = connection_ids[(ids >> 5) & 7];
    m.ignorable = (flags & 8) != 0;
    if (m.type == static_cast<int>(lp::message_type::data) || (flags & 0x10)) {
      const std::size_t length = (flags & 0x20) ? (std::size_t{in_.byte()} << 8) : in_.byte();
      m.payload.assign(std::min<std::size_t>(length, 64512), static_cast<char>('a' + (code >> 4)));
    }
    // Type 5 is a SERVICE_IDS (with an empty list: `available` stays empty), which the session
    // applies like any other list, so the guards must count it as one.
    if (m.type == static_cast<int>(lp::message_type::service_ids)) note_list(m.available);
    append_frame(stream_, m);
    ++other_messages_;
    if (flags & 0x40) flush(stream_.size());
  }

  void service_ids_message() {
    script_message m;
    m.type = static_cast<int>(lp::message_type::service_ids);
    const auto mask = in_.byte();
    for (std::size_t i = 0; i < 4; ++i)
      if (mask & (1u << i)) m.available.push_back(service_ids[i]);
    if (mask & 0x10) m.available.push_back(m.available.empty() ? "SSH" : m.available.front());  // a duplicate
    note_list(m.available);
    append_frame(stream_, m);
    flush(stream_.size());
  }

  // A SERVICE_IDS the script sends, from either op: the guards of check_sent().
  void note_list(const std::vector<std::string>& available) {
    std::set<std::string> listed(available.begin(), available.end());
    // Services the session already applied (V1, the SERVICE_IDS timeout, a message first) count
    // as a first list too.
    if (session_->services_known() || other_messages_ > 0 || subprotocol_.ends_with("1.0")) list_changed_ = true;
    if (first_list_ && *first_list_ != listed) list_changed_ = true;
    if (!first_list_) first_list_ = listed;
    for (const auto& id : available) announced_.insert(id);
    latest_empty_ = available.empty();
  }

  // The first `n` bytes of the pending stream become WebSocket messages (at most max_ws_message).
  void flush(std::size_t n) {
    n = std::min(n, stream_.size());
    std::size_t at = 0;
    do {
      const auto size = std::min(n - at, max_ws_message);
      ws_->push_message(std::vector<std::uint8_t>(stream_.begin() + static_cast<std::ptrdiff_t>(at),
                                          stream_.begin() + static_cast<std::ptrdiff_t>(at + size)));
      at += size;
    } while (at < n);
    stream_.erase(stream_.begin(), stream_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  void poll(int rounds) {
    for (int i = 0; i < rounds; ++i) {
      ioc_.restart();
      if (ioc_.poll() == 0) break;
    }
    check_sent();
  }

  // Lets real time pass, for connects, stall timeouts and retry delays. Bounded per input.
  void wait() {
    if (waits_left_ == 0) return poll(8);
    --waits_left_;
    ioc_.restart();
    ioc_.run_for(milliseconds(1));
    check_sent();
  }

  void local_action() {
    const auto which = in_.byte();
    const auto arg = in_.byte();
    if (locals_.empty()) return;
    auto& l = *locals_[which % locals_.size()];
    switch ((which >> 5) & 3) {
      case 0: {  // write
        if (l.writing || !l.socket.is_open()) return;
        l.writing = true;
        const std::size_t n = (arg & 0x80) ? static_cast<std::size_t>(arg & 0x7F) << 10 : arg;
        auto data = std::make_shared<std::string>(n, 'L');
        asio::async_write(l.socket, asio::buffer(*data), [&l, data](boost::system::error_code, std::size_t) {
          l.writing = false;
        });
        break;
      }
      case 1:  // read: the app takes what is there
        read_some(l);
        break;
      case 2: {
        boost::system::error_code ec;
        l.socket.shutdown(asio::socket_base::shutdown_send, ec);
        break;
      }
      default: {
        boost::system::error_code ec;
        l.socket.close(ec);
        break;
      }
    }
  }

  void read_some(local_end& l) {
    if (l.reading || !l.socket.is_open()) return;
    l.reading = true;
    l.socket.async_read_some(asio::buffer(l.buffer), [&l](boost::system::error_code, std::size_t n) {
      l.reading = false;
      l.received += n;
    });
  }

  // Source: a local client connects to a service's listener (the accepted side is adopted).
  void adopt() {
    const auto which = in_.byte();
    if (!source_ || !session_->services_known() || locals_.size() >= 16) return;
    asio::local::stream_protocol::socket client(ioc_), accepted(ioc_);
    asio::local::connect_pair(client, accepted);
    const auto protocol = accepted.local_endpoint().protocol();
    session_->adopt(service_ids[which % 4], generic_socket(ioc_, asio::generic::stream_protocol(protocol), accepted.release()),
                    "fuzz client");
    const auto cp = client.local_endpoint().protocol();
    locals_.push_back(std::make_unique<local_end>(generic_socket(ioc_, asio::generic::stream_protocol(cp), client.release())));
  }

  // ---- checks ----------------------------------------------------------------------------------

  void check_bounds() {
    auto& table = context_->table();
    const auto& services = table.services();
    fuzz::check(table.live_connections() <= max_active * services.size(),
                "live connections " + std::to_string(table.live_connections()) + " over " +
                    std::to_string(max_active) + " per service");
    for (const auto& s : services) {
      fuzz::check(s.connections.size() <= max_active, "service " + s.id + " has " +
                                                          std::to_string(s.connections.size()) + " live connections");
      for (const auto& [id, c] : s.connections) {
        if (!c) continue;
        // The reader pauses after the WebSocket message that took a queue over its limit.
        fuzz::check(c->pending_bytes() <= queue_limit + max_ws_message,
                    "connection queue grew to " + std::to_string(c->pending_bytes()) + " bytes");
      }
    }
  }

  // What the session sent must decode and keep the service's rules (else the service closes the
  // WebSocket with 1002).
  // Service IDs: the service relays only those the tunnel has, but the script also sends others
  // (and messages before any SERVICE_IDS), which the session may answer; an ID it makes up is wrong.
  void check_sent() {
    const auto role = source_ ? lp::endpoint_role::source : lp::endpoint_role::destination;
    std::function<bool(std::string_view)> known;
    // A tunnel opened without services takes any service ID (as test/tunnel_service does). The
    // script may also change the list mid-session, which the service never does: what was queued
    // under the old list may still go out, so the check only holds while the list is the first one,
    // and while no junk went in.
    if (!announced_.empty() && !latest_empty_ && !list_changed_ && !junk_sent_)
      known = [&](std::string_view id) { return announced_.count(std::string(id)) != 0 || named_.count(std::string(id)) != 0; };
    const auto err = sent_decoder_.feed(ws_->sent_bytes, [&](const lp::message_view& m) {
      const auto v = lp::check_sent_by(role, m, known);
      fuzz::check(v == lp::rule_violation::none,
                  "the session sent " + std::string(lp::type_name(m.type)) + " stream " + std::to_string(m.stream_id) +
                      " service '" + fuzz::printable(m.service_id) + "' connection " + std::to_string(m.connection_id) +
                      ": " + std::string(lp::describe(v)));
      fuzz::check(m.payload.size() <= 64512, "the session sent a payload over 64512 bytes");
    });
    fuzz::check(err == lp::decode_error::none, "the session sent bytes that do not decode: " + std::string(lp::describe(err)));
    ws_->sent_bytes.clear();
  }

  // The WebSocket is lost: the session must end, forget every connection, and all work finish.
  void tear_down() {
    const bool graceful = (in_.byte() & 1) != 0;
    if (graceful) {
      session_->stop();
    } else {
      ws_->abort();
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!end_ && std::chrono::steady_clock::now() < deadline) {
      ioc_.restart();
      ioc_.run_one_for(milliseconds(1));
    }
    fuzz::check(end_.has_value(), "the session did not end within 2 s of losing its WebSocket");
    check_sent();
    fuzz::check(context_->table().live_connections() == 0,
                "connections still live after the session ended: " + std::to_string(context_->table().live_connections()));
    // Our side goes away too; then nothing may be left running.
    for (auto& l : locals_) {
      boost::system::error_code ec;
      l->socket.close(ec);
    }
    for (auto& a : unix_acceptors_) a.close();
    for (auto& a : tcp_acceptors_) a.close();
    context_->stop();
    const auto quiet_by = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    ioc_.restart();
    while (!ioc_.stopped() && std::chrono::steady_clock::now() < quiet_by) ioc_.run_one_for(milliseconds(1));
    fuzz::check(ioc_.stopped(), "work still pending 2 s after the session ended (a wedged coroutine)");
    session_.reset();
    context_.reset();
  }

  fuzz::cursor& in_;
  asio::io_context ioc_;
  lc::options opts_;
  bool source_ = false;
  std::string subprotocol_;
  std::deque<asio::local::stream_protocol::acceptor> unix_acceptors_;
  std::deque<asio::ip::tcp::acceptor> tcp_acceptors_;
  std::vector<std::string> unix_paths_;
  std::unique_ptr<lt::tunnel_context> context_;
  std::shared_ptr<lt::tunnel_session> session_;
  test_support::scripted_websocket* ws_ = nullptr;
  std::optional<lt::session_end> end_;
  std::vector<std::unique_ptr<local_end>> locals_;
  std::vector<std::uint8_t> stream_;
  std::set<std::string> announced_;  // in the script's SERVICE_IDS
  std::set<std::string> named_;      // in the script's other messages
  bool latest_empty_ = false;        // the last SERVICE_IDS listed no service
  std::optional<std::set<std::string>> first_list_;
  bool list_changed_ = false;
  int other_messages_ = 0;
  bool junk_sent_ = false;  // the script's junk, whose messages it does not know
  lp::frame_decoder sent_decoder_;
  int waits_left_ = 8;
};

}  // namespace

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::cursor in(data, size);
  world w(in);
  w.play();
  return 0;
}
