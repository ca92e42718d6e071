#pragma once
// Small checks shared by the command line, --config files, --config-dir and settings. Each throws
// usage_error with a message that starts with `what` (an option, or a file and line) and never
// contains a secret value.
#include <cstdint>
#include <string>
#include <string_view>

#include "localproxy/config/usage_error.hpp"

namespace localproxy::config {

// 1..65535, digits only.
[[nodiscard]] std::uint16_t parse_port(std::string_view text, std::string_view what);
// An integer in [min, max], digits only (and a leading '-' when min < 0).
[[nodiscard]] long long parse_integer(std::string_view text, long long min, long long max, std::string_view what);

void check_access_token(std::string_view token, std::string_view what);  // 1..4096 bytes, no control chars
void check_client_token(std::string_view token, std::string_view what);  // ^[A-Za-z0-9-]{32,128}$
void check_service_id(std::string_view id, std::string_view what);       // ^[A-Za-z0-9_-]{1,128}$
void check_region(std::string_view region, std::string_view what);       // ^[a-z0-9-]+$

[[nodiscard]] bool is_valid_client_token(std::string_view token);
[[nodiscard]] bool is_valid_service_id(std::string_view id);
[[nodiscard]] bool is_valid_region(std::string_view region);

}  // namespace localproxy::config
