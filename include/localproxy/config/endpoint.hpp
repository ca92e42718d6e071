#pragma once
// Where the tunneling service is: from -e, or from the region (China regions end in .com.cn).
#include <string>
#include <string_view>
#include <vector>

#include "localproxy/config/options.hpp"

#include "localproxy/config/usage_error.hpp"

namespace localproxy::config {

// `host`, `host:port`, `[v6]:port`, `wss://host[:port]`, `ws://host[:port]` (plain; adds a warning).
// A trailing '/' is accepted, any other path is an error naming `what`.
[[nodiscard]] service_endpoint parse_service_endpoint(std::string_view text, std::string_view what,
                                                      std::vector<std::string>& warnings);

// The built-in host for a region: data.tunneling.iot.<region>.amazonaws.com, .com.cn in China.
[[nodiscard]] std::string default_region_host(std::string_view region);

// The region's endpoint: settings.region_endpoint_overrides[region] (HOST or HOST:PORT) when
// present, else settings.endpoint_format with %s replaced by the region, on port 443. The China
// entries are in the overrides' defaults and a settings file merges over them, so they survive.
[[nodiscard]] service_endpoint region_endpoint(std::string_view region, const settings& s);

// Regions: a built-in list of the AWS IoT Secure Tunneling regions (commercial, China, GovCloud),
// extended by settings.extra_regions and the regions of settings.region_endpoint_overrides. An
// unknown region is only warned about, so that a new region works without a new release.
[[nodiscard]] std::vector<std::string> split_region_list(std::string_view list);  // by commas and spaces
[[nodiscard]] bool is_known_region(std::string_view region, const settings& s);
// The known region with the least edit distance (a swap of two neighbours counts as one edit).
[[nodiscard]] std::string nearest_known_region(std::string_view region, const settings& s);
// One line for an unknown region naming the host it will try and the nearest known region; empty
// for a known one. `what` names where the region was given (-r/--region, AWSIOT_TUNNEL_REGION).
[[nodiscard]] std::string unknown_region_warning(std::string_view region, std::string_view what, const settings& s);

}  // namespace localproxy::config
