#pragma once
// The one list of options: it feeds Boost.Program_options, --help and the --config key check.
#include <span>
#include <string>
#include <string_view>

namespace localproxy::config::option_table {

struct option {
  std::string_view name;   // long name, also the --config file key
  char short_name;         // 0: none
  std::string_view arg;    // placeholder in --help; empty: a flag without a value
  bool repeatable;         // -s / -d may be given several times
  bool in_config_file;     // allowed as a key in a --config file
  std::string_view help;   // one line
};

[[nodiscard]] std::span<const option> all();
[[nodiscard]] const option* find(std::string_view name);

// "-r/--region" or "--config-dir": how messages name an option given on the command line.
[[nodiscard]] std::string display(std::string_view name);

[[nodiscard]] std::string help_text();

}  // namespace localproxy::config::option_table
