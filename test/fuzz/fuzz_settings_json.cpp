// --settings-json content (load_settings_text over the defaults).
// Checks: only usage_error comes out, naming the file; an accepted file leaves every setting in
// its documented range; what settings_to_json writes reads back to the same settings.
#include <string>

#include "fuzz_common.hpp"
#include "localproxy/config/settings_json.hpp"

namespace {
namespace lc = localproxy::config;

void check_ranges(const lc::settings& s) {
  auto in = [](auto v, long long lo, long long hi) {
    return static_cast<long long>(v) >= lo && static_cast<long long>(v) <= hi;
  };
  fuzz::check(s.data_length_size == 2, "message.data_length_size is not 2");
  fuzz::check(in(s.max_payload_size, 1024, 64512), "message.max_payload_size out of range");
  fuzz::check(in(s.max_message_size, 1024, 65536), "message.max_size out of range");
  fuzz::check(in(s.max_active_connections, 1, 65535), "tcp.max_active_connections out of range");
  fuzz::check(in(s.connection_retry_count, -1, 1000000), "tcp.connection_retry_count out of range");
  fuzz::check(in(s.connection_buffer_size, 1024, 64ll << 20), "tcp.connection_buffer_size out of range");
  fuzz::check(in(s.stall_timeout_ms, 1, 86400000), "tcp.stall_timeout_ms out of range");
  fuzz::check(in(s.tcp_connect_timeout_ms, 1, 3600000), "tcp.connect_timeout_ms out of range");
  fuzz::check(in(s.ping_period_ms, 100, 3600000), "websocket.ping_period_ms out of range");
  fuzz::check(in(s.max_frame_size, 65538, 131076), "websocket.max_frame_size out of range");
  fuzz::check(in(s.connect_retry_count, -1, 1000000), "websocket.connect_retry_count out of range");
  fuzz::check(s.retry_delay_max_ms >= s.retry_delay_ms, "websocket.retry_delay_max_ms below retry_delay_ms");
  fuzz::check(s.subprotocol == "aws.iot.securetunneling-1.0" || s.subprotocol == "aws.iot.securetunneling-2.0" ||
                  s.subprotocol == "aws.iot.securetunneling-3.0",
              "unknown websocket.subprotocol accepted: " + fuzz::printable(s.subprotocol));
  fuzz::check(s.region_endpoint_overrides.count("cn-north-1") && s.region_endpoint_overrides.count("cn-northwest-1"),
              "the China region overrides were lost");
}
}  // namespace

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(fuzz::as_text(data, size));
  lc::settings s;
  try {
    lc::load_settings_text(text, "settings file fuzz.json", s);
  } catch (const lc::usage_error& e) {
    const std::string what = e.what();
    fuzz::check(what.find("fuzz.json") != std::string::npos, "error does not name the file: " + fuzz::printable(what));
    fuzz::note(what.find('\n') == std::string::npos, "multi-line error", fuzz::printable(what));
    return 0;
  }
  check_ranges(s);
  const auto json = lc::settings_to_json(s);
  lc::settings again;
  try {
    lc::load_settings_text(json, "exported", again);
  } catch (const lc::usage_error& e) {
    fuzz::fail(std::string("the exported settings are refused: ") + e.what());
  }
  fuzz::check(again == s, "the exported settings do not read back the same");
  return 0;
}
