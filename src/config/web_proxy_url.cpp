// Web proxy URL parsing. The password is a secret: no message here may quote the URL or any part
// of the user information.
#include "localproxy/config/web_proxy_url.hpp"

#include "host_port.hpp"
#include "localproxy/config/validation.hpp"
#include "text.hpp"

namespace localproxy::config {
namespace {

[[noreturn]] void fail(std::string_view what, std::string_view detail) { throw usage_error(text::join(what, detail)); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding: unlike form encoding, '+' is a literal plus.
std::string percent_decode(std::string_view s, std::string_view what, std::string_view part) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      fail(what, "bad percent escape in the " + std::string(part) + " (expected %XX with two hex digits)");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

void parse_user_info(std::string_view info, web_proxy& proxy, std::string_view what) {
  const auto colon = info.find(':');
  proxy.user = percent_decode(info.substr(0, colon), what, "user name");
  if (colon != std::string_view::npos) proxy.password = percent_decode(info.substr(colon + 1), what, "password");
  if (proxy.user.empty()) fail(what, "the user name before '@' is empty");
}

}  // namespace

proxy_url_result parse_proxy_url(std::string_view url, const std::string& what) {
  proxy_url_result result;
  auto& proxy = result.proxy;
  auto rest = text::trim(url);
  if (rest.empty()) fail(what, "empty (expected http://HOST:PORT)");
  if (text::starts_with_ci(rest, "https://")) {
    proxy.tls = true;
    rest.remove_prefix(8);
  } else if (text::starts_with_ci(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    fail(what, "unsupported scheme (expected http:// or https://)");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  // A '@' in the password must be percent-encoded, but be lenient: the last '@' ends the user part.
  const auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    parse_user_info(rest.substr(0, at), proxy, what);
    rest.remove_prefix(at + 1);
  }
  if (rest.find_first_of("/?#") != std::string_view::npos)
    fail(what, "a path is not allowed (expected http://[USER:PASSWORD@]HOST[:PORT])");
  auto hp = split_host_port(rest, what);
  proxy.host = std::move(hp.host);
  if (hp.port) proxy.port = parse_port(*hp.port, what);
  result.port_defaulted = !hp.port.has_value();
  return result;
}

}  // namespace localproxy::config
