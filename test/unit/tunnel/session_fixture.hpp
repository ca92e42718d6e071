#pragma once
// A session driven through a scripted in-memory WebSocket, with real local sockets on loopback:
// what the tunnel delivers reaches the app, what the app sends comes back as frames.
#include "localproxy/tunnel/session.hpp"

#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <functional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "localproxy/tunnel/tunnel.hpp"
#include "scripted_websocket.hpp"

namespace session_test {

namespace asio = boost::asio;
namespace lt = localproxy::tunnel;
namespace lp = localproxy::protocol;
namespace lc = localproxy::config;
using asio::ip::tcp;

// The fixture's WebSocket: what the session writes is decoded into `sent` as it is written.
class fake_websocket : public test_support::scripted_websocket {
 public:
  explicit fake_websocket(const asio::any_io_executor& ex)
      : scripted_websocket(ex, "aws.iot.securetunneling-3.0", "test-channel") {
    on_write = [this](std::span<const std::uint8_t>, bool overlapping) {
      EXPECT_FALSE(overlapping) << "two WebSocket writes at once";
      auto err = decoder.feed(std::span(sent_bytes), [this](const lp::message_view& m) {
        sent.push_back({m.type, m.stream_id, std::string(m.service_id), m.connection_id,
                        std::string(m.payload.begin(), m.payload.end()), messages});
      });
      EXPECT_EQ(err, lp::decode_error::none);
      sent_bytes.clear();
      ++messages;
    };
  }

  void push(const lp::message_fields& f, std::string_view payload = {}) {
    std::vector<std::uint8_t> frame;
    auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
    EXPECT_EQ(lp::encode_frame(f, bytes, {}, frame), lp::encode_error::none);
    push_message(std::move(frame));
  }

  struct sent_message {
    lp::message_type type;
    std::int32_t stream_id;
    std::string service_id;
    std::uint32_t connection_id;
    std::string payload;
    std::size_t message;  // which WebSocket message carried it (0: the first written)
  };
  std::vector<sent_message> sent;
  std::size_t messages = 0;
  lp::frame_decoder decoder;
};

inline lp::message_fields fields(lp::message_type t, std::int32_t stream, std::string_view service = "SSH", std::uint32_t conn = 1) {
  lp::message_fields f;
  f.type = t;
  f.stream_id = stream;
  f.service_id = service;
  f.connection_id = conn;
  return f;
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    opts_.mode = lc::proxy_mode::destination;
    opts_.access_token = "token";
    opts_.endpoint.host = "localhost";
    lc::service_mapping m;
    m.service_id = "SSH";
    m.host = "127.0.0.1";
    m.port = acceptor_.local_endpoint().port();
    opts_.mappings = {m};
    opts_.tunables.connection_retry_count = 0;
    opts_.tunables.ping_period_ms = 60000;
    opts_.tunables.status_period_ms = 0;
  }

  // Starts a session whose service sends SERVICE_IDS with `ids`.
  void start(std::vector<std::string> ids = {"SSH"}) {
    if (!context_) context_ = std::make_unique<lt::tunnel_context>(ioc_, opts_);
    auto ws = std::make_unique<fake_websocket>(ioc_.get_executor());
    ws_ = ws.get();
    session_ = std::make_shared<lt::tunnel_session>(*context_, std::move(ws));
    end_.reset();
    asio::co_spawn(ioc_, session_->run(), [this](std::exception_ptr, lt::session_end end) { end_ = end; });
    lp::message_fields f;
    f.type = lp::message_type::service_ids;
    f.available_service_ids = ids;
    ws_->push(f);
    run_until([&] { return session_->services_known(); });
  }
  // The WebSocket is lost and a new one comes up, as after a reconnect (same tunnel context).
  void reconnect(std::vector<std::string> ids) {
    ws_->abort();
    run_until([&] { return end_.has_value(); });
    old_sessions_.push_back(std::move(session_));
    start(std::move(ids));
  }

  // Source: a local client connects to the service's listener (and first writes `early`, when
  // given, before the session takes the connection); returns the client's socket.
  tcp::socket connect_client(const std::string& service_id, const std::string& early = {}) {
    tcp::socket client(ioc_);
    tcp::socket accepted(ioc_);
    bool done = false;
    acceptor_.async_accept(accepted, [&](boost::system::error_code ec) {
      EXPECT_FALSE(ec);
      done = true;
    });
    client.async_connect(acceptor_.local_endpoint(), [](boost::system::error_code ec) { EXPECT_FALSE(ec); });
    EXPECT_TRUE(run_until([&] { return done; }));
    if (!early.empty()) {
      EXPECT_EQ(asio::write(client, asio::buffer(early)), early.size());  // loopback: never blocks
    }
    const auto protocol = accepted.local_endpoint().protocol();
    // From inside the event loop, as the listener does: coroutines started there run at once.
    bool adopted = false;
    asio::post(ioc_, [&] {
      session_->adopt(service_id, lt::local_connection::socket_type(ioc_, asio::generic::stream_protocol(protocol),
                                                                    accepted.release()),
                      "test client");
      adopted = true;
    });
    EXPECT_TRUE(run_until([&] { return adopted; }));
    return client;
  }

  // The local application's side of the connection the session opens.
  tcp::socket accept_app() {
    tcp::socket app(ioc_);
    bool done = false;
    acceptor_.async_accept(app, [&](boost::system::error_code ec) {
      EXPECT_FALSE(ec);
      done = true;
    });
    run_until([&] { return done; });
    return app;
  }

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      ioc_.restart();
      ioc_.run_for(std::chrono::milliseconds(10));
    }
    return pred();
  }

  // The app's socket shares the session's io_context: drive it asynchronously, never blocking.
  std::string read_app(tcp::socket& app, std::size_t n) {
    std::string buf(n, '\0');
    bool done = false;
    asio::async_read(app, asio::buffer(buf), [&](boost::system::error_code, std::size_t) { done = true; });
    EXPECT_TRUE(run_until([&] { return done; }));
    return buf;
  }
  std::pair<std::string, boost::system::error_code> read_app_to_end(tcp::socket& app) {
    std::string all;
    std::array<char, 4096> buf;
    boost::system::error_code result;
    bool done = false;
    std::function<void()> next = [&] {
      app.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
        all.append(buf.data(), n);
        if (ec) {
          result = ec;
          done = true;
        } else {
          next();
        }
      });
    };
    next();
    EXPECT_TRUE(run_until([&] { return done; }));
    return {all, result};
  }
  void write_app(tcp::socket& app, const std::string& text) {
    bool done = false;
    asio::async_write(app, asio::buffer(text), [&](boost::system::error_code, std::size_t) { done = true; });
    EXPECT_TRUE(run_until([&] { return done; }));
  }

  std::string sent_payload(lp::message_type type) {
    std::string all;
    for (const auto& m : ws_->sent)
      if (m.type == type) all += m.payload;
    return all;
  }
  bool sent_any(lp::message_type type) {
    return std::any_of(ws_->sent.begin(), ws_->sent.end(), [&](const auto& m) { return m.type == type; });
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  lc::options opts_;
  std::unique_ptr<lt::tunnel_context> context_;
  std::shared_ptr<lt::tunnel_session> session_;
  fake_websocket* ws_ = nullptr;
  std::optional<lt::session_end> end_;
  std::vector<std::shared_ptr<lt::tunnel_session>> old_sessions_;
};

}  // namespace session_test
