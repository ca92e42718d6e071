#pragma once
// The one list of options: it feeds Boost.Program_options, --help (grouped) and the --config key
// check. Adding an option is one entry in option_table.cpp, with its group; --help places it.
#include <span>
#include <string>
#include <string_view>

namespace localproxy::config::option_table {

// --help's sections, in the order shown. `none` is no section: every option names one (a unit test
// checks), so an entry added without a group fails the tests instead of vanishing from --help.
enum class group { none, general, mode, service, tls, tuning, status, logging };

struct option {
  std::string_view name;   // long name, also the --config file key
  char short_name;         // 0: none
  std::string_view arg;    // placeholder in --help; empty: a flag without a value
  bool repeatable;         // -s / -d may be given several times
  bool in_config_file;     // allowed as a key in a --config file
  std::string_view help;   // --help wraps it to 80 columns
  group section;           // where --help lists it
};

[[nodiscard]] std::span<const option> all();
[[nodiscard]] const option* find(std::string_view name);
[[nodiscard]] std::string_view title(group g);

// "-r/--region" or "--config-dir": how messages name an option given on the command line.
[[nodiscard]] std::string display(std::string_view name);

// At most help_width columns a line.
inline constexpr std::size_t help_width = 80;
[[nodiscard]] std::string help_text();

}  // namespace localproxy::config::option_table
