#pragma once
// -s / -d values and --config-dir entries: `5555`, `host:22`, `[::1]:22`, `SSH1=22`,
// `SSH1=10.0.0.1:22`, `SSH1=/run/app.sock`, and comma-separated lists of these.
#include <string_view>
#include <vector>

#include "localproxy/config/options.hpp"

#include "localproxy/config/usage_error.hpp"

namespace localproxy::config {

// One target: `port`, `host:port`, `[v6]:port`, or a Unix socket path (anything containing '/').
// `what` names the option (or file and line) for the usage_error.
[[nodiscard]] service_mapping parse_mapping_target(std::string_view target, proxy_mode mode, std::string_view what);

// A whole -s/-d value. A bare target (no `ID=`) is only allowed as the single item of the list.
[[nodiscard]] std::vector<service_mapping> parse_mappings(std::string_view value, proxy_mode mode,
                                                          std::string_view what);

// Rejects a second unnamed mapping, a mix of named and unnamed, and duplicate service IDs.
void check_unique_services(const std::vector<service_mapping>& mappings, std::string_view what);

}  // namespace localproxy::config
