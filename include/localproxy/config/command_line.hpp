#pragma once
// Turns argv + environment into options, or into a usage error (one line, exit status 2).
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "localproxy/config/options.hpp"
#include "localproxy/config/settings_json.hpp"  // export_settings, which main calls
#include "localproxy/config/usage_error.hpp"

namespace localproxy::config {

using environment = std::function<std::optional<std::string>(std::string_view name)>;
[[nodiscard]] environment process_environment();

struct parse_result {
  enum class action { run, help, version, export_settings, health } what = action::run;
  options opts;                        // complete and validated when what == run
  std::string text;                    // the help text (ends in a newline)
  std::string export_path;             // the file to write when what == export_settings
  std::string health_path;             // the status file to check when what == health
  std::optional<long long> health_max_age_s;  // --health-max-age; nullopt = 3 status periods
  std::vector<std::string> warnings;   // to log once logging is set up (e.g. -t on the command line)
};

// Order of precedence: command line > --config file > environment > defaults.
// Never logs: main logs the warnings once it has set up logging from opts.verbosity.
[[nodiscard]] parse_result parse_command_line(int argc, const char* const argv[], const environment& env);

}  // namespace localproxy::config
