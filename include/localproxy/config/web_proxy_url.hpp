#pragma once
// The web proxy settings: a proxy URL (--web-proxy, web-proxy in --config, https_proxy) and the
// no_proxy list that exempts hosts from it. Pure functions.
#include <string>
#include <string_view>

#include "localproxy/config/options.hpp"
#include "localproxy/config/usage_error.hpp"

namespace localproxy::config {

struct proxy_url_result {
  web_proxy proxy;
  bool port_defaulted = false;  // no port given: 3128 (worth a warning)
};

// `http://host:port`, `https://host:port`, `host:port` (http), `http://user:pass@host:port`
// (percent-decoded; '+' stays '+'), `http://[::1]:3128`, an optional trailing '/'.
// `source` names where the URL came from (e.g. "--web-proxy", "https_proxy") in errors, which
// never repeat the password.
[[nodiscard]] proxy_url_result parse_proxy_url(std::string_view url, const std::string& source);

// True when `host` is exempted by a no_proxy value: comma-separated names, domain suffixes
// (".example.com" or "example.com" also match subdomains), IP literals (which match only
// themselves), or "*". Case-insensitive; an entry's ":port" is ignored.
[[nodiscard]] bool no_proxy_matches(std::string_view no_proxy, std::string_view host);

}  // namespace localproxy::config
