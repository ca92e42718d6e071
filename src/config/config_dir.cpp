// --config-dir: service mappings kept in files, one directory per device or operator setup.
#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "localproxy/config/config_files.hpp"
#include "localproxy/config/mappings.hpp"
#include "localproxy/config/usage_error.hpp"
#include "localproxy/config/validation.hpp"

namespace localproxy::config {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> regular_files_below(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  if (ec) throw usage_error("--config-dir " + dir + ": cannot list (" + ec.message() + ")");
  // Directory order is arbitrary; sorting makes "the first definition wins" reproducible.
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::vector<service_mapping> read_config_dir(const std::string& dir, proxy_mode mode, bool explicitly_given,
                                             std::vector<std::string>& warnings) {
  std::error_code ec;
  const auto status = fs::status(dir, ec);
  if (!fs::exists(status)) {
    if (explicitly_given) throw usage_error("--config-dir " + dir + ": no such directory");
    return {};
  }
  if (!fs::is_directory(status)) {
    if (explicitly_given) throw usage_error("--config-dir " + dir + ": not a directory");
    return {};
  }
  std::vector<service_mapping> mappings;
  std::set<std::string> seen;
  for (const auto& file : regular_files_below(dir)) {
    // One file's mappings count only when the whole file reads as a mapping file.
    std::vector<service_mapping> from_file;
    try {
      for (const auto& entry : read_key_value_file(file)) {
        const auto where = "config file " + file + " line " + std::to_string(entry.line);
        check_service_id(entry.key, where);
        auto m = parse_mapping_target(entry.value, mode, where);
        m.service_id = entry.key;
        from_file.push_back(std::move(m));
      }
    } catch (const usage_error& e) {
      // The reference reads the default directory too and skips what it cannot parse; a file
      // that merely sits in ./config must not stop the proxy with an error about a directory
      // nobody named.
      if (explicitly_given) throw;
      warnings.push_back(std::string(e.what()) + ": file skipped (" + dir +
                         " is read by default for service mappings; give --config-dir DIR to read another "
                         "directory, or move the file)");
      continue;
    }
    for (auto& m : from_file)
      if (seen.insert(m.service_id).second) mappings.push_back(std::move(m));
  }
  return mappings;
}

}  // namespace localproxy::config
