// The line syntax shared by --config files and --config-dir files.
#include <cerrno>
#include <cstring>
#include <fstream>

#include "localproxy/config/config_files.hpp"
#include "localproxy/config/usage_error.hpp"
#include "text.hpp"

namespace localproxy::config {

std::vector<config_entry> read_key_value_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw usage_error("config file " + path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<config_entry> entries;
  std::string raw;
  for (std::size_t number = 1; std::getline(in, raw); ++number) {
    const auto line = text::trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    const auto where = "config file " + path + " line " + std::to_string(number);
    if (line.front() == '[')
      throw usage_error(where + ": sections are not supported (expected KEY = VALUE)");
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) throw usage_error(where + ": expected KEY = VALUE");
    config_entry e;
    e.key = std::string(text::trim(line.substr(0, eq)));
    e.value = std::string(text::trim(line.substr(eq + 1)));
    e.line = number;
    if (e.key.empty()) throw usage_error(where + ": the key before '=' is empty");
    entries.push_back(std::move(e));
  }
  if (in.bad()) throw usage_error("config file " + path + ": read error");
  return entries;
}

}  // namespace localproxy::config
