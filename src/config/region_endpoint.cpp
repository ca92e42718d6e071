// Region -> tunneling service host. The reference replaces its whole override tree with the
// settings file's and so loses the China endpoints; here a settings file merges over the defaults.
#include <algorithm>
#include <array>

#include "host_port.hpp"
#include "localproxy/config/endpoint.hpp"
#include "localproxy/config/validation.hpp"

namespace localproxy::config {

std::string default_region_host(std::string_view region) {
  // China partition regions live under amazonaws.com.cn.
  static constexpr std::array<std::string_view, 2> china{"cn-north-1", "cn-northwest-1"};
  const bool in_china = std::find(china.begin(), china.end(), region) != china.end();
  return "data.tunneling.iot." + std::string(region) + (in_china ? ".amazonaws.com.cn" : ".amazonaws.com");
}

service_endpoint region_endpoint(std::string_view region, const settings& s) {
  service_endpoint ep;
  const auto it = s.region_endpoint_overrides.find(std::string(region));
  if (it == s.region_endpoint_overrides.end()) {
    auto host = s.endpoint_format;
    if (const auto at = host.find("%s"); at != std::string::npos) host.replace(at, 2, region);
    ep.host = host;
    return ep;
  }
  // The reference accepts host:port in an override; so do we.
  const auto what = "tunneling.proxy.region_endpoint_overrides." + it->first;
  auto hp = split_host_port(it->second, what);
  ep.host = hp.host;
  if (hp.port) ep.port = parse_port(*hp.port, what);
  return ep;
}

}  // namespace localproxy::config
