// Where to connect: the service endpoint (region or -e) and the web proxy in front of it.
#include "layers.hpp"
#include "localproxy/config/endpoint.hpp"
#include "localproxy/config/validation.hpp"
#include "localproxy/config/web_proxy_url.hpp"

namespace localproxy::config {

// The highest level that names a region or an endpoint decides (so `-e` on the command line
// beats AWSIOT_TUNNEL_REGION in the environment); both at the same level is an error.
void resolve_endpoint(const layers& in, options& out, std::vector<std::string>& warnings) {
  for (const layer* l : {&in.cli, &in.file, &in.env}) {
    const auto* region = l->get("region");
    const auto* endpoint = l->get("proxy-endpoint");
    if (!region && !endpoint) continue;
    if (region && endpoint)
      throw usage_error(region->what + " and " + endpoint->what + ": give only one (the region or the endpoint)");
    if (endpoint) {
      out.endpoint = parse_service_endpoint(endpoint->value, endpoint->what, warnings);
      out.region.clear();
      return;
    }
    check_region(region->value, region->what);
    out.region = region->value;
    out.endpoint = region_endpoint(region->value, out.tunables);
    if (auto warning = unknown_region_warning(region->value, region->what, out.tunables); !warning.empty())
      warnings.push_back(std::move(warning));
    return;
  }
  throw usage_error("-r/--region or -e/--proxy-endpoint: one is required (or set AWSIOT_TUNNEL_REGION or "
                    "AWSIOT_TUNNEL_ENDPOINT)");
}

void resolve_web_proxy(const layers& in, const environment& env, options& out, std::vector<std::string>& warnings) {
  const auto* url = in.pick("web-proxy");
  if (!url) return;
  auto parsed = parse_proxy_url(url->value, url->what);
  auto no_proxy = env("no_proxy");  // lower case wins, as with https_proxy
  if (!no_proxy || no_proxy->empty()) no_proxy = env("NO_PROXY");
  if (no_proxy && no_proxy_matches(*no_proxy, out.endpoint.host)) return;
  if (parsed.port_defaulted) warnings.push_back(url->what + ": no port given for the web proxy, using 3128");
  out.proxy = std::move(parsed.proxy);
}

}  // namespace localproxy::config
