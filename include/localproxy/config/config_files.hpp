#pragma once
// --config FILE (`long-option = value` lines) and --config-dir DIR (`SERVICE = [host:]port` lines).
#include <cstddef>
#include <string>
#include <vector>

#include "localproxy/config/options.hpp"
#include "localproxy/config/usage_error.hpp"

namespace localproxy::config {

struct config_entry {
  std::string key;    // a long option name, e.g. "region"
  std::string value;  // trimmed
  std::size_t line = 0;
};

// Reads `key = value` lines ('#' or ';' comments, blank lines). Syntax errors name file and line;
// the caller checks keys and values (and names file and line too).
[[nodiscard]] std::vector<config_entry> read_key_value_file(const std::string& path);

// Every regular file below `dir` (recursively, in path order): `SERVICE = port`,
// `SERVICE = host:port` (or, destination only, a Unix socket path). The first definition of a
// service ID wins. When `explicitly_given` (--config-dir), a missing `dir` or a bad line is an
// error; for the implicit default ./config, a missing directory is fine and a file that is not a
// mapping file (an app.yaml beside them) is skipped with a line in `warnings` that says so.
[[nodiscard]] std::vector<service_mapping> read_config_dir(const std::string& dir, proxy_mode mode,
                                                           bool explicitly_given,
                                                           std::vector<std::string>& warnings);

}  // namespace localproxy::config
