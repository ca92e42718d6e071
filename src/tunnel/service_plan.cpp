#include "localproxy/tunnel/service_plan.hpp"

#include <algorithm>

namespace localproxy::tunnel {
namespace {

using config::proxy_mode;
using config::service_mapping;

service_entry entry(std::string id, service_mapping mapping) {
  service_entry e;
  e.id = std::move(id);
  e.mapping = std::move(mapping);
  return e;
}

std::string joined(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

const char* option_for(proxy_mode mode) { return mode == proxy_mode::source ? "-s" : "-d"; }

service_plan without_service_ids(const std::vector<service_mapping>& mappings) {
  service_plan plan;
  for (const auto& m : mappings) plan.services.push_back(entry(m.service_id, m));
  return plan;
}

// --stdio carries one connection of one service; the tunnel's other services get no listener.
service_plan for_stdio(const service_mapping& m, const std::optional<std::vector<std::string>>& service_ids) {
  service_plan plan;
  if (!service_ids || service_ids->empty()) {
    plan.services.push_back(entry(m.service_id, m));
    return plan;
  }
  const auto& ids = *service_ids;
  if (m.service_id.empty() && ids.size() != 1)
    throw mapping_error("the tunnel has services " + joined(ids) + "; name the one to carry, e.g. --stdio " + ids.front());
  if (!m.service_id.empty() && std::find(ids.begin(), ids.end(), m.service_id) == ids.end())
    throw mapping_error("--stdio " + m.service_id + ": the tunnel has no such service (it has " + joined(ids) + ")");
  plan.services.push_back(entry(m.service_id.empty() ? ids.front() : m.service_id, m));
  return plan;
}

}  // namespace

service_plan plan_services(proxy_mode mode, const std::vector<service_mapping>& mappings,
                           const std::optional<std::vector<std::string>>& service_ids) {
  if (mappings.size() == 1 && mappings.front().stdio) return for_stdio(mappings.front(), service_ids);
  if (!service_ids || service_ids->empty()) return without_service_ids(mappings);
  const auto& ids = *service_ids;
  const bool single_unnamed = mappings.size() == 1 && mappings.front().service_id.empty();
  if (single_unnamed) {
    if (ids.size() != 1)
      throw mapping_error("the tunnel has services " + joined(ids) + "; name each mapping, e.g. " +
                          option_for(mode) + " " + ids.front() + "=PORT");
    service_plan plan;
    plan.services.push_back(entry(ids.front(), mappings.front()));
    return plan;
  }
  service_plan plan;
  for (const auto& id : ids) {
    auto it = std::find_if(mappings.begin(), mappings.end(), [&](const auto& m) { return m.service_id == id; });
    if (it != mappings.end()) {
      plan.services.push_back(entry(id, *it));
    } else if (mode == proxy_mode::source) {
      service_mapping automatic;
      automatic.service_id = id;
      plan.services.push_back(entry(id, automatic));
    } else {
      throw mapping_error("the tunnel has service " + id + " but no -d mapping names it; add -d " + id +
                          "=PORT (tunnel services: " + joined(ids) + ")");
    }
  }
  for (const auto& m : mappings) {
    if (std::find(ids.begin(), ids.end(), m.service_id) == ids.end())
      plan.warnings.push_back("mapping for service " + (m.service_id.empty() ? std::string("(unnamed)") : m.service_id) +
                              " ignored: the tunnel has no such service (it has " + joined(ids) + ")");
  }
  return plan;
}

}  // namespace localproxy::tunnel
