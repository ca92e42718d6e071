#pragma once
// Runs tunnel-service as a child process on loopback and talks to it with minimal synchronous
// Beast clients: WebSocket for the tunnel, HTTP for the API.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "localproxy/protocol/frame_codec.hpp"

extern char** environ;

namespace service_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace lp = localproxy::protocol;
using tcp = asio::ip::tcp;

inline std::string temp_dir() {
  char pattern[] = "/tmp/tunnel-service-test-XXXXXX";
  return mkdtemp(pattern);
}

struct upgrade_result {
  int status = 0;
  std::string subprotocol;
  std::string channel_id;
  std::unique_ptr<websocket::stream<tcp::socket>> ws;
};

class ServiceTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    dir_ = temp_dir();
    out_ = dir_ + "/out.txt";
    err_ = dir_ + "/err.txt";
    std::vector<std::string> args = {TUNNEL_SERVICE_BIN, "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "-v", "2"};
    if (std::find(extra.begin(), extra.end(), "--self-signed") == extra.end()) args.push_back("--plain");
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::smatch m;
    std::string text;
    const std::regex ready(R"(listening on wss?://127\.0\.0\.1:(\d+)\napi on http://127\.0\.0\.1:(\d+)\n)");
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(out_);
      text.assign(std::istreambuf_iterator<char>(in), {});
      if (std::regex_search(text, m, ready)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(std::regex_search(text, m, ready)) << text;
    port_ = static_cast<unsigned short>(std::stoi(m[1]));
    api_port_ = static_cast<unsigned short>(std::stoi(m[2]));
  }

  // What the service logged so far (its stderr).
  [[nodiscard]] std::string log_text() const {
    std::ifstream in(err_);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (HasFailure() && !err_.empty()) std::cerr << "tunnel-service's log:\n" << log_text();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::pair<int, std::string> api(http::verb verb, const std::string& target, const std::string& body = {}) {
    tcp::socket s(ioc_);
    s.connect({asio::ip::make_address("127.0.0.1"), api_port_});
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = body;
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer b;
    http::response<http::string_body> res;
    http::read(s, b, res);
    return {res.result_int(), res.body()};
  }

  // {"tunnelId", "sourceAccessToken", "destinationAccessToken"} by a crude parse (test-only)
  static std::string field(const std::string& json, const std::string& name) {
    std::smatch m;
    std::regex rx("\"" + name + "\":\"([^\"]*)\"");
    return std::regex_search(json, m, rx) ? m[1].str() : std::string();
  }

  upgrade_result connect(const std::string& mode, const std::string& token, const std::string& protocol = "aws.iot.securetunneling-3.0",
                         const std::string& client_token = {}, const std::string& path = "/tunnel") {
    upgrade_result r;
    r.ws = std::make_unique<websocket::stream<tcp::socket>>(ioc_);
    r.ws->next_layer().connect({asio::ip::make_address("127.0.0.1"), port_});
    r.ws->set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
      if (!token.empty()) req.set("access-token", token);
      if (!client_token.empty()) req.set("client-token", client_token);
      req.set(http::field::sec_websocket_protocol, protocol);
    }));
    r.ws->read_message_max(131076);
    websocket::response_type res;
    beast::error_code ec;
    r.ws->handshake(res, "127.0.0.1", path + (mode.empty() ? "" : "?local-proxy-mode=" + mode), ec);
    r.status = res.result_int();
    r.subprotocol = std::string(res[http::field::sec_websocket_protocol]);
    r.channel_id = std::string(res["channel-id"]);
    if (ec) r.ws.reset();
    else r.ws->binary(true);
    return r;
  }

  static std::vector<std::uint8_t> frame(lp::message_type type, std::int32_t stream, std::string_view service = "SSH",
                                         std::string_view payload = {}, std::uint32_t connection = 1) {
    lp::message_fields f;
    f.type = type;
    f.stream_id = stream;
    f.service_id = service;
    f.connection_id = connection;
    std::vector<std::uint8_t> out;
    auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
    EXPECT_EQ(lp::encode_frame(f, bytes, {}, out), lp::encode_error::none);
    return out;
  }

  struct received {
    lp::message_type type;
    std::int32_t stream;
    std::string service;
    std::string payload;
    std::vector<std::string> ids;
  };

  // Reads WebSocket messages until `count` tunnel messages arrived (or an error).
  static std::vector<received> read_messages(websocket::stream<tcp::socket>& ws, std::size_t count,
                                             beast::error_code* error = nullptr) {
    std::vector<received> out;
    lp::frame_decoder decoder;
    while (out.size() < count) {
      beast::flat_buffer b;
      beast::error_code ec;
      ws.read(b, ec);
      if (ec) {
        if (error) *error = ec;
        break;
      }
      auto data = b.cdata();
      decoder.feed(std::span(static_cast<const std::uint8_t*>(data.data()), data.size()), [&](const lp::message_view& m) {
        received r{m.type, m.stream_id, std::string(m.service_id), std::string(m.payload.begin(), m.payload.end()), {}};
        for (auto id : m.available_service_ids) r.ids.emplace_back(id);
        out.push_back(std::move(r));
      });
    }
    return out;
  }

  asio::io_context ioc_;
  pid_t pid_ = -1;
  std::string dir_;
  std::string out_;
  std::string err_;
  unsigned short port_ = 0;
  unsigned short api_port_ = 0;
};

}  // namespace service_test
