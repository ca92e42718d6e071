#include "host_port.hpp"

#include "localproxy/config/usage_error.hpp"
#include "text.hpp"

namespace localproxy::config {
namespace {

[[noreturn]] void fail(std::string_view what, std::string_view detail) { throw usage_error(text::join(what, detail)); }

void check_host_chars(std::string_view host, bool v6, std::string_view what) {
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || (v6 && (c == ':' || c == '%'));
    if (!ok || u >= 0x80) fail(what, "invalid character in host name (expected letters, digits, '-', '.' or an IP address)");
  }
}

}  // namespace

host_port split_host_port(std::string_view text, std::string_view what) {
  host_port out;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) fail(what, "missing ']' after an IPv6 address");
    const auto host = text.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) fail(what, "expected an IPv6 address inside [ ]");
    check_host_chars(host, true, what);
    out.host = std::string(host);
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') fail(what, "expected ':port' after ']'");
  } else {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos)
      fail(what, "put an IPv6 address in brackets, e.g. [::1]:22");
    out.host = std::string(text.substr(0, colon));
    check_host_chars(out.host, false, what);
    if (colon != std::string_view::npos) rest = text.substr(colon);
  }
  if (out.host.empty()) fail(what, "the host is empty");
  if (!rest.empty()) out.port = std::string(rest.substr(1));
  return out;
}

}  // namespace localproxy::config
