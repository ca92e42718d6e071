#include "localproxy/config/endpoint.hpp"

#include "host_port.hpp"
#include "localproxy/config/validation.hpp"
#include "text.hpp"

namespace localproxy::config {

std::string service_endpoint::url() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "wss://" : "ws://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

service_endpoint parse_service_endpoint(std::string_view text, std::string_view what,
                                        std::vector<std::string>& warnings) {
  auto rest = text::trim(text);
  service_endpoint ep;
  if (text::starts_with_ci(rest, "wss://")) {
    rest.remove_prefix(6);
  } else if (text::starts_with_ci(rest, "ws://")) {
    rest.remove_prefix(5);
    ep.tls = false;
  } else if (rest.find("://") != std::string_view::npos) {
    throw usage_error(text::join(what, "unsupported scheme (expected wss://, ws:// or none)"));
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos)
    throw usage_error(text::join(what, "a path is not allowed (expected HOST, HOST:PORT or wss://HOST[:PORT])"));
  if (rest.find('@') != std::string_view::npos)
    throw usage_error(text::join(what, "user information is not allowed (expected HOST[:PORT])"));
  auto hp = split_host_port(rest, what);
  // Host names are case-insensitive; lower case keeps SNI and no_proxy matching predictable.
  ep.host = text::lower(hp.host);
  if (hp.port) ep.port = parse_port(*hp.port, what);
  if (!ep.tls)
    warnings.push_back(std::string(what) + ": ws:// is a plain, unencrypted connection: use it only with a local "
                       "test service");
  return ep;
}

}  // namespace localproxy::config
