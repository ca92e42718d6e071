// Web proxy URLs (parse_proxy_url: --web-proxy, web-proxy in --config, https_proxy).
// Checks: only usage_error comes out; its message never shows the password (raw or decoded); an
// accepted proxy has a host and a port and reads back the same from a URL rebuilt from its parts.
#include <string>

#include "fuzz_common.hpp"
#include "localproxy/config/web_proxy_url.hpp"

namespace {
namespace lc = localproxy::config;

std::string pct(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

std::string show(const lc::web_proxy& p) {
  return std::string(p.tls ? "https " : "http ") + fuzz::printable(p.host) + " port " + std::to_string(p.port) + " user '" +
         fuzz::printable(p.user) + "'";
}

// Where the password is written in the URL: between the ':' after the user and the last '@'.
std::pair<std::size_t, std::size_t> password_span(std::string_view url) {
  std::size_t start = 0;
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos) start = scheme + 3;
  const auto at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return {0, 0};
  const auto colon = url.substr(start, at - start).find(':');
  if (colon == std::string_view::npos) return {0, 0};
  return {start + colon + 1, at - (start + colon + 1)};
}

std::string error_of(std::string_view url) {
  try {
    (void)lc::parse_proxy_url(url, "--web-proxy");
  } catch (const lc::usage_error& e) {
    return e.what();
  }
  return {};
}
}  // namespace

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto url = fuzz::as_text(data, size);
  try {
    const auto r = lc::parse_proxy_url(url, "--web-proxy");
    const auto& p = r.proxy;
    fuzz::check(!p.host.empty() && p.port != 0, "accepted a proxy without host or port: " + show(p));
    fuzz::check(!r.port_defaulted || p.port == 3128, "the default port is not 3128");
    std::string rebuilt = p.tls ? "https://" : "http://";
    if (!p.user.empty()) rebuilt += pct(p.user) + (p.password.empty() ? "" : ":" + pct(p.password)) + "@";
    rebuilt += (p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host) + ":" + std::to_string(p.port);
    lc::web_proxy again;
    try {
      again = lc::parse_proxy_url(rebuilt, "rebuilt").proxy;
    } catch (const lc::usage_error& e) {
      fuzz::fail("the rebuilt URL " + fuzz::printable(rebuilt) + " is refused: " + e.what());
    }
    fuzz::check(again == p, "the rebuilt URL does not read back: " + show(p) + " -> " + show(again));
  } catch (const lc::usage_error& e) {
    const std::string what = e.what();
    fuzz::check(what.starts_with("--web-proxy"), "error does not name the option: " + fuzz::printable(what));
    // Does the message follow the password? The same URL with another password of the same
    // length (letters only, so that it parses the same way) must not show that one either.
    const auto [at, length] = password_span(url);
    std::string replacement;
    for (std::size_t i = 0; i < length; ++i) replacement += "Qz"[i % 2];
    if (length >= 4 && url.find(replacement) == std::string_view::npos) {
      std::string other(url);
      other.replace(at, length, replacement);
      const auto what_other = error_of(other);
      fuzz::check(what_other.find(replacement) == std::string::npos, "the error shows the password: " + fuzz::printable(what_other));
    }
    fuzz::note(what.find('\n') == std::string::npos, "multi-line error", fuzz::printable(what));
  }
  return 0;
}
