#pragma once
// Turns argv + environment into options, or into a usage error (one line, exit status 2).
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "localproxy/config/options.hpp"

namespace localproxy::config {

// Thrown for every bad input; what() is one line naming the option (or file and line) and what
// is expected.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using environment = std::function<std::optional<std::string>(std::string_view name)>;
[[nodiscard]] environment process_environment();

struct parse_result {
  enum class action { run, help, version, export_settings } what = action::run;
  options opts;                        // complete and validated when what == run
  std::string text;                    // help text, or the version line
  std::vector<std::string> warnings;   // to log once logging is set up (e.g. -t on the command line)
};

// Never logs: main logs the warnings once it has set up logging from opts.verbosity.
[[nodiscard]] parse_result parse_command_line(int argc, const char* const argv[], const environment& env);

}  // namespace localproxy::config
