#pragma once
// Matching the -s/-d mappings against the SERVICE_IDS the tunnel was opened with.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "localproxy/config/options.hpp"
#include "localproxy/tunnel/stream_table.hpp"

namespace localproxy::tunnel {

// The mappings cannot serve this tunnel (exit status 2). what() is one line.
class mapping_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct service_plan {
  std::vector<service_entry> services;  // a source entry with port 0 gets a free port
  std::vector<std::string> warnings;
};

// service_ids: what SERVICE_IDS said, or nullopt when none came (V1 service, or timeout).
[[nodiscard]] service_plan plan_services(config::proxy_mode mode, const std::vector<config::service_mapping>& mappings,
                                         const std::optional<std::vector<std::string>>& service_ids);

}  // namespace localproxy::tunnel
