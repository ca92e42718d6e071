// Region -> tunneling service host. The reference replaces its whole override tree with the
// settings file's and so loses the China endpoints; here a settings file merges over the defaults.
#include <algorithm>
#include <array>
#include <limits>

#include "host_port.hpp"
#include "localproxy/config/endpoint.hpp"
#include "localproxy/config/validation.hpp"

namespace localproxy::config {

namespace {

// Where AWS IoT Secure Tunneling runs; tunneling.proxy.extra_regions adds to it.
constexpr std::array<std::string_view, 26> known_regions{
    "us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",      "ca-central-1",   "sa-east-1",
    "eu-west-1",      "eu-west-2",      "eu-west-3",      "eu-central-1",   "eu-north-1",     "eu-south-1",
    "me-south-1",     "me-central-1",   "ap-east-1",      "ap-south-1",     "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "cn-north-1",     "cn-northwest-1",
    "us-gov-west-1",  "us-gov-east-1"};

std::vector<std::string> all_known(const settings& s) {
  std::vector<std::string> out(known_regions.begin(), known_regions.end());
  for (auto& r : split_region_list(s.extra_regions)) out.push_back(std::move(r));
  for (const auto& [region, host] : s.region_endpoint_overrides) out.push_back(region);
  return out;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

std::vector<std::string> split_region_list(std::string_view list) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : std::string(list) + ",") {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  return out;
}

bool is_known_region(std::string_view region, const settings& s) {
  const auto known = all_known(s);
  return std::find(known.begin(), known.end(), region) != known.end();
}

std::string nearest_known_region(std::string_view region, const settings& s) {
  std::string best;
  auto best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto& candidate : all_known(s))
    if (const auto d = edit_distance(region, candidate); d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  return best;
}

std::string unknown_region_warning(std::string_view region, std::string_view what, const settings& s) {
  if (is_known_region(region, s)) return {};
  return std::string(what) + ": " + std::string(region) + " is not a known AWS IoT Secure Tunneling region (did you mean " +
         nearest_known_region(region, s) + "?); trying " + region_endpoint(region, s).host +
         " anyway (if it is a new region, add it to tunneling.proxy.extra_regions in the settings file)";
}

std::string default_region_host(std::string_view region) {
  // China partition regions live under amazonaws.com.cn.
  static constexpr std::array<std::string_view, 2> china{"cn-north-1", "cn-northwest-1"};
  const bool in_china = std::find(china.begin(), china.end(), region) != china.end();
  return "data.tunneling.iot." + std::string(region) + (in_china ? ".amazonaws.com.cn" : ".amazonaws.com");
}

service_endpoint region_endpoint(std::string_view region, const settings& s) {
  service_endpoint ep;
  const auto it = s.region_endpoint_overrides.find(std::string(region));
  if (it == s.region_endpoint_overrides.end()) {
    auto host = s.endpoint_format;
    if (const auto at = host.find("%s"); at != std::string::npos) host.replace(at, 2, region);
    ep.host = host;
    return ep;
  }
  // The reference accepts host:port in an override; so do we.
  const auto what = "tunneling.proxy.region_endpoint_overrides." + it->first;
  auto hp = split_host_port(it->second, what);
  ep.host = hp.host;
  if (hp.port) ep.port = parse_port(*hp.port, what);
  return ep;
}

}  // namespace localproxy::config
