#include "localproxy/config/validation.hpp"

#include <charconv>

#include "text.hpp"

namespace localproxy::config {
namespace {

[[noreturn]] void fail(std::string_view what, std::string_view detail) { throw usage_error(text::join(what, detail)); }

bool all_of(std::string_view s, bool (*ok)(char)) {
  for (char c : s)
    if (!ok(c)) return false;
  return true;
}

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace

long long parse_integer(std::string_view text, long long min, long long max, std::string_view what) {
  const auto expected = "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
  const auto t = text::trim(text);
  // from_chars alone would accept a leading '-' for any range and stop silently at junk.
  const bool negative = !t.empty() && t.front() == '-';
  const auto digits = negative ? t.substr(1) : t;
  if (digits.empty() || !all_of(digits, [](char c) { return c >= '0' && c <= '9'; }) || (negative && min >= 0))
    fail(what, expected);
  long long value = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc{} || end != t.data() + t.size() || value < min || value > max) fail(what, expected);
  return value;
}

std::uint16_t parse_port(std::string_view text, std::string_view what) {
  const auto t = text::trim(text);
  if (t.empty() || !all_of(t, [](char c) { return c >= '0' && c <= '9'; }) || t.size() > 5)
    fail(what, "expected a port from 1 to 65535");
  const auto value = std::stoul(std::string(t));
  if (value < 1 || value > 65535) fail(what, "expected a port from 1 to 65535");
  return static_cast<std::uint16_t>(value);
}

void check_access_token(std::string_view token, std::string_view what) {
  if (token.empty()) fail(what, "the access token is empty");
  if (token.size() > 4096) fail(what, "too long (max 4096 bytes)");
  // Bytes >= 0x80 are allowed (UTF-8); only ASCII control characters and space break the header.
  for (char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f) fail(what, "contains a control character or space (expected printable characters)");
  }
}

bool is_valid_client_token(std::string_view token) {
  return token.size() >= 32 && token.size() <= 128 && all_of(token, [](char c) { return alnum(c) || c == '-'; });
}

void check_client_token(std::string_view token, std::string_view what) {
  if (!is_valid_client_token(token)) fail(what, "expected 32 to 128 characters from A-Z, a-z, 0-9 and '-'");
}

bool is_valid_service_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && all_of(id, [](char c) { return alnum(c) || c == '-' || c == '_'; });
}

void check_service_id(std::string_view id, std::string_view what) {
  if (!is_valid_service_id(id))
    fail(what, "service ID '" + std::string(id.substr(0, 128)) +
                   "' is invalid (expected 1 to 128 characters from A-Z, a-z, 0-9, '_' and '-')");
}

bool is_valid_region(std::string_view region) {
  return !region.empty() && region.size() <= 64 &&
         all_of(region, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

void check_region(std::string_view region, std::string_view what) {
  if (!is_valid_region(region)) fail(what, "expected a region such as us-east-1 (lower-case letters, digits and '-')");
}

}  // namespace localproxy::config
