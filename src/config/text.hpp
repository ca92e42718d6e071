#pragma once
// String helpers private to the config layer.
#include <string>
#include <string_view>
#include <vector>

namespace localproxy::config::text {

[[nodiscard]] std::string_view trim(std::string_view s);
[[nodiscard]] std::string lower(std::string_view s);
// Splits on `sep`, trimming each piece; keeps empty pieces so callers can reject them.
[[nodiscard]] std::vector<std::string_view> split(std::string_view s, char sep);
[[nodiscard]] bool starts_with_ci(std::string_view s, std::string_view prefix);
// "a: b" — joins a message prefix and its detail.
[[nodiscard]] std::string join(std::string_view what, std::string_view detail);

}  // namespace localproxy::config::text
