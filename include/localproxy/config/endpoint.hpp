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

}  // namespace localproxy::config
