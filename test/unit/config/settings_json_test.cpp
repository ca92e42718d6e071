// --settings-json loading (merge, numbers as strings, errors naming the key) and export round trip.
#include "config_test_support.hpp"

#include <boost/json.hpp>

#include "localproxy/config/settings_json.hpp"

using namespace config_test;

namespace {
std::string proxy_json(const std::string& inner) { return R"({"tunneling":{"proxy":)" + inner + "}}"; }
cfg::settings load(const std::string& inner) {
  cfg::settings s;
  cfg::load_settings_text(proxy_json(inner), "settings file x.json", s);
  return s;
}
std::string load_error(const std::string& text) {
  cfg::settings s;
  try {
    cfg::load_settings_text(text, "settings file x.json", s);
  } catch (const cfg::usage_error& e) {
    EXPECT_EQ(s, cfg::settings{}) << "a failed load must leave the settings alone";
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return "";
}
}  // namespace

TEST(SettingsJson, EmptyFileKeepsDefaults) {
  EXPECT_EQ(load("{}"), cfg::settings{});
  cfg::settings s;
  cfg::load_settings_text("{}", "x", s);
  EXPECT_EQ(s, cfg::settings{});
}

TEST(SettingsJson, MergesOverDefaultsAndAcceptsNumbersAsStrings) {
  const auto s = load(R"({"tcp":{"max_active_connections":"16","connection_retry_delay_ms":100},
                          "websocket":{"reconnect_on_data_error":"false","subprotocol":"aws.iot.securetunneling-2.0",
                                       "connect_retry_count":"-1","ping_period_ms":1000.0},
                          "status_period_ms":0})");
  cfg::settings expected;
  expected.max_active_connections = 16;
  expected.connection_retry_delay_ms = 100;
  expected.reconnect_on_data_error = false;
  expected.subprotocol = "aws.iot.securetunneling-2.0";
  expected.ping_period_ms = 1000;
  expected.status_period_ms = 0;
  EXPECT_EQ(s, expected);
}

TEST(SettingsJson, ReadsTheReferenceExportedLayout) {
  // What the reference's --export-default-settings writes: every value a string.
  const auto s = load(R"({"default_bind_address":"localhost",
      "message":{"data_length_size":"2","data_frame_max_size":"65538","max_payload_size":"64512","max_size":"65536"},
      "tcp":{"connection_retry_count":"5","connection_retry_delay_ms":"2500","read_buffer_size":"131076",
             "max_active_connections":"128"},
      "websocket":{"ping_period_ms":"20000","retry_delay_ms":"2500","connect_retry_count":"-1",
                   "reconnect_on_data_error":"true","subprotocol":"aws.iot.securetunneling-3.0",
                   "max_frame_size":"131076","write_buffer_size":"131076","read_buffer_size":"131076"},
      "region_endpoint_overrides":{"cn-north-1":"data.tunneling.iot.cn-north-1.amazonaws.com.cn",
                                   "cn-northwest-1":"data.tunneling.iot.cn-northwest-1.amazonaws.com.cn"}})");
  EXPECT_EQ(s, cfg::settings{});
}

TEST(SettingsJson, BadValuesNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"tcp":{"max_active_connections":0}})",
       "settings file x.json: tunneling.proxy.tcp.max_active_connections: expected an integer from 1 to 65535"},
      {R"({"tcp":{"max_active_connections":"many"}})", "tunneling.proxy.tcp.max_active_connections: expected an integer"},
      {R"({"tcp":{"max_active_connections":1.5}})", "tunneling.proxy.tcp.max_active_connections: expected an integer"},
      {R"({"tcp":{"max_active_connections":true}})", "tunneling.proxy.tcp.max_active_connections: expected an integer"},
      {R"({"tcp":{"max_active_connections":18446744073709551615}})", "tunneling.proxy.tcp.max_active_connections"},
      {R"({"message":{"data_length_size":4}})", "tunneling.proxy.message.data_length_size: expected an integer from 2 to 2"},
      {R"({"message":{"max_payload_size":64513}})", "tunneling.proxy.message.max_payload_size: expected an integer from 1024 to 64512"},
      {R"({"websocket":{"subprotocol":"aws.iot.securetunneling-4.0"}})", "tunneling.proxy.websocket.subprotocol: expected aws.iot"},
      {R"({"websocket":{"reconnect_on_data_error":"maybe"}})", "tunneling.proxy.websocket.reconnect_on_data_error: expected true or false"},
      {R"({"websocket":{"read_buffer_size":0}})", "tunneling.proxy.websocket.read_buffer_size"},
      {R"({"websocket":{"max_frame_size":999999999}})", "tunneling.proxy.websocket.max_frame_size"},
      {R"({"websocket":{"connect_retry_count":-2}})", "tunneling.proxy.websocket.connect_retry_count"},
      {R"({"websocket":{"retry_delay_ms":5000,"retry_delay_max_ms":1000}})", "tunneling.proxy.websocket.retry_delay_max_ms"},
      {R"({"tcp":{"stall_timeout_ms":-5}})", "tunneling.proxy.tcp.stall_timeout_ms"},
      {R"({"tcp":{"bogus":1}})", "tunneling.proxy.tcp.bogus: unknown key"},
      {R"({"bogus":1})", "tunneling.proxy.bogus: unknown key"},
      {R"({"tcp":5})", "tunneling.proxy.tcp: expected an object"},
      {R"({"default_bind_address":""})", "tunneling.proxy.default_bind_address"},
      {R"({"endpoint_format":"no-region.example.com"})", "tunneling.proxy.endpoint_format"},
      {R"({"region_endpoint_overrides":{"US EAST":"h"}})", "tunneling.proxy.region_endpoint_overrides.US EAST"},
      {R"({"region_endpoint_overrides":{"us-east-1":5}})", "tunneling.proxy.region_endpoint_overrides.us-east-1"},
      {R"({"region_endpoint_overrides":{"us-east-1":"h:0"}})", "tunneling.proxy.region_endpoint_overrides.us-east-1"},
      {R"({"unix_socket_mode":"0800"})", "tunneling.proxy.unix_socket_mode: expected a file mode of 3 or 4 octal digits"},
      {R"({"unix_socket_mode":"1777"})", "tunneling.proxy.unix_socket_mode: expected a file mode"},
      {R"({"unix_socket_mode":"60"})", "tunneling.proxy.unix_socket_mode"},
      {R"({"unix_socket_mode":600})", "tunneling.proxy.unix_socket_mode: expected a string"},
  };
  for (const auto& [inner, expected] : cases) {
    const auto e = load_error(proxy_json(inner));
    EXPECT_TRUE(contains(e, expected)) << inner << " -> " << e;
    EXPECT_TRUE(e.starts_with("settings file x.json: ")) << e;
  }
  EXPECT_TRUE(contains(load_error("{not json"), "settings file x.json: not valid JSON"));
  EXPECT_TRUE(contains(load_error("[1]"), "settings file x.json: expected a JSON object"));
  EXPECT_TRUE(contains(load_error(R"({"other":{}})"), "other: unknown key"));
  EXPECT_TRUE(contains(load_error(R"({"tunneling":{"client":{}}})"), "tunneling.client: unknown key"));
}

TEST(SettingsJson, ExportWritesRealNumbersAndBooleans) {
  const auto doc = boost::json::parse(cfg::settings_to_json(cfg::settings{}));
  const auto& proxy = doc.at("tunneling").at("proxy");
  EXPECT_EQ(proxy.at("tcp").at("max_active_connections").as_int64(), 128);
  EXPECT_EQ(proxy.at("message").at("max_payload_size").as_int64(), 64512);
  EXPECT_EQ(proxy.at("websocket").at("connect_retry_count").as_int64(), -1);
  EXPECT_TRUE(proxy.at("websocket").at("reconnect_on_data_error").as_bool());
  EXPECT_EQ(proxy.at("websocket").at("subprotocol").as_string(), "aws.iot.securetunneling-3.0");
  EXPECT_EQ(proxy.at("default_bind_address").as_string(), "localhost");
  EXPECT_EQ(proxy.at("unix_socket_mode").as_string(), "0600");
  EXPECT_EQ(proxy.at("tcp").at("stall_timeout_ms").as_int64(), 5000);
  EXPECT_TRUE(proxy.at("region_endpoint_overrides").as_object().contains("cn-north-1"));
}

TEST(SettingsJson, ExportThenLoadGivesTheSameSettings) {
  temp_dir dir;
  cfg::settings changed;
  changed.max_active_connections = 7;
  changed.reconnect_on_data_error = false;
  changed.subprotocol = "aws.iot.securetunneling-1.0";
  changed.connect_retry_count = 3;
  changed.status_period_ms = 0;
  changed.unix_socket_mode = "660";
  changed.region_endpoint_overrides["us-east-1"] = "vpce.example.com:8443";
  for (const auto& original : {cfg::settings{}, changed}) {
    const auto path = (dir.path() / "out.json").string();
    cfg::export_settings(original, path);
    cfg::settings loaded;
    loaded.max_active_connections = 99;  // proves the file, not the default, set it
    cfg::load_settings(path, loaded);
    EXPECT_EQ(loaded, original);
  }
}

TEST(SettingsJson, FileErrors) {
  cfg::settings s;
  try {
    cfg::load_settings("/nonexistent/s.json", s);
    ADD_FAILURE() << "no error";
  } catch (const cfg::usage_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("settings file /nonexistent/s.json: cannot open"));
  }
  EXPECT_THROW(cfg::export_settings(s, "/nonexistent/dir/out.json"), cfg::usage_error);
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "--settings-json", "/nonexistent/s.json"}),
                       "settings file /nonexistent/s.json"));
}
